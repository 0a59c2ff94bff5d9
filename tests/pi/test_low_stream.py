"""The low stream on a Pi: picamera2's lores stream at the low stream's size and a second encoder on it.

As the contract tests (test_picamera2_contract.py), for picamera2 as Raspberry Pi OS Trixie ships it and
as the oldest we support, as a Pi 5 (a second libx264, really encoding) and as a Pi 4 (a second session of
the fake /dev/video11); only libcamera and the sensor are stand-ins.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

import av
import numpy as np
import pytest

from edge.media.video import VideoHub
from hw.camera import CameraSettings, H264AccessUnit, LumaFrame, low_stream_settings
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.picamera2_ext import SECOND_X264_BUFFERS, VIDEO_BUFFERS, X264_PRESET, X264_THREADS
from testbed.fake_picamera2 import FakeCamera, lores_luma
from tests.pi.test_picamera2_contract import FastCamera, collect, is_idr_with_headers, sensor_frame, the_camera

MAIN = CameraSettings(width=1280, height=720, framerate=30, bitrate=2_000_000, keyframe_interval=60)
LOW = low_stream_settings(MAIN, 640, 0, 450_000)


def pi_camera(camera_class: type[FakeCamera] = FakeCamera, low: CameraSettings | None = LOW) -> PiCamera:
    camera = PiCamera(MAIN, open_camera=lambda: open_picamera2(camera_class))
    camera.low_settings = low
    return camera


def of(units: list[H264AccessUnit], stream: str) -> list[H264AccessUnit]:
    return [unit for unit in units if unit.stream == stream]


def picture_size(unit: H264AccessUnit) -> tuple[int, int]:
    """The size of the picture an IDR decodes to."""
    (frame,) = av.CodecContext.create("h264", "r").decode(av.Packet(unit.data))
    return frame.width, frame.height


def test_the_buffers_picamera2_gives_a_video_configuration_are_as_counted(pi):
    """Two libx264 encoders get SECOND_X264_BUFFERS more than picamera2's default for video."""
    defaults = inspect.signature(pi.picamera2.Picamera2.create_video_configuration).parameters
    assert defaults["buffer_count"].default == VIDEO_BUFFERS


async def test_both_encoders_are_configured_main_on_main_and_low_on_lores_at_its_size(pi):
    assert LOW is not None and (LOW.width, LOW.height) == (640, 360)
    camera = pi_camera()
    encoders: list = []
    units = await collect(camera, 20, lambda index: encoders.extend(the_camera()._encoders))
    fake = the_camera()
    assert fake.video_configuration_args["lores"] == {"size": (640, 360), "format": "YUV420"}
    config = fake.camera_config
    assert (config["main"]["size"], config["lores"]["size"]) == ((1280, 720), (640, 360))
    assert config["encode"] == "main" and config["lores"]["format"] == "YUV420"
    assert {(e.name, e.width, e.height) for e in encoders} == {("main", 1280, 720), ("lores", 640, 360)}
    assert camera.low_error is None and fake.loop_error is None
    assert {unit.stream for unit in units} == {"main", "low"}
    if pi.codec is not None:  # two sessions of the VideoCore encoder, each with its stream's settings
        assert config["buffer_count"] == VIDEO_BUFFERS
        assert len(pi.codec.sessions) == 2
        for settings in (MAIN, LOW):
            controls = pi.codec.session(settings.width, settings.height).controls
            assert controls["V4L2_CID_MPEG_VIDEO_BITRATE"] == settings.bitrate
            assert controls["V4L2_CID_MPEG_VIDEO_H264_I_PERIOD"] == 1800  # 60 s at 30 fps
            assert controls["V4L2_CID_MPEG_VIDEO_H264_PROFILE"] == 1  # constrained baseline
            assert controls["V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER"] == 1
            assert pi.codec.session(settings.width, settings.height).encoder_framerate == 30
    else:  # two libx264, both set up as main's: off the camera thread, slice threads
        assert config["buffer_count"] == VIDEO_BUFFERS + SECOND_X264_BUFFERS
        assert {(type(e).__name__, e.threads, e.preset) for e in encoders} == {
            ("KeyframeSafeLibavH264Encoder", X264_THREADS, X264_PRESET)
        }
        assert {e.bitrate for e in encoders} == {MAIN.bitrate, LOW.bitrate}
        assert picture_size(of(units, "main")[0]) == (1280, 720)
        assert picture_size(of(units, "low")[0]) == (640, 360)
    assert all(is_idr_with_headers(of(units, stream)[0]) for stream in ("main", "low"))


