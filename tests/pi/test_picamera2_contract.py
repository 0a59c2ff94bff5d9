"""The Pi camera adapter against picamera2's own code: its encoders, its Output, its requests.

Each test runs for picamera2 as Raspberry Pi OS Trixie ships it and as the oldest we
support, as a Pi 5 (libx264 through PyAV, really encoding) and as a Pi 4 (the V4L2
encoder, over a fake /dev/video11 that records every ioctl). Only libcamera and the
sensor are stand-ins (testbed/picamera2_stubs, testbed/fake_picamera2.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time

import numpy as np
import pytest

from edge.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, profile_level_id, split_nal_units
from edge.media.supervisor import Supervisor
from hw.camera import LUMA_SIZE, CameraError, CameraSettings, H264AccessUnit, LumaFrame
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.picamera2_ext import boottime_minus_monotonic_us
from testbed.fake_picamera2 import FakeCamera, lores_luma

SMALL = CameraSettings(width=640, height=480, framerate=30, bitrate=1_000_000, keyframe_interval=60)
# Frames as fast as they encode; their sensor timestamps still 1/framerate apart.
FastCamera = type("FastCamera", (FakeCamera,), {"paced": False})


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
    sensor_us = [ns // 1000 - offset_us for ns in fake.sensor_timestamps_ns]
    # each unit is one frame's (a loaded machine may make the Pi 5's encoder drop one: the frames are matched)
    errors_us = [min(abs(unit.timestamp_us - at) for at in sensor_us) for unit in units]
    assert max(errors_us) <= 1000, f"capture time errors (µs): {errors_us}"
    assert all(a.timestamp_us < b.timestamp_us for a, b in itertools.pairwise(units))
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


@pytest.mark.parametrize("framerate", [15, 30, 60])
async def test_the_pi4_encoder_runs_at_the_cameras_frame_rate(pi4, framerate):
    """The driver's rate control spends the bitrate over the frames it expects a second: 30 unless told."""
    settings = CameraSettings(width=640, height=480, framerate=framerate, bitrate=1_000_000, keyframe_interval=2)
    await collect(pi_camera(settings, FastCamera), 3)
    assert pi4.device.encoder_framerate == framerate


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


