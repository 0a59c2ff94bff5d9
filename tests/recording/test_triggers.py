"""GPIO triggers end to end in one process: mock pins -> debounce -> recorder -> MP4 on disk.

The fake camera's frames carry the frame code with their (fake) capture time, so
each clip's first and last frames can be compared with the edges that made it.
"""

from __future__ import annotations

import pytest

from testbed.media import FRAME_US, decode_frame_codes, until
from tests.recording.rig import Rig

pytestmark = pytest.mark.timeout(60)

PRE_MS = POST_MS = 1000
GOP_MS = 500  # 15 frames at 30 fps
DOOR = {"name": "door", "pin": 17, "pull": "up", "active": "low", "debounce_ms": 20, "mode": "event"}
PIR = {"name": "pir", "pin": 27, "pull": "down", "active": "high", "debounce_ms": 20, "mode": "hold"}
LED_PIN = 22


def check_clip(rig: Rig, clip, start_ms: int, end_ms: int) -> None:
    """Contiguous frames; the first a keyframe at most one GOP before ``start_ms``; the last just before ``end_ms``.

    (Frame codes carry capture times in whole milliseconds.)
    """
    codes = decode_frame_codes(rig.path(clip))
    indexes = [c[0] for c in codes]
    assert codes[0][2], "a clip starts with a keyframe"
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), "no frame missing or repeated"
    first_ms, last_ms = codes[0][1], codes[-1][1]
    assert start_ms - GOP_MS - 1 <= first_ms <= start_ms
    assert end_ms - FRAME_US / 1000 - 1 <= last_ms <= end_ms


async def test_event_mode_records_pre_and_post_seconds_around_the_press(tmp_path):
    async with Rig(tmp_path, triggers=[DOOR]) as rig:
        await rig.camera.run_for(2)
        pressed_ms = rig.clock.now_us // 1000
        rig.pin(17).drive_low()
        await rig.settle_input("door", True)
        assert rig.recorder.recording
        rig.pin(17).drive_high()  # released at once: an event input does not care
        await rig.settle_input("door", False)
        await rig.camera.run_for(3)
        (clip,) = await rig.finished_clips()
        assert clip.trigger == "door" and clip.ended_by == "finished" and clip.has_audio
        check_clip(rig, clip, pressed_ms - PRE_MS, pressed_ms + POST_MS)


async def test_hold_mode_records_while_active_then_post_seconds(tmp_path):
    async with Rig(tmp_path, triggers=[PIR]) as rig:  # active high, pulled down
        await rig.camera.run_for(2)
        start_ms = rig.clock.now_us // 1000
        rig.pin(27).drive_high()
        await rig.settle_input("pir", True)
        await rig.camera.run_for(3)  # far beyond post_seconds: still recording while held
        assert rig.recorder.recording and rig.recorder.status()["reasons"] == [{"name": "pir", "held": True}]
        released_ms = rig.clock.now_us // 1000
        rig.pin(27).drive_low()
        await rig.settle_input("pir", False)
        await rig.camera.run_for(2)
        (clip,) = await rig.finished_clips()
        check_clip(rig, clip, start_ms - PRE_MS, released_ms + POST_MS)


async def test_a_retrigger_extends_the_clip_instead_of_starting_another(tmp_path):
    async with Rig(tmp_path, triggers=[DOOR, PIR]) as rig:
        await rig.camera.run_for(2)
        first_ms = rig.clock.now_us // 1000
        rig.pin(17).drive_low()
        await rig.settle_input("door", True)
        rig.pin(17).drive_high()
        await rig.camera.run_for(0.8)
        second_ms = rig.clock.now_us // 1000
        rig.pin(17).drive_low()  # the doorbell again, 0.8 s later
        await rig.settle_input("door", True)
        rig.pin(27).drive_high()  # and the PIR sensor, briefly
        await rig.settle_input("pir", True)
        rig.pin(27).drive_low()
        await rig.settle_input("pir", False)
        await rig.camera.run_for(3)
        (clip,) = await rig.finished_clips()
        assert clip.trigger == "door" and clip.triggers == ["door", "pir"]
        check_clip(rig, clip, first_ms - PRE_MS, second_ms + POST_MS)


async def test_a_bouncing_button_makes_one_clip_timed_from_the_edge_that_stayed(tmp_path):
    async with Rig(tmp_path, triggers=[DOOR]) as rig:
        await rig.camera.run_for(2)
        for _ in range(4):
            rig.pin(17).drive_low()
            rig.clock.now_us += 1000
            rig.pin(17).drive_high()
            rig.clock.now_us += 1000
        pressed_ms = rig.clock.now_us // 1000
        rig.pin(17).drive_low()
        await rig.settle_input("door", True)
        await rig.camera.run_for(3)
        (clip,) = await rig.finished_clips()
        check_clip(rig, clip, pressed_ms - PRE_MS, pressed_ms + POST_MS)


async def test_the_led_is_lit_while_recording(tmp_path):
    async with Rig(tmp_path, recording={"led_pin": LED_PIN}, triggers=[DOOR]) as rig:
        await rig.camera.run_for(2)
        assert rig.pin(LED_PIN).state is False
        rig.pin(17).drive_low()
        await rig.settle_input("door", True)
        assert rig.pin(LED_PIN).state is True
        await rig.camera.run_for(0.5)
        assert rig.pin(LED_PIN).state is True
        await rig.camera.run_for(2)
        await until(lambda: not rig.recorder.recording)
        assert rig.pin(LED_PIN).state is False


async def test_an_input_held_at_start_up_records_in_hold_mode(tmp_path):
    rig = Rig(tmp_path, triggers=[{**PIR, "pull": "none"}])  # (a mock pin's pull would drive it)
    rig.pin(27).drive_high()  # the sensor is already active when the daemon starts
    async with rig:
        await rig.camera.run_for(1)
        assert rig.recorder.recording
        rig.pin(27).drive_low()
        await rig.settle_input("pir", False)
        await rig.camera.run_for(2)
        (clip,) = await rig.finished_clips()
        assert clip.trigger == "pir"
