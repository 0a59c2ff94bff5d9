"""Debian's Firefox ESR watches the camera's page: H.264 through the OpenH264 plugin, Opus,
with and without mDNS host candidates, an ICE restart in place, a clip played back."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator

import pytest

from testbed.browser import FRAME_CODE_JS, STATS_JS
from testbed.clips import CAMERA, drive, play_in_the_recordings_panel, wait_buffered, wait_finished
from testbed.daemon import start_daemon
from testbed.firefox import FirefoxPage, firefox
from testbed.netns.topology import CameraNamespace
from tests.test_browser_live import CAMERA_720P
from tests.test_whep_bad_input import refusal_warnings

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def stats(page: FirefoxPage) -> dict:
    return page.evaluate_async(f"return await ({STATS_JS})();")


def wait_stats(page: FirefoxPage, condition: str, timeout: float = 20) -> dict:
    """Until ``condition`` (JavaScript over ``s``, the page's inbound stats) holds; returns the stats."""
    deadline_js = f"""
        const until = performance.now() + {timeout * 1000};
        while (performance.now() < until) {{
            const s = await ({STATS_JS})();
            if (s && ({condition})) return s;
            await new Promise((r) => setTimeout(r, 100));
        }}
        return {{timedOut: true, last: await ({STATS_JS})()}};
    """
    result = page.evaluate_async(deadline_js)
    assert not result.get("timedOut"), f"not reached: {condition}; last stats: {result.get('last')}"
    return result


def frame_index(page: FirefoxPage) -> int:
    code = page.evaluate(f"({FRAME_CODE_JS})()")
    assert code, "no picture to read the frame code from"
    return code["frameIndex"]


def wait_live(page: FirefoxPage, timeout: float = 20) -> None:
    page.wait_for("window.edgeViewer && window.edgeViewer.firstFrameAt !== null", timeout, what="the first frame")


@contextlib.contextmanager
def camera_in_a_namespace(tmp_path) -> Iterator[str]:
    """The daemon on a host of its own (a network namespace): yields the page's URL.

    Firefox hiding its addresses behind mDNS names never pairs with a loopback
    candidate, and a real camera is never on loopback: so that case runs here.
    """
    if os.geteuid() != 0:
        pytest.fail("a network namespace needs root: run make test as root, as CI does")
    namespace = CameraNamespace()
    try:
        link = namespace.add_links(1)[0]
        config = CAMERA_720P + f'[webrtc]\ninterfaces = ["{link.camera_if}"]\n'
        daemon = start_daemon(config, tmp_path, prefix=namespace.exec_prefix, host="0.0.0.0")
        try:
            yield f"http://{link.camera_address}:{daemon.port}/?token={daemon.token}"
        finally:
            daemon.stop()
    finally:
        namespace.close()


@pytest.mark.parametrize(
    "mdns",
    [
        pytest.param(True, marks=pytest.mark.root, id="mdns-host-candidates"),
        pytest.param(False, id="plain-host-candidates"),
    ],
)
def test_firefox_plays_the_camera_with_sound(daemon_factory, tmp_path, mdns):
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(camera_in_a_namespace(tmp_path)) if mdns else daemon_factory(CAMERA_720P).page_url
        page = stack.enter_context(firefox(mdns=mdns))
        first_frames = []
        for _ in range(3):  # the median of three loads: a cold profile's first is slower
            page.goto(url)
            wait_live(page)
            first_frames.append(page.evaluate("window.edgeViewer.firstFrameAt"))
        assert statistics.median(first_frames) < 1000, f"first frames at {first_frames} ms after navigation"

        s = wait_stats(page, "s.video && s.video.framesDecoded > 30")
        assert s["video"]["mimeType"] == "video/H264"
        assert (s["video"]["frameWidth"], s["video"]["frameHeight"]) == (1280, 720)
        s = wait_stats(page, "s.audio && s.audio.packetsReceived > 25")  # half a second of Opus
        assert s["audio"]["mimeType"] == "audio/opus"

        before = frame_index(page)
        page.wait_for(f"({FRAME_CODE_JS})().frameIndex >= {before + 15}", 10, what="the frame code to advance")
        decoded = stats(page)["video"]["framesDecoded"]
        print(
            f"Firefox ({'mDNS' if mdns else 'plain'} candidates): first frames {first_frames} ms, "
            f"{decoded} frames decoded"
        )


def test_firefox_plays_a_recorded_clip_in_the_recordings_panel(daemon_factory):
    daemon = daemon_factory(
        CAMERA + '[recording]\npre_seconds = 1\npost_seconds = 1\n[[triggers]]\nname = "doorbell"\npin = 17\n'
        'mode = "hold"\n'
    )
    wait_buffered(daemon, 2)
    drive(daemon, 17, True)
    with firefox(mdns=False) as page:  # loopback: see camera_in_a_namespace
        page.goto(daemon.page_url)
        wait_live(page)
        drive(daemon, 17, False)
        clip = wait_finished(daemon)[0]
        play_in_the_recordings_panel(page, clip["name"])


def test_an_ice_restart_in_firefox_keeps_the_same_peer_connection(daemon_factory):
    daemon = daemon_factory(CAMERA_720P)
    with firefox(mdns=False) as page:  # loopback: see camera_in_a_namespace
        page.goto(daemon.page_url)
        wait_live(page)
        page.evaluate("window.__pcBefore = window.edgeViewer.pc")
        result = page.evaluate_async("await window.edgeViewer.restartIce(); return 'restarted';")
        assert result == "restarted", result
        assert page.evaluate("window.edgeViewer.pc === window.__pcBefore"), "a new peer connection"
        assert page.evaluate("window.edgeViewer.sessionsStarted") == 1
        (session,) = daemon.health()["sessions"]
        assert session["ice"]["restarts"] == 1, session  # the daemon answered one restart PATCH
        before = frame_index(page)
        page.wait_for(f"({FRAME_CODE_JS})().frameIndex >= {before + 15}", 10, what="frames after the restart")


def test_firefox_without_openh264_is_told_what_to_do_after_one_offer(daemon_factory):
    daemon = daemon_factory(CAMERA_720P)
    with firefox(openh264=False, mdns=False) as page:
        page.goto(daemon.page_url)
        page.wait_for("document.readyState === 'complete'", 10)
        loaded = page.evaluate("performance.now()")
        page.wait_for("window.edgeViewer && window.edgeViewer.unsupported === 'no-h264'", 10, what="the final message")
        shown_after_ms = page.evaluate("performance.now()") - loaded
        text = page.evaluate("document.getElementById('status').textContent")
        assert "OpenH264" in text and "retrying" not in text, text
        assert shown_after_ms < 2000, f"final message {shown_after_ms:.0f} ms after the page loaded"
        lines = refusal_warnings(daemon, at_least=1)
        assert len(lines) == 1 and "400 no-h264" in lines[0] and "Firefox" in lines[0], "\n".join(lines)
        page.evaluate_async("await new Promise((r) => setTimeout(r, 6000)); return true;")  # the old page retried
        assert daemon.health()["refused_offers"]["total"] == 1, "the page offered again"