async def test_both_streams_units_of_a_picture_carry_its_capture_time(pi):
    units = await collect(pi_camera(), 60)
    fake = the_camera()
    for stream in ("main", "low"):
        stamps = [unit.timestamp_us for unit in of(units, stream)]
        assert stamps == sorted(set(stamps)), f"{stream}: not one unit a frame, in order"
    by_frame: dict[int, list[H264AccessUnit]] = {}  # each unit is a sensor frame's
    for unit in units:
        by_frame.setdefault(sensor_frame(fake, unit.timestamp_us), []).append(unit)
    # a frame's units, one of each stream, carry the same time to the microsecond (a loaded machine may make
    # a Pi 5 encoder drop a frame the other encodes: such a frame has one unit)
    both = [frame for frame in by_frame.values() if len(frame) == 2]
    assert len(both) >= 10, f"{len(both)} frames with a unit of each stream"
    assert all(len({unit.timestamp_us for unit in frame}) == 1 for frame in both), both


@pytest.mark.parametrize("asked, other", [("low", "main"), ("main", "low")])
async def test_a_keyframe_request_reaches_only_the_encoder_asked(pi, asked, other):
    camera = pi_camera()
    asked_at = []

    def ask_once(index: int) -> None:
        if index == 30:
            asked_at.append(the_camera().frames_encoded)  # frames already in the encoders' hands
            camera.request_keyframe(asked)

    units = await collect(camera, 80, ask_once)
    fake = the_camera()
    # Each stream's first unit is its IDR (keyframe_interval is 60 s): any other comes from the request.
    idrs = {stream: [unit for unit in of(units, stream)[1:] if unit.keyframe] for stream in ("main", "low")}
    assert idrs[other] == [], f"an IDR on {other}, which was not asked"
    assert len(idrs[asked]) == 1 and is_idr_with_headers(idrs[asked][0]), f"{len(idrs[asked])} IDRs on {asked}"
    at = sensor_frame(fake, idrs[asked][0].timestamp_us)
    assert 0 <= at - asked_at[0] <= 2, f"IDR at frame {at}, asked when {asked_at[0]} were encoded"
    if pi.codec is not None:
        sessions = {"main": pi.codec.session(1280, 720), "low": pi.codec.session(640, 360)}
        assert sessions[asked].controls.get("V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME") == 1
        assert "V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME" not in sessions[other].controls


@pytest.mark.parametrize("fps", [5, 15])
async def test_the_luma_feed_samples_the_low_streams_lores_down_to_about_the_luma_size(pi, fps):
    """lores is the low stream's 640x360: motion detection gets every other pixel, 320x180, at its rate."""
    camera = pi_camera(FastCamera)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, fps)
    await collect(camera, 90)
    fake = the_camera()
    assert fake.loop_error is None and camera.luma_error is None and camera.low_error is None
    assert fake.video_configuration_args["lores"]["size"] == (640, 360)  # one lores, the low stream's
    produced = len(fake.sensor_timestamps_ns)
    assert abs(len(frames) - produced * fps / 30) <= 1, f"{len(frames)} pictures from {produced} frames"
    for frame in frames:
        index = sensor_frame(fake, frame.timestamp_us)
        assert frame.pixels.shape == (180, 320) and frame.pixels.dtype == np.uint8 and frame.pixels.flags.owndata
        np.testing.assert_array_equal(frame.pixels, lores_luma(index, 640, 360)[::2, ::2], err_msg=f"frame {index}")


async def test_without_a_low_stream_main_is_encoded_alone_as_before(pi):
    units = await collect(pi_camera(low=None), 10)
    fake = the_camera()
    assert {unit.stream for unit in units} == {"main"}
    assert "lores" not in fake.video_configuration_args
    assert fake.camera_config["lores"] is None and fake.camera_config["buffer_count"] == VIDEO_BUFFERS
    if pi.codec is not None:
        assert [session.size for session in pi.codec.sessions] == [(1280, 720)]


