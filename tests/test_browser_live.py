"""A real Chromium opens the page and watches the live stream."""

from __future__ import annotations

import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from testbed.browser import FRAME_CODE_JS, STATS_JS

CAMERA_720P = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\n"
CAMERA_SMALL = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\n"


def open_viewer(chromium, daemon, url: str | None = None, *, bypass_csp: bool = False):
    """A new browser profile opening the page; by default with the token, as the daemon prints it.
    ``bypass_csp``: the page's Content-Security-Policy set aside, for measurements that inject code."""
    context = chromium.new_context(bypass_csp=bypass_csp)
    page = context.new_page()
    page.goto(url or daemon.page_url)
    return page


def wait_live(page, timeout_ms: int = 15000) -> None:
    try:
        page.wait_for_function(
            "() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null"
            " && window.edgeViewer.firstFrameAt !== undefined",
            timeout=timeout_ms,
        )
    except PlaywrightTimeout as error:
        state = page.evaluate("() => JSON.stringify({...window.edgeViewer, pc: undefined, lipSync: undefined})")
        raise AssertionError(f"no video within {timeout_ms} ms; the page: {state}") from error


def stats(page) -> dict:
    return page.evaluate(STATS_JS)


def wait_for_stats(page, predicate, timeout: float = 15.0) -> dict:
    """Poll the page's getStats() until ``predicate`` holds (an event we cannot subscribe to)."""
    deadline = time.monotonic() + timeout
    while True:
        s = stats(page)
        if s and predicate(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached; last stats: {s}")
        page.wait_for_timeout(100)


def test_live_video_and_audio_in_chromium(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_720P)
    # Time to first frame, from the start of the page load: the median of three
    # loads, so that one hiccup of a busy machine does not decide.
    first_frames = []
    for _ in range(3):
        page = open_viewer(chromium, daemon)
        wait_live(page)
        first_frames.append(page.evaluate("window.edgeViewer.firstFrameAt"))
        page.context.close()
    assert sorted(first_frames)[1] < 1000, f"first frames at {first_frames} ms after page load"

    page = open_viewer(chromium, daemon)
    wait_live(page)
    s = wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 0)
    assert s["video"]["mimeType"] == "video/H264"
    assert (s["video"]["frameWidth"], s["video"]["frameHeight"]) == (1280, 720)

    # Frame rate over 5 s, as the browser decoded it.
    t0, f0 = s["video"]["timestamp"], s["video"]["framesDecoded"]
    page.wait_for_timeout(5000)
    s = stats(page)
    fps = (s["video"]["framesDecoded"] - f0) / ((s["video"]["timestamp"] - t0) / 1000)
    assert fps >= 0.9 * 30, f"{fps:.1f} fps decoded"

    # Sound: the person unmutes (autoplay starts muted); Opus arrives and carries
    # the simulated microphone's tone (-20 dBFS: an audio level of 0.1).
    page.click("#unmute")
    assert page.evaluate("document.getElementById('video').muted") is False
    s = wait_for_stats(page, lambda s: s["audio"] and s["audio"].get("totalAudioEnergy", 0) > 0)
    assert s["audio"]["mimeType"] == "audio/opus"
    s = wait_for_stats(page, lambda s: s["audio"].get("audioLevel", 0) > 0.03)
    assert s["audio"]["concealedSamples"] < s["audio"]["totalSamplesReceived"] * 0.2

    # The frame code in the picture advances, and was captured moments ago.
    first = page.evaluate(FRAME_CODE_JS)
    page.wait_for_timeout(500)
    second = page.evaluate(FRAME_CODE_JS)
    assert second["frameIndex"] > first["frameIndex"]
    assert abs((second["now"] & 0xFFFFFFFF) - second["captureMs"]) < 2000


def test_several_viewers_at_once(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    pages = [open_viewer(chromium, daemon) for _ in range(3)]
    for page in pages:
        wait_live(page)
    for page in pages:
        s = wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 30)
        assert (s["video"]["frameWidth"], s["video"]["frameHeight"]) == (640, 360)
    assert daemon.health()["viewers"] == 3
    frame_codes = [p.evaluate(FRAME_CODE_JS)["frameIndex"] for p in pages]
    assert max(frame_codes) - min(frame_codes) < 30  # all watch the same live camera


def test_viewer_joining_mid_gop_gets_a_keyframe_at_once(chromium, daemon_factory):
    # A keyframe every 60 s: without an IDR on request the viewer would wait up to a minute.
    daemon = daemon_factory(CAMERA_SMALL + "keyframe_interval = 60\n")
    frames_before = daemon.health()["camera"]["frames"]
    page = open_viewer(chromium, daemon)
    wait_live(page)
    first_frame_ms = page.evaluate("window.edgeViewer.firstFrameAt")
    # Generous for a loaded machine, and still far from the 60 s a periodic keyframe would take.
    assert first_frame_ms < 5000, f"first frame after {first_frame_ms:.0f} ms; daemon log:\n{daemon.log()[-3000:]}"
    joined_at = page.evaluate(FRAME_CODE_JS)["frameIndex"]
    assert joined_at > 0 and joined_at >= frames_before  # not the camera's first (periodic) keyframe
    assert daemon.health()["camera"]["keyframes_forced"] >= 1
