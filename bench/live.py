"""Time to first frame and capture-to-presentation latency, in Debian's Chromium.

Latency is read from the frame code in each presented picture (the simulated
camera stamps its capture time in the top rows; see hw/camera/framecode.py):
at every ``requestVideoFrameCallback`` the page reads the code from a canvas and
compares the capture time with the frame's ``expectedDisplayTime``, on the
same machine and clock.

    .venv/bin/python -m bench.live [--seconds 20] [--loads 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from itertools import pairwise
from pathlib import Path

from playwright.sync_api import sync_playwright

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
      samples.push({index: code.frameIndex, latency: displayed - captured});
    }
    if (performance.now() < end) video.requestVideoFrameCallback(onFrame); else resolve(samples);
  };
  video.requestVideoFrameCallback(onFrame);
})
""".replace("READ_FRAME_CODE", FRAME_CODE_JS)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def first_frame_times(browser, url: str, loads: int) -> list[float]:
    times = []
    for _ in range(loads):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt", timeout=20000)
        times.append(page.evaluate("window.edgeViewer.firstFrameAt"))
        context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        daemon = start_daemon(LOOPBACK_ONLY + CAMERA, Path(tmp))
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cold = first_frame_times(browser, daemon.page_url, 1)[0]
            warm_up_webrtc(browser)
            warm = first_frame_times(browser, daemon.page_url, args.loads)
            page = browser.new_page()
            page.goto(daemon.page_url)
            page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt", timeout=20000)
            page.wait_for_timeout(2000)
            samples = page.evaluate(COLLECT_LATENCY_JS, args.seconds)
            browser.close()
        finally:
            daemon.stop()
    latencies = [s["latency"] for s in samples]
    indexes = [s["index"] for s in samples]
    skipped = sum(b - a - 1 for a, b in pairwise(indexes) if b > a + 1)
    print("Time to first frame (ms after navigation start), 1280x720@30, Chromium on loopback:")
    print(f"  fresh browser (cold WebRTC stack): {cold:.0f}")
    print(f"  running browser, {len(warm)} loads: median {statistics.median(warm):.0f}, max {max(warm):.0f}")
    print(
        f"Capture-to-presentation latency over {args.seconds:.0f} s "
        f"({len(samples)} frames presented, {skipped} skipped):"
    )
    print(
        f"  p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