class RefusingLowLores(FakeCamera):
    """libcamera refuses a lores stream larger than 320x240 (that of the luma feed alone passes)."""

    def configure(self, config: dict) -> None:
        lores = config.get("lores")
        if lores is not None and lores["size"] > (320, 240):
            raise RuntimeError(f"Invalid camera configuration: {config}")
        super().configure(config)


@pytest.mark.parametrize("luma", [False, True], ids=["no-luma", "luma"])
async def test_a_refused_low_lores_leaves_main_alone_with_low_error_set(pi, caplog, luma):
    camera = pi_camera(RefusingLowLores)
    frames: list[LumaFrame] = []
    if luma:
        camera.watch_luma(frames.append, 15)
    with caplog.at_level(logging.WARNING, logger="hw.camera.pi"):
        units = await collect(camera, 30)
    fake = the_camera()
    assert len(units) == 30 and {unit.stream for unit in units} == {"main"} and fake.loop_error is None
    assert camera.low_error is not None and "refused a 640x360 lores stream for the low stream" in camera.low_error
    assert [r.levelname for r in caplog.records if "main goes on without it" in r.getMessage()] == ["WARNING"]
    if luma:  # the luma feed gets a lores of its own, as without a low stream
        assert fake.camera_config["lores"]["size"] == (320, 240) and camera.luma_error is None
        assert frames and all(frame.pixels.shape == (240, 320) for frame in frames)
    else:
        assert fake.camera_config["lores"] is None
    if pi.codec is not None:
        assert [session.size for session in pi.codec.sessions] == [(1280, 720)]


@pytest.mark.parametrize(
    "limit, error",
    [
        (dict(max_sessions=1), "Device or resource busy"),  # a VideoCore with one encode session left
        (dict(refuse_buffers_from=1), "Cannot allocate memory"),  # the second session gets no buffers
    ],
    ids=["no-session", "no-buffers"],
)
async def test_a_second_encode_session_that_cannot_start_leaves_main_alone_with_low_error_set(
    pi4, caplog, limit, error
):
    """Main's encoder starts first and gets what there is; the low stream's half-started session is closed."""
    for name, value in limit.items():
        setattr(pi4.codec, name, value)
    camera = pi_camera()
    with caplog.at_level(logging.WARNING, logger="hw.camera.pi"):
        units = await collect(camera, 20)
    assert {unit.stream for unit in units} == {"main"} and the_camera().loop_error is None
    assert camera.low_error is not None and "the low stream's encoder did not start" in camera.low_error
    assert error in camera.low_error
    assert [r.levelname for r in caplog.records if "main goes on without it" in r.getMessage()] == ["WARNING"]
    assert pi4.codec.sessions[0].size == (1280, 720)
    assert all(session.closed for session in pi4.codec.sessions)  # main's with the camera; low's at once
    assert the_camera()._encoders == set()
    camera.request_keyframe("low")  # nothing to ask: no error


async def test_a_failed_low_stream_comes_back_at_the_next_start(pi4):
    pi4.codec.max_sessions = 1
    camera = pi_camera()
    await collect(camera, 5)
    assert camera.low_error is not None
    pi4.codec.max_sessions = None
    units = await collect(camera, 20)
    assert camera.low_error is None and {unit.stream for unit in units} == {"main", "low"}


@pytest.mark.parametrize("refused", [False, True], ids=["low", "refused"])
async def test_the_hub_gives_the_low_stream_or_says_why_not_and_gives_main(pi5, refused):
    """A viewer asking the hub for ``low`` gets it, or main when the camera could not start one (on a Pi 5,
    whose libx264 writes the SPS the hub reads; the fake /dev/video11 writes none)."""
    camera = pi_camera(RefusingLowLores if refused else FakeCamera)
    hub = VideoHub(camera)
    queue = hub.stream("low").subscribe()
    main = hub.main.subscribe()
    await hub.start()
    try:
        async with asyncio.timeout(30):
            for _ in range(10):
                await main.get()
            status = hub.status()["low"]
            stream = hub.stream("low")
            if not refused:
                unit = await queue.get()
    finally:
        await hub.stop()
    assert status is not None and (status["width"], status["height"], status["bitrate"]) == (640, 360, 450_000)
    if refused:
        assert status["error"] is not None and "refused a 640x360 lores stream" in status["error"]
        assert stream is hub.main and status["frames"] == 0
    else:
        assert status["error"] is None and stream is hub.low and status["frames"] > 0
        assert unit.stream == "low" and unit.keyframe
