"""Motion as a trigger, end to end: the simulated camera's moving object makes a clip called "motion"."""

from __future__ import annotations

import pytest

from testbed.clips import (
    CAMERA,
    assert_contiguous,
    clips,
    recordings_dir,
    simulate,
    wait_buffered,
    wait_finished,
    wait_for,
    wall_frame_codes,
)
from testbed.daemon import DaemonProcess

pytestmark = pytest.mark.timeout(120)

PRE_S, POST_S, HOLD_S, KEYFRAME_INTERVAL_S = 1.0, 1.0, 1.0, 1.0
CONFIG = (
    CAMERA
    + f"[recording]\npre_seconds = {PRE_S}\npost_seconds = {POST_S}\n"
    + f"[motion]\nenabled = true\nhold_seconds = {HOLD_S}\n"
)


def motion(daemon: DaemonProcess) -> dict:
    return daemon.health()["motion"]


def test_a_moving_object_makes_a_motion_clip_with_pre_and_post_roll(daemon_factory):
    daemon = daemon_factory(CONFIG)
    wait_buffered(daemon, PRE_S + KEYFRAME_INTERVAL_S)
    assert motion(daemon)["active"] is False and clips(daemon) == []

    began = simulate(daemon, "/api/sim/motion", {"active": True})
    # The detector's thread says "active" a moment before the daemon's loop counts the event and holds the recording.
    seen = wait_for(lambda: motion(daemon), lambda m: m["events"] >= 1, 15, "motion to be seen")
    assert seen["active"] and seen["events"] == 1
    assert daemon.health()["recording"]["reasons"] == [{"name": "motion", "held": True}]
    frames = daemon.health()["camera"]["frames"]
    wait_for(daemon.health, lambda h: h["camera"]["frames"] >= frames + 30, 15, "a second of motion")
    stopped = simulate(daemon, "/api/sim/motion", {"active": False})
    wait_for(lambda: motion(daemon), lambda m: not m["active"], 15, "motion to end")

    (clip,) = wait_finished(daemon)
    assert clip["trigger"] == "motion" and clip["has_audio"], clip
    metrics = daemon.request("GET", "/metrics").text
    assert "edge_motion_events_total 1.0" in metrics and "edge_motion_active 0.0" in metrics
    codes = wall_frame_codes(recordings_dir(daemon) / clip["name"])
    assert codes[0][2], "the first frame is a keyframe"
    assert_contiguous(codes)
    first, last = codes[0][1], codes[-1][1]
    # Motion is dated from the last picture before it: the pre-roll counts from no later than it began.
    assert first <= began - PRE_S + 0.001, f"pre-roll {began - first:.3f} s"
    assert first >= began - PRE_S - KEYFRAME_INTERVAL_S - 0.5, f"pre-roll {began - first:.3f} s"
    # It ends post_seconds after the last picture with motion (within a picture of the object leaving).
    assert abs(last - (stopped + POST_S)) <= 0.5, f"ended {last - stopped:.3f} s after the motion stopped"


def test_a_change_of_light_alone_records_nothing(daemon_factory):
    daemon = daemon_factory(CONFIG)
    pictures = wait_for(lambda: motion(daemon), lambda m: m["pictures"] >= 5, 15, "the detector to look")["pictures"]
    simulate(daemon, "/api/sim/lighting", {"brightness": 1.4})
    after = wait_for(lambda: motion(daemon), lambda m: m["pictures"] >= pictures + 15, 15, "3 s of pictures")
    assert after["events"] == 0 and not after["active"], after
    assert clips(daemon) == []
    assert daemon.request("POST", "/api/sim/lighting", json={"brightness": 9}).status_code == 400
    assert "brightness" in daemon.request("POST", "/api/sim/lighting", json={"brightness": "x"}).text


def test_the_page_shows_a_marker_while_motion_is_seen(daemon_factory, chromium):
    daemon = daemon_factory(CONFIG.replace(f"hold_seconds = {HOLD_S}", "hold_seconds = 0.5"))
    page = chromium.new_context().new_page()
    page.goto(daemon.page_url)
    page.wait_for_function("() => window.edgeRecordings && window.edgeRecordings.motion !== null")
    assert page.is_hidden("#motion-badge")
    simulate(daemon, "/api/sim/motion", {"active": True})
    page.wait_for_selector("#motion-badge:not([hidden])", timeout=15000)
    assert page.text_content("#motion-badge") == "motion"
    page.wait_for_function("() => window.edgeRecordings.flashes.includes('motion')")  # the trigger firing, briefly
    assert page.text_content("#trigger-flash") == "⚡ motion"
    simulate(daemon, "/api/sim/motion", {"active": False})
    page.wait_for_selector("#motion-badge", state="hidden", timeout=15000)
    page.context.close()
