"""Publishing over WHIP to a real media server: Debian's Janus (VideoRoom) behind Meetecho's
simple-whip-server, both started here (``testbed/whip_rig.py``), watched by Chromium through
Janus's own janus.js (``testbed/janus_viewer.py``)."""

from __future__ import annotations

import time

import pytest

from testbed.browser import FRAME_CODE_JS, STATS_JS
from testbed.clips import wait_for
from testbed.janus_viewer import open_janus_viewer, viewer_state, wait_for_video
from tests.publish.conftest import open_page_settled, publishing_daemon, target, wait_for_target

pytestmark = pytest.mark.timeout(180)


def test_a_janus_viewer_sees_the_camera_with_sound(chromium, daemon_factory, rig):
    daemon = publishing_daemon(daemon_factory, rig)
    wait_for_target(daemon, lambda t: t["state"] == "publishing", 30, "publishing")
    page = open_janus_viewer(chromium, rig)
    wait_for_video(page)
    first = page.evaluate(FRAME_CODE_JS)
    stats = wait_for(
        lambda: page.evaluate(STATS_JS),
        lambda s: s["video"]["framesDecoded"] > 60 and (s["audio"] or {}).get("packetsReceived", 0) > 50,
        30,
        "60 frames decoded and 50 audio packets",
    )
    second = page.evaluate(FRAME_CODE_JS)
    assert stats["video"]["mimeType"] == "video/H264"
    assert (stats["video"]["frameWidth"], stats["video"]["frameHeight"]) == (640, 360)
    assert stats["audio"]["mimeType"] == "audio/opus"
    assert first is not None and second is not None and second["frameIndex"] > first["frameIndex"], (first, second)
    status = target(daemon)
    assert status["sessions"] == 1 and status["bytes_sent"] > 100_000, status
    assert "janus" in daemon.request("GET", "/metrics").text.split('edge_publish_state{state="publishing",target="')[1]


def test_publishing_resumes_within_5_s_of_janus_coming_back_and_the_viewer_rejoins(chromium, daemon_factory, rig):
    daemon = publishing_daemon(daemon_factory, rig)
    wait_for_target(daemon, lambda t: t["state"] == "publishing", 30, "publishing")
    page = open_janus_viewer(chromium, rig)
    wait_for_video(page)
    subscriptions = viewer_state(page)["subscriptions"]

    rig.kill_janus()
    wait_for_target(daemon, lambda t: t["state"] != "publishing", 15, "the daemon to notice Janus is gone")
    rig.start_janus(wait_for_whip_server=False)
    back = time.monotonic()
    wait_for_target(daemon, lambda t: t["state"] == "publishing" and t["sessions"] == 2, 20, "publishing again")
    resumed_s = time.monotonic() - back
    wait_for_video(page, subscriptions=subscriptions + 1)
    assert resumed_s < 5, f"publishing resumed {resumed_s:.1f} s after Janus was back\n{daemon.log()[-3000:]}"


def test_a_wrong_token_is_reported_and_not_retried_in_a_loop(chromium, daemon_factory, rig):
    daemon = publishing_daemon(daemon_factory, rig, token="not-the-token-0000")
    refused = wait_for_target(daemon, lambda t: t["state"] == "refused", 30, "the refusal")
    assert refused["last_error"] == "403 Unauthorized" and refused["failures"] == 1, refused
    assert refused["retry_in_s"] > 55, refused  # the next try in a minute, not sooner
    assert daemon.health()["status"] == "degraded"
    assert "publish janus: refused: 403 Unauthorized; trying again in" in daemon.log()
    # The owner sees it on the page's stats panel too.
    page = open_page_settled(chromium, daemon.page_url + "&stats=1")
    panel = "() => Object.fromEntries([...document.querySelectorAll('[data-stat]')].map((e) => [e.dataset.stat,"
    panel += " e.textContent]))"
    try:
        wait_for(lambda: page.evaluate(panel), lambda p: p["publish"] == "janus refused (403 Unauthorized)", 30, "it")
    except AssertionError as error:
        viewer = page.evaluate("() => JSON.stringify({...window.edgeViewer, pc: undefined, lipSync: undefined})")
        raise AssertionError(f"{error}\nthe page: {viewer}\ndaemon log:\n{daemon.log()[-3000:]}") from None


def test_a_stopped_daemon_ends_its_session_so_the_next_publishes_at_once(daemon_factory, rig):
    first = publishing_daemon(daemon_factory, rig)
    wait_for_target(first, lambda t: t["state"] == "publishing", 30, "publishing")
    assert first.stop() == 0  # SIGTERM: the session is DELETEd on the way out
    # A second camera on the same endpoint (simple-whip-server allows one publisher at a time).
    second = publishing_daemon(daemon_factory, rig)
    published = wait_for_target(second, lambda t: t["state"] in ("publishing", "refused"), 30, "an answer")
    assert published["state"] == "publishing" and published["failures"] == 0, published


def test_after_a_crash_the_stale_session_is_ended_and_publishing_starts_at_once(daemon_factory, rig):
    first = publishing_daemon(daemon_factory, rig)
    wait_for_target(first, lambda t: t["state"] == "publishing", 30, "publishing")
    first.proc.kill()  # as a power cut would: no DELETE; the server still holds the session
    first.proc.wait()
    again = publishing_daemon(daemon_factory, rig, state_from=first)
    published = wait_for_target(again, lambda t: t["state"] in ("publishing", "refused"), 30, "an answer")
    assert published["state"] == "publishing" and published["failures"] == 0, published
    assert "publish janus: ending the session left from before" in again.log()