def sensor_frame(fake: FakeCamera, timestamp_us: int) -> int:
    """The index of the sensor's frame captured at ``timestamp_us`` (our clock)."""
    offset_us = boottime_minus_monotonic_us()
    found = [i for i, ns in enumerate(fake.sensor_timestamps_ns) if abs(ns // 1000 - offset_us - timestamp_us) <= 1000]
    assert len(found) == 1, f"{timestamp_us} µs is not one sensor frame's time: {found}"
    return found[0]


async def test_with_a_luma_sink_picamera2_configures_lores_beside_main_and_encodes_main(pi):
    camera = pi_camera()
    camera.watch_luma(lambda frame: None, 5)
    encoders: list = []
    await collect(camera, 3, lambda index: encoders.extend(the_camera()._encoders))
    fake = the_camera()
    assert fake.video_configuration_args["lores"] == {"size": LUMA_SIZE, "format": "YUV420"}
    config = fake.camera_config  # what picamera2 made of it (create_video_configuration, check_camera_config)
    assert (config["lores"]["size"], config["lores"]["format"]) == ((320, 240), "YUV420")
    assert (config["main"]["size"], config["main"]["format"]) == ((640, 480), "YUV420")
    assert config["encode"] == "main" and fake.stream_map["lores"] is not None
    assert {encoder.name for encoder in encoders} == {"main"}
    assert {(encoder.width, encoder.height) for encoder in encoders} == {(640, 480)}
    if pi.device is not None:  # the VideoCore encoder is given main's pictures
        formats = [details for name, details in pi.device.log if name == "VIDIOC_S_FMT"]
        assert (formats[0]["width"], formats[0]["height"]) == (640, 480)
    assert camera.luma_error is None


@pytest.mark.parametrize("fps", [5, 12])
async def test_the_lores_y_plane_reaches_the_luma_sink_at_the_asked_rate(pi, fps):
    camera = pi_camera(camera_class=FastCamera)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, fps)
    units = await collect(camera, 90)
    fake = the_camera()
    assert fake.loop_error is None, f"picamera2's camera loop died: {fake.loop_error!r}"
    # The rate, over the frames the sensor gave (30 a second of sensor time)
    produced = len(fake.sensor_timestamps_ns)
    assert abs(len(frames) - produced * fps / 30) <= 1, f"{len(frames)} pictures from {produced} frames"
    indices = [sensor_frame(fake, frame.timestamp_us) for frame in frames]
    assert indices[0] == 0
    gaps = {b - a for a, b in itertools.pairwise(indices)}
    assert gaps <= {30 // fps, -(-30 // fps)}, f"frames between pictures: {gaps}"
    # The pixels: the lores buffer's Y plane of that frame, still so after the buffers were refilled
    for frame, index in zip(frames, indices, strict=True):
        assert frame.pixels.shape == (240, 320) and frame.pixels.dtype == np.uint8
        assert frame.pixels.flags.owndata, "a view of the camera's buffer, not a copy"
        np.testing.assert_array_equal(frame.pixels, lores_luma(index, 320, 240), err_msg=f"frame {index}")
    # On the clock of the H.264 units: the same frame's unit has the same time
    for frame, index in zip(frames, indices, strict=True):
        if index < len(units):
            assert abs(frame.timestamp_us - units[index].timestamp_us) <= 1000


async def test_a_main_stream_smaller_than_the_luma_size_gets_a_lores_as_small(pi):
    """picamera2 refuses a lores larger than main: it is cut to main's size (and its rows are padded)."""
    settings = CameraSettings(width=300, height=200, framerate=30, bitrate=300_000, keyframe_interval=60)
    camera = pi_camera(settings, FastCamera)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, 30)
    await collect(camera, 5)
    fake = the_camera()
    assert fake.camera_config["lores"]["size"] == (300, 200) and fake.camera_config["lores"]["stride"] == 320
    assert camera.luma_error is None and frames
    for frame in frames:
        np.testing.assert_array_equal(frame.pixels, lores_luma(sensor_frame(fake, frame.timestamp_us), 300, 200))


async def test_without_a_luma_sink_nothing_about_lores_is_configured(pi):
    await collect(pi_camera(), 3)
    fake = the_camera()
    assert "lores" not in fake.video_configuration_args
    assert fake.camera_config["lores"] is None and fake.stream_map["lores"] is None
    assert set(fake.buffers) == {"main"}
    assert fake.post_callback is None and fake.pre_callback is None


async def test_a_refused_lores_stream_leaves_the_video_without_a_luma_feed(pi, caplog):
    Refusing = type("Refusing", (FakeCamera,), {"refuse_lores": True})
    camera = pi_camera(camera_class=Refusing)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, 5)
    with caplog.at_level(logging.WARNING, logger="hw.camera.pi"):
        units = await collect(camera, 10)
    assert len(units) == 10 and frames == []
    assert camera.luma_error is not None and "refused a 320x240 lores stream" in camera.luma_error
    fake = the_camera()
    assert fake.camera_config["lores"] is None and fake.post_callback is None
    assert [r.levelname for r in caplog.records if "without a luma feed" in r.getMessage()] == ["WARNING"]


async def test_a_failing_luma_sink_is_logged_once_and_the_video_goes_on(pi, caplog):
    camera = pi_camera(camera_class=FastCamera)
    offered: list[LumaFrame] = []

    def sink(frame: LumaFrame) -> None:
        offered.append(frame)
        raise ValueError("the sink broke")

    camera.watch_luma(sink, 30)
    with caplog.at_level(logging.ERROR, logger="hw.camera.pi"):
        units = await collect(camera, 30)
    fake = the_camera()
    assert len(units) == 30 and fake.loop_error is None, f"picamera2's camera loop died: {fake.loop_error!r}"
    assert len(offered) >= 30  # and it was still offered every frame
    assert len([r for r in caplog.records if "luma feed failed" in r.getMessage()]) == 1
