"""Time to first frame and capture-to-display latency, in Debian's Chromium.

Latency is read from the frame code in each presented picture (the simulated
camera stamps its capture time in the top rows; see hw/camera/framecode.py):
at every ``requestVideoFrameCallback`` the page reads the code from a canvas and
compares the capture time with the frame's ``expectedDisplayTime`` (when the
compositor expects it on screen) and its ``presentationTime`` (when it was handed
to the compositor), on the same machine and clock. The first-frame figures are
milestones from navigation start, for three kinds of load: the first in a
just-started browser, the same tab opening the page again, and a new private
window (no cache, no connections, a new network context) each time.

    .venv/bin/python -m bench.live [--seconds 20] [--loads 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from itertools import pairwise
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import charts
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, FRAME_CODE_JS, warm_up_webrtc
from testbed.daemon import LOOPBACK_ONLY, start_daemon

CAMERA = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\nbitrate = 2000000\n"

COLLECT_LATENCY_JS = """
(seconds) => new Promise((resolve) => {
  const video = document.getElementById('video');
  const readCode = READ_FRAME_CODE;
  const samples = [];
  const end = performance.now() + seconds * 1000;
  const onFrame = (now, meta) => {
    const code = readCode();
    if (code) {
      const displayed = performance.timeOrigin + meta.expectedDisplayTime;
      const captured = code.captureMs + Math.floor(displayed / 2 ** 32) * 2 ** 32;
      const composited = performance.timeOrigin + meta.presentationTime;
      samples.push({index: code.frameIndex, latency: displayed - captured, composited: composited - captured});
    }
    if (performance.now() < end) video.requestVideoFrameCallback(onFrame); else resolve(samples);
  };
  video.requestVideoFrameCallback(onFrame);
})
""".replace("READ_FRAME_CODE", FRAME_CODE_JS)


# Where the browser's part of the latency goes, from its own statistics (mean ms per frame).
RECEIVER_DELAYS_JS = """
async () => {
  let v = null;
  (await window.edgeViewer.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') v = s;
  });
  const per = (total, count) => (count ? (1000 * total) / count : null);
  return {
    'jitter buffer': per(v.jitterBufferDelay, v.jitterBufferEmittedCount),
    'decode': per(v.totalDecodeTime, v.framesDecoded),
    'first packet to decoded': per(v.totalProcessingDelay, v.framesDecoded),
  };
}
"""


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


# Milestones of one page load, in ms after navigation start: the page's peer connection
# is wrapped before any page script runs, and the WHEP POST is read from resource timing.
MILESTONES_JS = """
(() => {
  const marks = {};
  window.__milestones = marks;
  const mark = (name) => { marks[name] ??= performance.now(); };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    mark('peer connection made');
    const pc = new Native(...args);
    const createOffer = pc.createOffer.bind(pc);
    pc.createOffer = async (...a) => { const o = await createOffer(...a); mark('offer made'); return o; };
    const setRemote = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = async (...a) => { const r = await setRemote(...a); mark('answer applied'); return r; };
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'connected') mark('ICE connected');
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') mark('DTLS connected');
    });
    const addTransceiver = pc.addTransceiver.bind(pc);
    pc.addTransceiver = (...a) => {
      const transceiver = addTransceiver(...a);
      const track = transceiver.receiver.track;
      if (track.kind === 'video') track.addEventListener('unmute', () => mark('first video packet'), { once: true });
      return transceiver;
    };
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""

MILESTONE_ORDER = (
    "page loaded",
    "peer connection made",
    "offer made",
    "POST sent",
    "answer received",
    "answer applied",
    "ICE connected",
    "DTLS connected",
    "first video packet",
    "first frame presented",
)


def page_milestones(page) -> dict[str, float]:
    """This load's milestones (ms after navigation start), for the ones that happened."""
    return page.evaluate(
        """() => {
            const m = {...window.__milestones};
            const nav = performance.getEntriesByType('navigation')[0];
            m['page loaded'] = nav.domContentLoadedEventEnd;
            const post = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/whep'));
            if (post) { m['POST sent'] = post.requestStart; m['answer received'] = post.responseEnd; }
            m['first frame presented'] = window.edgeViewer.firstFrameAt;
            return m;
        }"""
    )


