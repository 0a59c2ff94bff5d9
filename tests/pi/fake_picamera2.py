"""The Pi camera itself, which cannot exist here: a stand-in for ``Picamera2`` around which
picamera2's own code runs.

What is picamera2's, not ours: ``start_encoder``/``stop_encoder`` (called unbound on this
object, as ``start_recording``/``stop_recording`` call them), ``CompletedRequest``,
``MappedArray`` and the buffer mapping helpers, the encoder classes, ``Output``. What is
the stand-in: the sensor (a thread that fills buffers with the test picture and stamps
them with ``SensorTimestamp`` on CLOCK_BOOTTIME, a little before they are delivered, as
a real sensor's exposure precedes its delivery) and libcamera's request plumbing, from
``tests/pi/stubs``. The camera loop does what picamera2.py's does for each request
(0.3.37 lines 1492-1496): every encoder encodes it, then it is released; an exception
there ends the loop, as it ends picamera2's event thread.
"""

from __future__ import annotations

import inspect
import mmap
import threading
import time
from types import SimpleNamespace

import numpy as np

from hw.camera.framecode import draw_frame_code, frame_code_value
from hw.camera.testpicture import TestPicture


class FakeCamera:
    """Picamera2's public surface as hw.camera.pi uses it, plus what its own code reads."""

    # What libcamera reports (Picamera2.global_camera_info); a subclass with none is "no camera".
    cameras: tuple[dict, ...] = (
        {"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/soc/i2c0mux/i2c@1/imx708@1a", "Num": 0},
    )
    exposure_lag_s = 0.030  # sensor timestamp to delivery
    start_delay_s = 0.0  # start_recording() blocks this long
    fail_in: str | None = None  # "configure" or "start": raise there
    paced = True  # frames in real time; else as fast as they encode (timestamps still 1/fps apart)
    opened: list[FakeCamera] = []  # every instance, to check that each was closed

    def __init__(self) -> None:
        from picamera2 import Picamera2
        from picamera2.allocators.allocator import Allocator
        from picamera2.request import Helpers

        if not self.cameras:
            raise IndexError("list index out of range")  # what Picamera2() raises with no camera
        self._picamera2 = Picamera2
        # What picamera2's own code reads from its Picamera2 object.
        self.lock = threading.Lock()
        self.request_lock = threading.Lock()
        self._encoders: set = set()
        self.encode_stream_name = "main"
        self.camera = None  # CompletedRequest.release() re-queues nothing
        self.stop_count = self.configure_count = 0
        self.camera_ctrl_info = {"FrameDurationLimits": (None, SimpleNamespace(min=16_666))}
        self.allocator = _MappedAllocator(Allocator)
        self.helpers = Helpers(self)
        self.camera_config: dict | None = None
        self.stream_map: dict = {}
        # What the tests look at.
        self.video_configuration_args: dict | None = None
        self.sensor_timestamps_ns: list[int] = []
        self.loop_error: BaseException | None = None
        self.closed = False
        self.closed_event = threading.Event()  # set by close(), from whichever thread closes it
        self.frames_encoded = 0
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        FakeCamera.opened.append(self)

    @classmethod
    def global_camera_info(cls) -> list[dict]:
        return list(cls.cameras)

    def create_video_configuration(self, main: dict | None = None, **kwargs) -> dict:
        defaults = inspect.signature(self._picamera2.create_video_configuration).parameters
        self.video_configuration_args = {
            "main": main,
            **kwargs,
            "buffer_count": kwargs.get("buffer_count", defaults["buffer_count"].default),
        }
        return {
            "main": dict(main or {}),
            "buffer_count": self.video_configuration_args["buffer_count"],
            "controls": kwargs.get("controls", {}),
        }

    def configure(self, config: dict) -> None:
        if self.fail_in == "configure":
            raise RuntimeError("Failed to configure camera")
        width, height = config["main"]["size"]
        stride = (width + 63) // 64 * 64  # libcamera pads YUV420 rows
        frame_size = stride * height * 3 // 2
        self.framerate = config["controls"].get("FrameRate", 30.0)
        self.camera_config = {
            "main": {
                "format": config["main"]["format"],
                "size": (width, height),
                "stride": stride,
                "framesize": frame_size,
            },
            "lores": None,
            "raw": None,
            "buffer_count": config["buffer_count"],
        }
        self.stream = _Stream(
            configuration=SimpleNamespace(
                size=(width, height), stride=stride, frame_size=frame_size, pixel_format="YUV420"
            )
        )
        self.stream_map = {"main": self.stream}
        self.buffers = [self.allocator.add(frame_size, fd=900 + i) for i in range(config["buffer_count"])]
        self.picture = TestPicture(width, height)

    def camera_configuration(self) -> dict | None:
        return self.camera_config

    def start_recording(self, encoder: object, output: object) -> None:
        if self.start_delay_s:
            time.sleep(self.start_delay_s)  # a slow camera start (seconds on a Zero 2 W)
        self._picamera2.start_encoder(self, encoder, output)
        if self.fail_in == "start":
            raise RuntimeError("Camera frontend has timed out!")
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name="fake-camera", daemon=True)
        self._thread.start()

    def stop_recording(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(5)
        self._picamera2.stop_encoder(self)

    def close(self) -> None:
        self.closed = True
        self.closed_event.set()

    def _loop(self) -> None:
        from picamera2.request import CompletedRequest

        interval = 1 / self.framerate
        start = time.monotonic()
        first_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - int(self.exposure_lag_s * 1e9)
        index = 0
        while self._running.is_set():
            if self.paced:
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            buffer = self.buffers[index % len(self.buffers)]
            sensor_ns = first_ns + round(index * interval * 1e9)
            try:
                self._fill(buffer, index)
                self.sensor_timestamps_ns.append(sensor_ns)
                request = CompletedRequest(_LibcameraRequest({self.stream: buffer}, sensor_ns), self)
                for encoder in list(self._encoders):
                    encoder.encode(encoder.name, request)
                request.release()
            except BaseException as exc:  # picamera2's event thread dies here too
                self.loop_error = exc
                return
            self.frames_encoded += 1
            index += 1

    def _fill(self, buffer: _Buffer, index: int) -> None:
        width, height = self.camera_config["main"]["size"]
        stride = self.camera_config["main"]["stride"]
        yuv = self.picture.render(index, time.time())
        draw_frame_code(yuv[:height], frame_code_value(index, 0))
        rows = np.frombuffer(self.allocator.mapped_buffers[buffer], np.uint8).reshape(-1, stride)
        rows[:height, :width] = yuv[:height]
        half = stride // 2
        chroma = np.frombuffer(self.allocator.mapped_buffers[buffer], np.uint8)[stride * height :]
        for plane in range(2):
            src = yuv[height + plane * height // 4 : height + (plane + 1) * height // 4].reshape(
                height // 2, width // 2
            )
            dst = chroma[plane * half * height // 2 : (plane + 1) * half * height // 2].reshape(height // 2, half)
            dst[:, : width // 2] = src


class _Buffer(SimpleNamespace):
    """libcamera.FrameBuffer: one plane (a dma-buf fd and its length)."""

    __hash__ = object.__hash__


class _Stream(SimpleNamespace):
    """libcamera.Stream: its configuration (size, stride, frame_size, pixel_format)."""

    __hash__ = object.__hash__


def _MappedAllocator(base: type) -> object:
    """picamera2's Allocator with buffers mapped from anonymous memory instead of dma-bufs."""

    class MappedAllocator(base):
        needs_sync = False

        def __init__(self) -> None:
            super().__init__()
            self.mapped_buffers: dict = {}
            allocator = self

            class Sync:
                def __init__(self, _allocator: object, buffer: _Buffer, _write: bool) -> None:
                    self.buffer = buffer

                def __enter__(self) -> mmap.mmap:
                    return allocator.mapped_buffers[self.buffer]

                def __exit__(self, *exc) -> None:
                    pass

            self.sync = Sync

        def add(self, size: int, fd: int) -> _Buffer:
            buffer = _Buffer(
                planes=[SimpleNamespace(fd=fd, offset=0, length=size)],
                metadata=SimpleNamespace(planes=[SimpleNamespace(bytes_used=size)]),
            )
            self.mapped_buffers[buffer] = mmap.mmap(-1, size)
            return buffer

    return MappedAllocator()


class _LibcameraRequest:
    """libcamera.Request as CompletedRequest reads it: buffers by stream, metadata, reuse()."""

    def __init__(self, buffers: dict, sensor_timestamp_ns: int) -> None:
        import libcamera

        self.buffers = buffers
        self.metadata = {libcamera.controls.SensorTimestamp: sensor_timestamp_ns}

    def reuse(self) -> None:
        pass

    def set_control(self, control: object, value: object) -> None:
        pass
