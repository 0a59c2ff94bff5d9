"""Measuring A/V sync with the simulated devices' sync mode (``[simulation] av_sync = true``).

At every whole second of the daemon's clock the simulated camera captures a white
frame and the simulated microphone starts a 1 kHz beep over silence (see
``hw/camera/simulated.py``, ``hw/microphone/simulated.py``). An event's offset is
*beep onset time - flash time*: positive when the sound comes late.

In Chromium (:func:`browser_offsets`), both on the page's ``performance.now()`` clock:

- flash: ``requestVideoFrameCallback`` on the page's ``<video>``; the frame is
  drawn to a small canvas and its brightness read; the time is the frame's
  ``expectedDisplayTime`` (when the compositor expects it on screen).
- beep: the time the page's ``<video>`` element plays it. The received audio
  track (the same ``MediaStreamTrack`` the element plays) also goes through
  ``createMediaStreamSource`` into an AudioWorklet that finds the first sample
  above a threshold after silence, sample-accurately, as a time on the
  AudioContext's clock (``currentFrame + i``); ``getOutputTimestamp()`` and the
  context's own latencies turn that into the ``performance.now()`` at which the
  context took the sample from the track, to which the element's own audio
  playout delay (``media-playout`` stats) is added. The element pulls samples
  from WebRTC no later than WebAudio's source sees them (that source buffers a
  little more), so the figure errs on the side of late sound. The context runs at
  WebRTC's 48 kHz: a resampler in between added 10-20 ms more, most under load. Timing the
  context's own output instead would add WebAudio's output path, which is not
  what a person hears from the page (10-35 ms more here).

In a recording (:func:`recording_offsets`): the clip is decoded with PyAV; flash
= a frame whose mean luma (below the frame code) jumps to white, at its pts;
beep = the first decoded sample above the threshold after silence, at its
frame's pts plus its index; both through their streams' time bases.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from hw.camera.framecode import BAND_ROWS
from testbed.browser import FRAME_CODE_JS
from testbed.clips import recordings_dir, wait_finished
from testbed.daemon import DaemonProcess

FPS = 30
CONFIG = f"[camera]\nwidth = 640\nheight = 360\nframerate = {FPS}\n[simulation]\nav_sync = true\n"
THRESHOLD = 0.05  # of full scale; the beep peaks at 0.32 (-10 dBFS), silence decodes to ~0
QUIET_S = 0.3  # silence needed before an onset counts (the beep lasts 50 ms, one comes a second)
WHITE = 200  # mean luma (or RGB) of a flash frame: the test picture averages about 110
PAIR_MS = 500  # a flash and a beep further apart than this are different events

_WORKLET = f"""
class Onset extends AudioWorkletProcessor {{
  constructor() {{ super(); this.rearm = Math.round({QUIET_S} * sampleRate); this.quiet = 0; }}
  process(inputs) {{
    const x = inputs[0][0];
    for (let i = 0; x && i < x.length; i++) {{
      if (Math.abs(x[i]) < {THRESHOLD}) {{ this.quiet++; continue; }}
      if (this.quiet >= this.rearm) this.port.postMessage((currentFrame + i) / sampleRate);
      this.quiet = 0;
    }}
    return true;
  }}
}}
registerProcessor('avsync-onset', Onset);
"""

# Starts collecting into window.avsync, in ms on the performance.now() clock: flashes (expected display times),
# their capture times (from the frame code, on the same machine's clock) and beeps (output times).
START_JS = """
async (worklet) => {
  const readCode = FRAME_CODE_JS;
  const video = document.getElementById('video');
  const track = window.edgeViewer.pc.getReceivers().find((r) => r.track.kind === 'audio').track;
  const ctx = new AudioContext({latencyHint: 'interactive', sampleRate: 48000});  // WebRTC's rate: no resampler
  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([worklet], {type: 'text/javascript'})));
  await ctx.resume();
  const onset = new AudioWorkletNode(ctx, 'avsync-onset');
  ctx.createMediaStreamSource(new MediaStream([track])).connect(onset).connect(ctx.destination);
  const out = window.avsync = {flashes: [], captures: [], beeps: [], baseLatency: ctx.baseLatency, outputLatency: []};
  onset.port.onmessage = (e) => {
    const ts = ctx.getOutputTimestamp();  // when the context's output plays what it renders now
    const outputTime = ts.performanceTime + (e.data - ts.contextTime) * 1000;
    out.beeps.push(outputTime - (ctx.baseLatency + ctx.outputLatency) * 1000);  // when it took the sample
    out.outputLatency.push(ctx.outputLatency);
  };
  const canvas = new OffscreenCanvas(16, 9);
  const c2d = canvas.getContext('2d', {willReadFrequently: true});
  let white = false;
  const onFrame = (now, meta) => {
    const band = BAND_ROWS;  // the frame code, in the video's own pixels
    c2d.drawImage(video, 0, band, video.videoWidth, video.videoHeight - band, 0, 0, 16, 9);
    const px = c2d.getImageData(0, 0, 16, 9).data;
    let sum = 0;
    for (let p = 0; p < px.length; p += 4) sum += 0.299 * px[p] + 0.587 * px[p + 1] + 0.114 * px[p + 2];
    const isWhite = sum / (px.length / 4) > WHITE;
    if (isWhite && !white) {
      const code = readCode();
      const displayed = performance.timeOrigin + meta.expectedDisplayTime;
      const captured = code.captureMs + Math.floor(displayed / 2 ** 32) * 2 ** 32;
      out.flashes.push(meta.expectedDisplayTime);
      out.captures.push(captured - performance.timeOrigin);
    }
    white = isWhite;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}
