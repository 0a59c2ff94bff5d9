"""What runs on picamera2's camera thread, and the camera's life around a start that is given up.

picamera2 runs its camera loop on one thread (``Picamera2.process_requests`` under
``Picamera2.lock``): whatever is slow there delays every frame. These tests run picamera2's
own code on the stand-in camera (testbed/fake_picamera2.py), as the contract tests do.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import numpy as np

from edge.config import MotionConfig
from edge.triggers.motion import MotionChange, MotionDetector, MotionTrigger
from hw.camera import CameraSettings, H264AccessUnit, LumaFrame, low_stream_settings
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.picamera2_ext import VIDEO_BUFFERS
from testbed.fake_picamera2 import FakeCamera
from tests.pi.test_picamera2_contract import SMALL, FastCamera, collect, pi_camera, sensor_frame, the_camera

LOW_MAIN = CameraSettings(width=640, height=480, framerate=30, bitrate=1_000_000, keyframe_interval=60)
LOW = low_stream_settings(LOW_MAIN, 320, 0, 300_000)


class BlockingStart(FakeCamera):
    """A camera whose ``start`` waits until the test lets it go on."""

    starting = threading.Event()
    may_start = threading.Event()

    def start(self) -> None:
        BlockingStart.starting.set()
        assert BlockingStart.may_start.wait(30), "the test never let the start go on"
        super().start()


async def test_a_daemon_stopping_during_the_start_leaves_the_camera_closed(pi):
    """The daemon stops while the camera starts: every task is cancelled (as ``asyncio.run`` does
    at its end), the start's own task with it; the start then finishes and the camera is closed."""
    BlockingStart.starting.clear()
    BlockingStart.may_start.clear()
    before = asyncio.all_tasks()
    camera = PiCamera(SMALL, open_camera=lambda: open_picamera2(BlockingStart))
    frames = camera.frames()
    consumer = asyncio.create_task(anext(frames))
    assert await asyncio.to_thread(BlockingStart.starting.wait, 30), "the camera's start never began"
    started = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert consumer in started
    for task in started:
        task.cancel()
    await asyncio.wait(started)
    await frames.aclose()
    BlockingStart.may_start.set()
    fake = FakeCamera.opened[0]
    assert await asyncio.to_thread(fake.closed_event.wait, 20), "the camera started after the stop is still open"
    assert len(FakeCamera.opened) == 1


async def test_the_sensor_time_is_read_only_for_the_frames_the_luma_feed_uses(pi):
    """picamera2's ``get_metadata()`` converts a frame's whole metadata, holding its lock: beyond the
    encoders' own reading (one a frame, as picamera2 does), only the frames passed on are read."""
    camera = pi_camera(camera_class=FastCamera)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, 5)
    await collect(camera, 90)
    fake = the_camera()
    used = {sensor_frame(fake, frame.timestamp_us) for frame in frames}
    produced = len(fake.sensor_timestamps_ns)  # 90 or more: the camera may run ahead of a busy Pi 5 encoder
    assert abs(len(used) - produced * 5 / 30) <= 2, f"{len(used)} pictures from {produced} frames"
    unused_reads = {reads for index, reads in enumerate(fake.metadata_reads) if index not in used}
    assert unused_reads <= {0, 1}, f"metadata read {unused_reads} times for frames the luma feed did not use"
    assert all(fake.metadata_reads[index] <= 2 for index in used)


class HalfRateSensor(FastCamera):
    """A sensor mode that cannot reach the rate asked for: its frames come 1/15 s apart at 30 asked."""

    def configure(self, config: dict) -> None:
        super().configure(config)
        self.framerate = 15.0