def first_frame_loads(browser, url: str, loads: int, *, new_profile: bool) -> list[dict[str, float]]:
    """Milestones of ``loads`` page loads: each in a new browser context (a new profile: no cache, no
    connections, as a private window), or all in one tab of one profile (as a person opening the page again)."""
    results = []
    context = None
    page = None
    for _ in range(loads):
        if new_profile or context is None:
            if context is not None:
                context.close()
            context = browser.new_context()
            context.add_init_script(MILESTONES_JS)
            page = context.new_page()
        assert page is not None
        page.goto(url)
        page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt", timeout=20000)
        results.append(page_milestones(page))
        page.goto("about:blank")  # the camera's page goes away (its session ends), as when a person leaves it
    if context is not None:
        context.close()
    return results


def print_breakdown(loads: list[dict[str, float]]) -> None:
    """Median time of each milestone, and of the step that leads to it."""
    previous = 0.0
    for name in MILESTONE_ORDER:
        times = [load[name] for load in loads if load.get(name) is not None]
        if not times:
            continue
        at = statistics.median(times)
        print(f"    {name:<24} {at:6.0f} ms  (+{at - previous:.0f})")
        previous = at


def write_charts(
    loads: dict[str, list[dict[str, float]]], samples: list[dict[str, float]], seconds: float
) -> list[Path]:
    """The page loads' first frames (per kind of load) and the frames' latencies, as docs/bench/live-*.png."""
    firsts = {kind: [load["first frame presented"] for load in runs] for kind, runs in loads.items()}
    return [
        charts.first_frames(firsts, charts.chart_path("live-first-frame")),
        charts.latency_histogram([s["latency"] for s in samples], seconds, charts.chart_path("live-latency")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        daemon = start_daemon(LOOPBACK_ONLY + CAMERA, Path(tmp))
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cold = first_frame_loads(browser, daemon.page_url, 1, new_profile=True)
            warm_up_webrtc(browser)
            warm = first_frame_loads(browser, daemon.page_url, args.loads, new_profile=False)
            private = first_frame_loads(browser, daemon.page_url, args.loads, new_profile=True)
            page = browser.new_page()
            page.goto(daemon.page_url)
            page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt", timeout=20000)
            page.wait_for_timeout(2000)
            samples = page.evaluate(COLLECT_LATENCY_JS, args.seconds)
            receiver = page.evaluate(RECEIVER_DELAYS_JS)
            browser.close()
        finally:
            daemon.stop()
    latencies = [s["latency"] for s in samples]
    indexes = [s["index"] for s in samples]
    skipped = sum(b - a - 1 for a, b in pairwise(indexes) if b > a + 1)
    print("Time to first frame (ms after navigation start), 1280x720@30, Chromium on loopback:")
    print(f"  fresh browser (cold WebRTC stack): {cold[0]['first frame presented']:.0f}")
    print_breakdown(cold)
    for what, loads in (
        ("running browser, the same tab", warm),
        ("running browser, a new private window each", private),
    ):
        firsts = [load["first frame presented"] for load in loads]
        print(f"  {what}, {len(loads)} loads: median {statistics.median(firsts):.0f}, max {max(firsts):.0f}")
        print_breakdown(loads)
    print(f"Capture-to-display latency over {args.seconds:.0f} s ({len(samples)} frames presented, {skipped} skipped):")
    for what, values in (
        ("to the frame's expected display (expectedDisplayTime)", latencies),
        ("to its hand-over to the compositor (presentationTime)", [s["composited"] for s in samples]),
    ):
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"  {what}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(values):.0f} ms")
    parts = ", ".join(f"{k} {v:.1f} ms" for k, v in receiver.items() if v is not None)
    print(f"  in Chromium, mean per frame: {parts}")
    kinds = {"fresh browser": cold, "same tab again": warm, "new private window": private}
    write_charts(kinds, samples, args.seconds)


if __name__ == "__main__":
    main()
