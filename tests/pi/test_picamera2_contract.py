"""The Pi camera adapter against picamera2's own code: its encoders, its Output, its requests.

Each test runs for picamera2 as Raspberry Pi OS Trixie ships it and as the oldest we
support, as a Pi 5 (libx264 through PyAV, really encoding) and as a Pi 4 (the V4L2
encoder, over a fake /dev/video11 that records every ioctl). Only libcamera and the
sensor are stand-ins (tests/pi/stubs, tests/pi/fake_picamera2.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from edge.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, profile_level_id, split_nal_units
from edge.media.supervisor import Supervisor
from hw.camera import CameraError, CameraSettings, H264AccessUnit
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.picamera2_ext import boottime_minus_monotonic_us
from tests.pi.fake_picamera2 import FakeCamera

SMALL = CameraSettings(width=640, height=480, framerate=30, bitrate=1_000_000, keyframe_interval=60)


def pi_camera(settings: CameraSettings = SMALL, camera_class: type[FakeCamera] = FakeCamera) -> PiCamera:
    return PiCamera(settings, open_camera=lambda: open_picamera2(camera_class))


def the_camera() -> FakeCamera:
    assert len(FakeCamera.opened) == 1, f"{len(FakeCamera.opened)} cameras opened"
    return FakeCamera.opened[0]


async def collect(camera: PiCamera, count: int, on_unit=None, timeout: float = 30) -> list[H264AccessUnit]:
    """``count`` access units from a running camera (``on_unit(index)`` after each), then stop it."""
    units: list[H264AccessUnit] = []
    stream = camera.frames()
    try:
        async with asyncio.timeout(timeout):
            async for unit in stream:
                units.append(unit)
                if on_unit:
                    on_unit(len(units) - 1)
                if len(units) == count:
                    break
    except TimeoutError:
        fake = FakeCamera.opened[-1] if FakeCamera.opened else None
        raise AssertionError(
            f"{len(units)} of {count} access units; camera loop error: {fake and fake.loop_error!r}"
        ) from None
    finally:
        await stream.aclose()
    return units


def is_idr_with_headers(unit: H264AccessUnit) -> bool:
    types = {nal_type(n) for n in split_nal_units(unit.data)}
    return unit.keyframe and {NAL_IDR, NAL_SPS, NAL_PPS} <= types


async def test_a_keyframe_request_gives_an_idr_within_two_frames_and_the_stream_goes_on(pi):
    camera = pi_camera()
    asked_at = []

    def ask_once(index: int) -> None:
        if index == 10:
            asked_at.append(the_camera().frames_encoded)  # frames already in the encoder's hands
            camera.request_keyframe()

    units = await collect(camera, 40, ask_once)
    fake = the_camera()
    assert fake.loop_error is None, f"picamera2's camera loop died: {fake.loop_error!r}"
    idrs = [i for i, unit in enumerate(units) if i > 10 and is_idr_with_headers(unit)]
    assert idrs, "no IDR after the request"
    assert idrs[0] - asked_at[0] <= 2, f"IDR at frame {idrs[0]}, asked when {asked_at[0]} were encoded"
    assert len(units) == 40  # and it went on
    if pi.device is not None:
        assert pi.device.controls.get("V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME") == 1
    assert fake.closed


@pytest.mark.parametrize("framerate", [15, 30, 60])
async def test_the_pi5_encoder_keeps_to_the_bitrate_at_any_frame_rate(pi5, framerate):
    """x264 budgets bits per declared frame: the frame rate must be told, or 15 fps gets half."""
    settings = CameraSettings(width=640, height=480, framerate=framerate, bitrate=1_000_000, keyframe_interval=2)
    FastCamera = type("FastCamera", (FakeCamera,), {"paced": False})
    seconds = 6
    units = await collect(pi_camera(settings, FastCamera), seconds * framerate)
    # The first second is rate control settling in; measure the rest.
    steady = units[framerate:]
    duration_s = (steady[-1].timestamp_us - steady[0].timestamp_us) / 1e6 + 1 / framerate
    bitrate = sum(len(u.data) for u in steady) * 8 / duration_s
    assert 0.8 * settings.bitrate <= bitrate <= 1.2 * settings.bitrate, f"{bitrate / 1e3:.0f} kbit/s at {framerate} fps"


async def test_the_stream_is_constrained_baseline(pi):
    units = await collect(pi_camera(), 3)
    if pi.device is None:  # x264 really encodes: read its SPS
        sps = next(n for n in split_nal_units(units[0].data) if nal_type(n) == NAL_SPS)
        plid = profile_level_id(sps)
        assert plid[:2] == "42" and int(plid[2:4], 16) & 0x40, f"profile-level-id {plid}: not Constrained Baseline"
    else:  # the VideoCore encoder is told so
        assert (
            pi.device.controls["V4L2_CID_MPEG_VIDEO_H264_PROFILE"] == 1
        )  # V4L2_MPEG_VIDEO_H264_PROFILE_CONSTRAINED_BASELINE


async def test_timestamps_are_the_sensors_capture_times_on_our_clock(pi):
    units = await collect(pi_camera(), 20)
    fake = the_camera()
    offset_us = boottime_minus_monotonic_us()
    expected = [ns // 1000 - offset_us for ns in fake.sensor_timestamps_ns[: len(units)]]
    errors_us = [unit.timestamp_us - want for unit, want in zip(units, expected, strict=True)]
    assert max(map(abs, errors_us)) <= 1000, f"capture time errors (µs): {errors_us}"
    # and they were captured before they were delivered, by the sensor-to-encoder lag
    assert all(unit.timestamp_us < time.monotonic_ns() // 1000 for unit in units)


async def test_the_pi4_encoder_gets_the_settings_as_v4l2_controls(pi4):
    settings = CameraSettings(width=1280, height=720, framerate=25, bitrate=3_000_000, keyframe_interval=2)
    await collect(pi_camera(settings), 5)
    controls = pi4.device.controls
    assert controls["V4L2_CID_MPEG_VIDEO_BITRATE"] == 3_000_000
    assert controls["V4L2_CID_MPEG_VIDEO_H264_I_PERIOD"] == 50  # 2 s at 25 fps
    assert controls["V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER"] == 1  # SPS/PPS before every IDR
    assert controls["V4L2_CID_MPEG_VIDEO_H264_PROFILE"] == 1
    assert "V4L2_CID_MPEG_VIDEO_H264_LEVEL" not in controls  # 720p25 fits the driver's default level
    formats = [details for name, details in pi4.device.log if name == "VIDIOC_S_FMT"]
    assert (formats[0]["width"], formats[0]["height"], formats[0]["pixelformat"]) == (1280, 720, "YU12")


async def test_the_camera_keeps_picamera2s_video_buffer_count(pi):
    await collect(pi_camera(), 2)
    assert the_camera().video_configuration_args["buffer_count"] >= 6  # encoder + queue hold some


async def test_no_camera_is_a_clear_error(pi):
    NoCamera = type("NoCamera", (FakeCamera,), {"cameras": ()})
    with pytest.raises(CameraError, match="no camera found"):
        await collect(pi_camera(camera_class=NoCamera), 1)
    assert FakeCamera.opened == []


@pytest.mark.parametrize("fail_in", ["configure", "start"])
async def test_a_start_that_fails_half_way_closes_the_camera(pi, fail_in):
    Failing = type("Failing", (FakeCamera,), {"fail_in": fail_in})
    with pytest.raises(CameraError, match="cannot start the Pi camera"):
        await collect(pi_camera(camera_class=Failing), 1)
    assert the_camera().closed


@pytest.mark.slow  # waits out a 10 s camera start
async def test_a_start_beyond_the_limit_is_retried_and_closed_when_it_ends(pi5):
    """A camera that takes 10 s to start: with a 2 s start limit the supervisor gives up and
    retries; the slow start, when it ends, is closed; no camera is left open."""
    Slow = type("Slow", (FakeCamera,), {"start_delay_s": 10.0})
    camera = pi_camera(camera_class=Slow)
    delivered: list[H264AccessUnit] = []
    supervisor = Supervisor(
        "camera (test)", camera.frames, delivered.append, stall_timeout=1, start_timeout=2, backoff=(60, 60)
    )
    task = asyncio.create_task(supervisor.run())
    try:
        async with asyncio.timeout(60):
            while not FakeCamera.opened:
                await asyncio.sleep(0)  # opened on a worker thread at once
            assert await asyncio.to_thread(FakeCamera.opened[0].closed_event.wait, 60), "never closed"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert supervisor.restarts >= 1 and "did not start: no data for 2 s" in supervisor.last_error
    assert [c.closed for c in FakeCamera.opened] == [True]
