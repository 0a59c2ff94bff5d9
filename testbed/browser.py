"""Debian's Chromium, driven by Playwright, as a real viewer of the daemon's page."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
    # Our test daemon offers only 127.0.0.1: let the browser use loopback too.
    "--allow-loopback-in-peer-connection",
]

# Reads what a person would see: the inbound RTP stats and the frame code in the picture.
STATS_JS = """
async () => {
  const pc = window.edgeViewer && window.edgeViewer.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  const out = {video: null, audio: null, codecs: {}};
  report.forEach((s) => {
    if (s.type === 'codec') out.codecs[s.id] = s.mimeType;
    if (s.type === 'inbound-rtp') out[s.kind] = Object.assign({}, s);
  });
  for (const kind of ['video', 'audio']) {
    if (out[kind]) out[kind].mimeType = out.codecs[out[kind].codecId] || null;
  }
  return out;
}
"""

# The frame code (see hw/camera/framecode.py): 64 cells in the top 16 rows, white = 1. Reads the
# live <video> unless given another's CSS selector (a clip playing in the page's player).
FRAME_CODE_JS = """
(selector) => {
  const video = document.querySelector(selector || '#video');
  if (!video || !video.videoWidth) return null;
  const w = video.videoWidth, h = video.videoHeight;
  const canvas = window.__frameCodeCanvas || (window.__frameCodeCanvas = document.createElement('canvas'));
  canvas.width = w; canvas.height = 16;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(video, 0, 0, w, 16, 0, 0, w, 16);
  const data = ctx.getImageData(0, 0, w, 16).data;
  const cell = Math.floor(w / 64);
  let hi = 0, lo = 0;
  for (let i = 0; i < 64; i++) {
    let sum = 0, n = 0;
    for (let y = 4; y < 12; y++) {
      for (let x = i * cell + Math.floor(cell / 4); x < (i + 1) * cell - Math.floor(cell / 4); x++) {
        const p = (y * w + x) * 4;
        sum += 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2]; n++;
      }
    }
    const bit = sum / n > 128 ? 1 : 0;
    if (i < 32) hi = hi * 2 + bit; else lo = lo * 2 + bit;
  }
  return {frameIndex: hi, captureMs: lo, now: Date.now()};
}
"""


def warm_up_webrtc(browser) -> None:
    """Start the browser's WebRTC machinery once, as in a browser that has been running.

    A freshly launched Chromium spends ~300 ms on its first ``createOffer`` (it
    starts its WebRTC threads and makes a certificate); a person's browser has
    usually done that long before opening the camera's page. The bench reports
    the cold figure too.
    """
    page = browser.new_page()
    page.evaluate(
        """async () => {
            const pc = new RTCPeerConnection({iceServers: []});
            pc.addTransceiver('video', {direction: 'recvonly'});
            await pc.setLocalDescription(await pc.createOffer());
            pc.close();
        }"""
    )
    page.close()


class ChromiumPage:
    """A Playwright page with :class:`testbed.firefox.FirefoxPage`'s methods: one scenario drives either browser."""

    def __init__(self, page) -> None:
        self.page = page

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def evaluate(self, expression: str) -> Any:
        return self.page.evaluate(f"() => ({expression})")

    def evaluate_async(self, body: str) -> Any:
        """Runs ``body``, an async function's body; its return value is the result."""
        return self.page.evaluate(f"async () => {{ {body} }}")

    def wait_for(self, expression: str, timeout: float = 15, what: str = "") -> Any:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout  # as conftest: only where a browser runs

        try:
            return self.page.wait_for_function(f"() => ({expression})", timeout=timeout * 1000).json_value()
        except PlaywrightTimeout:
            raise AssertionError(f"timed out after {timeout} s {what or f'waiting for {expression}'}") from None

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({selector!r}).click()")


# The selected candidate pair of the page's peer connection: each end's type, protocol, address ("" for
# a host candidate hidden behind an mDNS name) and, for a relay candidate, how the browser reaches its
# TURN server (relayProtocol: udp, tcp or tls).
SELECTED_PAIR_JS = """
async () => {
  const report = await window.edgeViewer.pc.getStats();
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const end = (id) => {
    const c = report.get(id);
    return {type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol || null,
            address: c.address, url: c.url || null};
  };
  return {local: end(pair.localCandidateId), remote: end(pair.remoteCandidateId),
          bytesReceived: pair.bytesReceived};
}
"""