async def test_a_camera_giving_half_its_rate_still_gives_the_luma_feed_its_rate(pi):
    """The luma feed's rate is a rate in sensor time: a camera giving 15 frames a second where 30 were
    asked for still gives 5 pictures a second, each about 1/5 s after the one before."""
    camera = pi_camera(camera_class=HalfRateSensor)
    frames: list[LumaFrame] = []
    camera.watch_luma(frames.append, 5)
    await collect(camera, 60)
    fake = the_camera()
    seconds = (fake.sensor_timestamps_ns[-1] - fake.sensor_timestamps_ns[0]) / 1e9
    assert abs(len(frames) - seconds * 5) <= 2, f"{len(frames)} pictures in {seconds:.1f} s of sensor time"
    gaps = {round((b.timestamp_us - a.timestamp_us) / 1000) for a, b in itertools.pairwise(frames[1:])}
    assert gaps <= {200}, f"ms between pictures: {sorted(gaps)}"
    used = {sensor_frame(fake, frame.timestamp_us) for frame in frames}
    extra = [reads for index, reads in enumerate(fake.metadata_reads) if index not in used and reads > 1]
    assert len(extra) <= 2, f"metadata read for {len(extra)} frames the luma feed did not use"


class LoresMismatch(FakeCamera):
    """libcamera's lores buffers are smaller than the stream's configuration says: mapping them fails."""

    def configure(self, config: dict) -> None:
        super().configure(config)
        lores = self.camera_config["lores"]
        if lores is not None:
            self.camera_config["lores"] = {**lores, "stride": lores["stride"] * 2}

    def _fill_lores(self, memory: object, index: int) -> None:
        pass


class StubRecorder:
    recording = False

    def event(self, name: str, at_us: int) -> None: ...

    def hold(self, name: str, at_us: int | None = None) -> None: ...

    def release(self, name: str, at_us: int) -> None: ...

    def add_listener(self, listener: object) -> None: ...


async def test_a_failing_luma_feed_shows_in_the_motion_status_and_the_video_goes_on(pi):
    camera = pi_camera(camera_class=LoresMismatch)
    motion = MotionTrigger(MotionConfig(enabled=True, fps=5), camera, StubRecorder())
    await motion.start()
    try:
        units = await collect(camera, 30)
    finally:
        await motion.stop()
    assert len(units) == 30 and the_camera().loop_error is None
    status = motion.status()
    assert status["pictures"] == 0
    assert status["error"] is not None and "luma feed failed" in status["error"], status["error"]


class BlockingDetector(MotionDetector):
    """A detector that takes as long as the test wants (a Pi busy elsewhere)."""

    def __init__(self) -> None:
        super().__init__(MotionConfig(enabled=True))
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def feed(self, pixels: np.ndarray, timestamp_us: int) -> MotionChange | None:
        self.entered.set()
        self.go_on.wait(60)
        return super().feed(pixels, timestamp_us)


async def test_a_slow_motion_detector_does_not_slow_the_camera(pi):
    """A detector stuck on its first picture: frames still come at the camera's 30 a second;
    the pictures it had no time for are dropped and counted."""
    camera = pi_camera()
    motion = MotionTrigger(MotionConfig(enabled=True, fps=10), camera, StubRecorder())
    detector = motion.detector = BlockingDetector()
    await motion.start()
    arrivals: list[float] = []
    try:
        await collect(camera, 75, lambda index: arrivals.append(time.monotonic()))
        assert detector.entered.is_set(), "the detector never got a picture"
        status = motion.status()
    finally:
        detector.go_on.set()
        await motion.stop()
    rate = (len(arrivals) - 16) / (arrivals[-1] - arrivals[15])
    assert rate >= 20, f"{rate:.1f} frames a second while the detector was stuck"
    assert status["pictures"] == 0 and status["dropped"] >= 10, status


