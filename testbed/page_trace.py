"""What a viewer's page saw, recorded in the page itself: its video statistics every 100 ms and every
presented frame's frame code, across the page's new peer connections.

:data:`RECORD_JS` is an init script (it runs before the page's own): every 100 ms it reads the current
peer connection's (``window.edgeViewer.pc``) inbound video ``getStats()``, numbering the peer
connections as the page makes new ones; at each ``requestVideoFrameCallback`` it reads the frame code
(``testbed/browser.py``'s FRAME_CODE_JS) and keeps the frame's capture-to-display latency (its
``expectedDisplayTime`` against the capture time in the code, as ``bench.live`` does: one machine, one
clock). It also notes every WHEP POST's answer (status and ``Location``: the session's id), and can make
the POST ask for a quality (``?quality=``) whatever the page would ask. :class:`Trace` reads it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from testbed.browser import FRAME_CODE_JS

# window.__trace = {samples: [[at, pc, width, height, framesDecoded, freezeCount, totalFreezesDuration,
# keyFramesDecoded, bytesReceived, nackCount, pliCount], ...], frames: [[at, frame index, latency ms, width], ...],
# posts: [{at, status, location}, ...]}; ``at`` in ms (Date.now()).
RECORD_JS = """
(() => {
  const QUALITY = __QUALITY__;
  const trace = (window.__trace = {samples: [], frames: [], posts: []});
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (resource, init) => {
    if (typeof resource !== 'string' || !init || init.method !== 'POST') return nativeFetch(resource, init);
    const url = new URL(resource, document.baseURI);
    if (!url.pathname.endsWith('/whep')) return nativeFetch(resource, init);
    if (QUALITY) url.searchParams.set('quality', QUALITY);
    const response = await nativeFetch(url.href, init);
    trace.posts.push({at: Date.now(), status: response.status, location: response.headers.get('Location')});
    return response;
  };
  const read = READ_FRAME_CODE;
  let video = null;
  const onFrame = (now, meta) => {
    const code = read();
    if (code) {
      const displayed = performance.timeOrigin + meta.expectedDisplayTime;
      const captured = code.captureMs + Math.floor(displayed / 2 ** 32) * 2 ** 32;
      trace.frames.push([Date.now(), code.frameIndex, displayed - captured, meta.width]);
    }
    video.requestVideoFrameCallback(onFrame);
  };
  let current = null;
  let index = -1;
  setInterval(async () => {
    if (!video && (video = document.getElementById('video'))) video.requestVideoFrameCallback(onFrame);
    const pc = window.edgeViewer && window.edgeViewer.pc;
    if (!pc) return;
    if (pc !== current) { current = pc; index += 1; }
    const at = Date.now(), pcIndex = index;
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      trace.samples.push([at, pcIndex, s.frameWidth || 0, s.frameHeight || 0, s.framesDecoded || 0,
        s.freezeCount || 0, s.totalFreezesDuration || 0, s.keyFramesDecoded || 0, s.bytesReceived || 0,
        s.nackCount || 0, s.pliCount || 0]);
    });
  }, 100);
})();
""".replace("READ_FRAME_CODE", FRAME_CODE_JS)


def record_js(quality: str | None = None) -> str:
    """The init script; ``quality``: what every WHEP POST asks for (``?quality=``), or None: what the page asks."""
    return RECORD_JS.replace("__QUALITY__", json.dumps(quality))


class Sample(NamedTuple):
    at: float  # seconds (Unix time)
    pc: int  # which of the page's peer connections, from 0
    width: int
    height: int
    frames_decoded: int
    freeze_count: int
    freeze_s: float  # totalFreezesDuration
    keyframes: int
    bytes: int
    nacks: int
    plis: int


class Frame(NamedTuple):
    at: float  # seconds (Unix time), when the page saw it presented
    frame_index: int  # from the frame code
    latency_ms: float  # capture to expected display
    width: int


# A frame code read off a damaged picture (decoded from a keyframe with slices missing) gives nonsense: a
# latency outside these bounds is no latency.
PLAUSIBLE_LATENCY_MS = (-50.0, 30_000.0)


# Chromium's freeze: a frame shown for longer than max(3 x, + 150 ms) the mean frame duration; at 30 fps 183 ms.
FREEZE_S = max(3 / 30, 1 / 30 + 0.150)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as ``bench.live`` prints it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Trace:
    samples: list[Sample]
    frames: list[Frame]
    posts: list[dict]  # the WHEP POSTs' answers: at (ms), status, location

    @classmethod
    def read(cls, page: Any) -> Trace:
        raw = page.evaluate("window.__trace")
        return cls(
            [Sample(s[0] / 1000, *s[1:]) for s in raw["samples"]],
            [Frame(f[0] / 1000, f[1], f[2], f[3]) for f in raw["frames"]],
            raw["posts"],
        )

    @property
    def session_ids(self) -> list[str]:
        """The WHEP sessions the page started (the last part of each ``Location``)."""
        return [post["location"].rstrip("/").rsplit("/", 1)[-1] for post in self.posts if post["location"]]

    def first_sample(self, width: int, after: float = 0.0) -> Sample | None:
        """The first sample at or after ``after`` whose frame is ``width`` wide."""
        return next((s for s in self.samples if s.at >= after and s.width == width), None)

    def increase(self, field: str, start: float, end: float) -> float:
        """How much a counter of the video statistics grew from ``start`` to ``end``, summed over the
        page's peer connections (each counts from 0)."""
        total = 0.0
        for pc in {s.pc for s in self.samples}:
            mine = [s for s in self.samples if s.pc == pc]
            before = [getattr(s, field) for s in mine if s.at <= start]
            until = [getattr(s, field) for s in mine if s.at <= end]
            if until:
                total += until[-1] - (before[-1] if before else 0)
        return total

    def frame_rate(self, start: float, end: float) -> float:
        return self.increase("frames_decoded", start, end) / (end - start)

    def frames_within(self, start: float, end: float) -> list[Frame]:
        return [f for f in self.frames if start <= f.at <= end]

    def longest_gap_s(self, start: float, end: float) -> float:
        """The longest time without a new frame presented, from ``start`` to ``end`` (its ends included)."""
        times = [start, *(f.at for f in self.frames_within(start, end)), end]
        return max(b - a for a, b in pairwise(times))

    def stalled_s(self, start: float, end: float) -> float:
        """How long the page showed no new frame, from ``start`` to ``end``: every pause between presented frames
        longer than FREEZE_S, whole. Chromium's own ``totalFreezesDuration`` misses a picture that hardly moves
        at all (it measures against the frame rate it has seen, and counts a freeze when it ends) and restarts
        with each new peer connection; this counts those too, and also the page's own rendering pauses on a busy
        machine (a few tenths of a second a minute here)."""
        times = [start, *(f.at for f in self.frames_within(start, end)), end]
        return sum(b - a for a, b in pairwise(times) if b - a > FREEZE_S)

    def latencies_ms(self, start: float, end: float) -> list[float]:
        low, high = PLAUSIBLE_LATENCY_MS
        return [f.latency_ms for f in self.frames_within(start, end) if low <= f.latency_ms <= high]

    def unreadable_frames(self, start: float, end: float) -> int:
        """Frames presented whose code made no sense (a damaged picture)."""
        return len(self.frames_within(start, end)) - len(self.latencies_ms(start, end))

    def width_changes(self, start: float, end: float) -> list[tuple[float, int]]:
        """(when, new width) each time the decoded width changed (0, nothing decoded yet, is not a width)."""
        changes: list[tuple[float, int]] = []
        last = 0
        for s in self.samples:
            if s.width and s.width != last:
                if last and start <= s.at <= end:
                    changes.append((s.at, s.width))
                last = s.width
        return changes

    def widths(self, start: float, end: float) -> set[int]:
        return {s.width for s in self.samples if start <= s.at <= end and s.width}
