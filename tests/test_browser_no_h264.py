"""A browser that cannot play the camera gets a clear, final answer: no retry loop.

Chromium plays a Firefox without the OpenH264 plugin: a script that runs before
the page's own takes H.264 out of what it can receive. Either the browser says
so (``RTCRtpReceiver.getCapabilities``: the page sends its one offer anyway, so
that the camera logs and counts why, and does not retry it whatever the answer),
or it claims H.264 but leaves it out of its offer (the camera refuses the one
offer with ``X-Edge-Reason: no-h264``, and the page stops there).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from tests.test_browser_live import CAMERA_SMALL
from tests.test_whep_bad_input import refusal_warnings

# Runs before the page's scripts. HIDE_CAPS: getCapabilities leaves H.264 out too.
NO_H264_SCRIPT = """
(() => {
  const isH264 = (c) => /^video\\/h264$/i.test(c.mimeType);
  const realCapabilities = RTCRtpReceiver.getCapabilities.bind(RTCRtpReceiver);
  const withoutH264 = (kind) => {
    const caps = realCapabilities(kind);
    if (caps && kind === 'video') caps.codecs = caps.codecs.filter((c) => !isH264(c));
    return caps;
  };
  if (HIDE_CAPS) RTCRtpReceiver.getCapabilities = withoutH264;
  const realCreateOffer = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (...args) {
    for (const t of this.getTransceivers()) {
      if (t.receiver.track.kind === 'video') t.setCodecPreferences(withoutH264('video').codecs);
    }
    return realCreateOffer.apply(this, args);
  };
})();
"""
NO_WEBRTC_SCRIPT = """
for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection']) {
  Object.defineProperty(window, name, { value: undefined, configurable: true, writable: true });
}
"""
FINAL_MS = 2000
PLAYER_CONTROLS = ("#unmute", "#fullscreen", "#stats-toggle", "#stats")


def open_page(chromium, daemon, init_script: str):
    """The page in a new profile with ``init_script``; returns it, the WHEP POSTs it makes, and when it was opened."""
    context = chromium.new_context()
    context.add_init_script(init_script)
    page = context.new_page()
    posts: list[str] = []
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and urlsplit(r.url).path.endswith("/whep") else None,
    )
    opened = time.monotonic()
    page.goto(daemon.page_url)
    return page, posts, opened


def wait_final(page, kind: str, opened: float) -> str:
    """Wait for the final message (at most FINAL_MS after opening the page); returns the status text."""
    remaining_ms = FINAL_MS - (time.monotonic() - opened) * 1000
    assert remaining_ms > 0, "the page took its whole time budget to load"
    page.wait_for_function(
        f"() => window.edgeViewer && window.edgeViewer.unsupported === '{kind}'", timeout=remaining_ms
    )
    elapsed_ms = (time.monotonic() - opened) * 1000
    assert elapsed_ms < FINAL_MS, f"final message after {elapsed_ms:.0f} ms"
    assert page.evaluate("window.edgeViewer.state") == "error"
    for selector in PLAYER_CONTROLS:
        assert not page.is_visible(selector), f"{selector} shown although this browser cannot play the camera"
    return page.inner_text("#status")


def assert_no_h264_message(text: str) -> None:
    assert "cannot play the camera's H.264 video" in text, text
    assert "OpenH264" in text and "Always Activate" in text and "Add-ons and themes" in text, text
    assert "Chrome" in text and "Safari" in text, text
    assert "retrying" not in text, text


def test_a_browser_that_says_it_has_no_h264_offers_once_so_the_camera_can_log_it(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page, posts, opened = open_page(chromium, daemon, NO_H264_SCRIPT.replace("HIDE_CAPS", "true"))
    assert_no_h264_message(wait_final(page, "no-h264", opened))
    lines = refusal_warnings(daemon, at_least=1)
    assert len(lines) == 1 and "400 no-h264" in lines[0], "\n".join(lines)
    page.wait_for_timeout(6000)  # the old page retried every 5 s
    assert len(posts) == 1, f"{len(posts)} WHEP POSTs"
    assert daemon.health()["refused_offers"]["by_reason"] == {"no-h264": 1}
    page.context.close()


def test_an_offer_without_h264_is_refused_once_and_not_retried(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page, posts, opened = open_page(chromium, daemon, NO_H264_SCRIPT.replace("HIDE_CAPS", "false"))
    assert_no_h264_message(wait_final(page, "no-h264", opened))
    claims = "RTCRtpReceiver.getCapabilities('video').codecs.some((c) => c.mimeType === 'video/H264')"
    assert page.evaluate(claims), "the browser should still claim H.264 here"
    assert len(posts) == 1
    assert "no H.264" in page.evaluate("window.edgeViewer.lastError")

    page.wait_for_timeout(6000)  # the old page retried every 5 s
    assert len(posts) == 1, f"{len(posts)} WHEP POSTs: the page retried"
    assert_no_h264_message(page.inner_text("#status"))

    user_agent = page.evaluate("navigator.userAgent")
    lines = refusal_warnings(daemon, at_least=1)
    assert len(lines) == 1, "\n".join(lines)
    assert "400 no-h264" in lines[0] and user_agent in lines[0], lines[0]
    assert daemon.health()["refused_offers"]["by_reason"] == {"no-h264": 1}
    page.context.close()


def test_a_browser_without_webrtc_is_told_so_and_gets_no_player_controls(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page, posts, opened = open_page(chromium, daemon, NO_WEBRTC_SCRIPT)
    text = wait_final(page, "no-webrtc", opened)
    assert "WebRTC is not available in this browser" in text, text
    page.keyboard.press("s")  # the stats shortcut does nothing either
    assert not page.is_visible("#stats")
    assert posts == []
    page.context.close()