async def test_a_slow_pi5_encode_does_not_slow_the_camera(pi5):
    """libx264 taking far longer than a frame: the camera's thread goes on at its rate (the frames the
    encoder had no time for are dropped, not the sensor's: libcamera keeps enough buffers to go on),
    and the video goes on when the encoder catches up."""
    camera = pi_camera()
    gate = threading.Event()
    gate.set()
    stream = camera.frames()
    units: list[H264AccessUnit] = []
    try:
        async with asyncio.timeout(60):
            units.append(await anext(stream))
            encoder = camera._encoders["main"]
            fast_stream = encoder._stream
            encoder._stream = SlowStream(fast_stream, gate)
            gate.clear()
            fake = the_camera()
            before = fake.frames_encoded
            started = time.monotonic()
            assert await asyncio.to_thread(fake.wait_for_frames, before + 45, 30), "the camera stopped"
            rate = 45 / (time.monotonic() - started)
            gate.set()
            while len(units) < 20:
                units.append(await anext(stream))
    finally:
        gate.set()
        await stream.aclose()
    assert rate >= 20, f"the camera ran at {rate:.1f} frames a second while the encoder was stuck"
    assert encoder.frames_dropped >= 40
    assert fake.loop_error is None and fake.closed
    buffer_count = fake.camera_config["buffer_count"]
    assert fake.sensor_frames_dropped == 0, f"libcamera had no free buffer for {fake.sensor_frames_dropped} frames"
    # libcamera needs two buffers queued to keep the sensor going: a frame in the making and the next one
    assert fake.most_held <= buffer_count - 2, f"{fake.most_held} of {buffer_count} buffers held at once"


async def test_two_pi5_encoders_stuck_at_different_frames_do_not_slow_the_camera(pi5):
    """The low stream's libx264 stuck first, main's a few frames later: each holds the frame it encodes
    and the one picamera2 keeps, besides the newest waiting for both; the sensor still finds a buffer for
    every frame (the configuration has two more for the second encoder) and both streams go on after."""
    camera = pi_camera(LOW_MAIN)
    camera.low_settings = LOW
    gates = {"main": threading.Event(), "low": threading.Event()}
    stream = camera.frames()
    units: list[H264AccessUnit] = []
    try:
        async with asyncio.timeout(60):
            units.append(await anext(stream))
            fake = the_camera()
            encoders = camera._encoders
            for name, encoder in encoders.items():
                gates[name].set()
                encoder._stream = SlowStream(encoder._stream, gates[name])
            for name in ("low", "main"):
                gates[name].clear()
                assert await asyncio.to_thread(fake.wait_for_frames, fake.frames_encoded + 5, 30), "the camera stopped"
            before = fake.frames_encoded
            started = time.monotonic()
            assert await asyncio.to_thread(fake.wait_for_frames, before + 45, 30), "the camera stopped"
            rate = 45 / (time.monotonic() - started)
            for gate in gates.values():
                gate.set()
            while min(len([u for u in units if u.stream == name]) for name in gates) < 10:
                units.append(await anext(stream))
    finally:
        for gate in gates.values():
            gate.set()
        await stream.aclose()
    assert rate >= 20, f"the camera ran at {rate:.1f} frames a second while the encoders were stuck"
    assert min(encoder.frames_dropped for encoder in encoders.values()) >= 40
    assert fake.loop_error is None and fake.closed
    buffer_count = fake.camera_config["buffer_count"]
    assert fake.sensor_frames_dropped == 0, f"libcamera had no free buffer for {fake.sensor_frames_dropped} frames"
    assert fake.most_held <= buffer_count - 2, f"{fake.most_held} of {buffer_count} buffers held at once"
    assert fake.most_held > VIDEO_BUFFERS - 2  # and without the two more, the sensor would have lost frames


class SlowStream:
    """The encoder's PyAV stream, each frame waiting for ``gate``."""

    def __init__(self, stream: object, gate: threading.Event) -> None:
        self._stream = stream
        self._gate = gate

    def encode(self, frame: object = None) -> object:
        if frame is not None:
            assert self._gate.wait(60), "the test never let the encoder go on"
        return self._stream.encode(frame)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
