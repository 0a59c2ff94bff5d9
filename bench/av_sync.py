"""A/V sync in Chromium and in a recording, with the simulated devices' sync mode.

Once a second the simulated camera captures a white frame and the simulated
microphone starts a beep at the same instant; the offset of an event is beep
minus flash (positive: sound late). What exactly is measured: ``testbed/avsync.py``.
Also printed: Chromium's own view of where audio and video wait (``getStats``,
averaged over the session) and the AudioContext's latencies.

    .venv/bin/python -m bench.av_sync [--events 20] [--clip-seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from testbed.avsync import CONFIG, browser_offsets, listen, record_clip, recording_offsets, start_browser_measurement
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.daemon import LOOPBACK_ONLY, start_daemon

# Mean jitter-buffer delay per kind and the audio device's playout delay, in ms, since the session started; and
# how far Chromium itself believes audio plays behind video: the difference of the capture times (by the sender
# reports' NTP mapping) of what each track plays now (estimatedPlayoutTimestamp).
DELAYS_JS = """
async () => {
  const out = {}, playing = {};
  (await window.edgeViewer.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') {
      out[s.kind + ' jitter buffer'] = 1000 * s.jitterBufferDelay / s.jitterBufferEmittedCount;
      playing[s.kind] = s.estimatedPlayoutTimestamp;
    }
    if (s.type === 'media-playout') out['audio playout'] = 1000 * s.totalPlayoutDelay / s.totalSamplesCount;
  });
  out['audio behind video by the sender reports'] = playing.video - playing.audio;
  out['AudioContext baseLatency'] = 1000 * window.avsync.baseLatency;
  out['AudioContext outputLatency'] = 1000 * window.avsync.outputLatency.at(-1);
  return out;
}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20, help="flash/beep pairs to see in the browser")
    parser.add_argument("--clip-seconds", type=float, default=10, help="length of the recording (one event a second)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        daemon = start_daemon(LOOPBACK_ONLY + CONFIG + "[recording]\npre_seconds = 0\n", Path(tmp))
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm_up_webrtc(browser)
            page = browser.new_page(bypass_csp=True)  # the measurement's worklet is a blob: script
            page.goto(daemon.page_url)
            page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt", timeout=20000)
            start_browser_measurement(page)
            muted = browser_offsets(page, args.events, timeout_s=args.events + 30)
            listen(page)
            page.evaluate("() => { for (const k of ['flashes', 'captures', 'beeps']) window.avsync[k] = []; }")
            live = browser_offsets(page, args.events, timeout_s=args.events + 30)
            delays = page.evaluate(DELAYS_JS)
            browser.close()
            recorded = recording_offsets(record_clip(daemon, args.clip_seconds))
        finally:
            daemon.stop()
    print("A/V offset (beep - flash) in Chromium, 640x360@30, loopback, muted (frames shown on arrival):")
    print(muted.summary())
    print("... and unmuted (lip sync):")
    print(live.summary())
    print("  per event, in order (ms):", " ".join(f"{o:+.0f}" for o in live.offsets_ms))
    print("  Chromium's delays (ms):", ", ".join(f"{k} {v:.1f}" for k, v in delays.items()))
    print("A/V offset (beep - flash) in a recording:")
    print(recorded.summary())


if __name__ == "__main__":
    main()