"""
START_JS = START_JS.replace("FRAME_CODE_JS", FRAME_CODE_JS).replace("BAND_ROWS", str(BAND_ROWS))
START_JS = START_JS.replace("WHITE", str(WHITE))


# The element's audio sink: its mean delay from taking samples from WebRTC to playing them.
ELEMENT_PLAYOUT_DELAY_JS = """
async () => {
  let ms = 0;
  (await window.edgeViewer.pc.getStats()).forEach((s) => {
    if (s.type === 'media-playout' && s.totalSamplesCount) ms = 1000 * s.totalPlayoutDelay / s.totalSamplesCount;
  });
  return ms;
}
"""


def _p95(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


@dataclass(frozen=True)
class Offsets:
    """Per-event offsets (beep - flash) in milliseconds, and what was seen to get them.

    In the browser also each paired event's capture-to-display latency of the flash and
    capture-to-output latency of the beep (capture time read from the flash's frame code).
    """

    offsets_ms: list[float]
    flashes: int
    beeps: int
    video_latency_ms: list[float] = field(default_factory=list)
    audio_latency_ms: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.offsets_ms)

    def summary(self) -> str:
        o = self.offsets_ms
        lines = [
            f"{len(o)} events ({self.flashes} flashes, {self.beeps} beeps): offset median {self.median:+.1f} ms, "
            f"p95 {_p95(o):+.1f}, min {min(o):+.1f}, max {max(o):+.1f}"
        ]
        for what, values in (
            ("flash capture->display", self.video_latency_ms),
            ("beep capture->output", self.audio_latency_ms),
        ):
            if values:
                lines.append(f"  {what}: median {statistics.median(values):.1f} ms, p95 {_p95(values):.1f}")
        return "\n".join(lines)


def pair(flashes_ms: list[float], beeps_ms: list[float]) -> list[tuple[int, float]]:
    """(index of the flash, beep - flash) for each beep with a flash within ``PAIR_MS``."""
    out = []
    for beep in beeps_ms:
        nearest = min(range(len(flashes_ms)), key=lambda i: abs(beep - flashes_ms[i]), default=None)
        if nearest is not None and abs(beep - flashes_ms[nearest]) < PAIR_MS:
            out.append((nearest, beep - flashes_ms[nearest]))
    return out


def listen(page, settled_ms: float = 40, checks: int = 4, timeout_s: float = 30) -> None:
    """Unmute the page as a person would, and wait until the browser's lip sync has caught up: video and
    sound within ``settled_ms`` of each other by Chromium's own measure, ``checks`` times in a row."""
    page.click("#unmute")
    page.wait_for_function(
        """([ms, checks]) => {
            const l = window.edgeViewer.lipSync;
            window.__settled = l.active && Math.abs(l.lagMs ?? Infinity) < ms ? (window.__settled ?? 0) + 1 : 0;
            return window.__settled >= checks;
        }""",
        arg=[settled_ms, checks],
        timeout=timeout_s * 1000,
        polling=500,
    )


def start_browser_measurement(page) -> None:
    """Start watching a live page (``edgeViewer`` showing a daemon in sync mode), opened with
    Playwright's ``bypass_csp``: the page's Content-Security-Policy refuses the measurement's
    worklet, a ``blob:`` script (and Playwright cannot answer a worklet's own request)."""
    page.evaluate(START_JS, _WORKLET)


def browser_offsets(page, events: int, timeout_s: float) -> Offsets:
    """Wait until ``events`` flash/beep pairs were seen after :func:`start_browser_measurement`."""
    page.wait_for_function(
        "(n) => Math.min(window.avsync.flashes.length, window.avsync.beeps.length) >= n",
        arg=events + 1,
        timeout=timeout_s * 1000,
        polling=200,
    )
    seen = page.evaluate("() => window.avsync")
    playout_ms = page.evaluate(ELEMENT_PLAYOUT_DELAY_JS)
    flashes, captures = seen["flashes"], seen["captures"]
    pairs = pair(flashes, [beep + playout_ms for beep in seen["beeps"]])
    return Offsets(
        [offset for _, offset in pairs],
        len(flashes),
        len(seen["beeps"]),
        [flashes[i] - captures[i] for i, _ in pairs],
        [flashes[i] + offset - captures[i] for i, offset in pairs],
    )


def record_clip(daemon: DaemonProcess, seconds: float) -> Path:
    """A manual clip of ``seconds`` (plus whatever pre-roll is configured), once finished."""
    daemon.request("POST", "/api/recordings", json={"seconds": seconds}).raise_for_status()
    (clip,) = wait_finished(daemon, 1, timeout=seconds + 30)
    return recordings_dir(daemon) / clip["name"]


def recording_offsets(path: Path) -> Offsets:
    """Flash and beep times of a clip from its decoded frames, in the streams' time bases."""
    flashes_ms: list[float] = []
    beeps_ms: list[float] = []
    white = False
    quiet = 0  # samples since the last loud one
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0], container.streams.audio[0]):
            if not isinstance(frame, (av.VideoFrame, av.AudioFrame)) or frame.time is None:
                continue
            if isinstance(frame, av.VideoFrame):
                is_white = bool(frame.to_ndarray(format="gray")[BAND_ROWS:].mean() > WHITE)
                if is_white and not white:
                    flashes_ms.append(frame.time * 1000)
                white = is_white
                continue
            raw = frame.to_ndarray().reshape(-1)
            samples = raw / 32768 if raw.dtype.kind == "i" else raw
            for i in np.flatnonzero(np.abs(samples) >= THRESHOLD):
                if quiet + i >= QUIET_S * frame.sample_rate:
                    beeps_ms.append((frame.time + i / frame.sample_rate) * 1000)
                quiet = -int(i) - 1
            quiet += len(samples)
    return Offsets([offset for _, offset in pair(flashes_ms, beeps_ms)], len(flashes_ms), len(beeps_ms))
