"""The Pi camera itself, which cannot exist here: a stand-in for ``Picamera2`` around which
picamera2's own code runs.

What is picamera2's, not ours: ``create_video_configuration`` and the checks of
``configure`` (``check_camera_config``), ``process_requests`` (the step of its camera loop
that hands each completed request to ``pre_callback``, ``post_callback`` and the encoders,
each the stream it was started on, then releases it), ``start_encoder``/``stop_encoder``,
``CompletedRequest``, ``MappedArray`` and the buffer mapping helpers, the encoder classes, ``Output``: all run
on this object (``PICAMERA2_OWN``), unbound. What is the stand-in: libcamera's side of
``configure`` (each stream's stride and frame size, its buffers), the sensor (a thread
that fills the buffers of each request, ``main`` with the test picture and ``lores`` with
:func:`lores_luma`, stamps them with ``SensorTimestamp`` on CLOCK_BOOTTIME a little before
they are delivered, as a real sensor's exposure precedes its delivery, and hands them to
``process_requests`` as picamera2's event thread does), and libcamera's request plumbing,
from ``testbed/picamera2_stubs``. As libcamera, it fills only buffers the application has given back: a
frame that comes while every buffer is still held (by picamera2, by an encoder) is dropped by the
sensor (``sensor_frames_dropped``); ``most_held`` is the most it ever held at once. An exception
out of ``process_requests`` ends the loop, as it ends picamera2's event thread
(``NullPreview.handle_request`` re-raises it).
"""

from __future__ import annotations

import inspect
import mmap
import threading
import time
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from hw.camera.framecode import draw_frame_code, frame_code_value
from hw.camera.testpicture import TestPicture


def lores_luma(index: int, width: int, height: int) -> np.ndarray:
    """The Y plane the sensor puts in frame ``index``'s lores buffer: a ramp that moves with the frame."""
    rows = np.arange(height, dtype=np.int64)[:, None]
    columns = np.arange(width, dtype=np.int64)[None, :]
    return ((3 * rows + 5 * columns + 7 * index) % 256).astype(np.uint8)


class FakeCamera:
    """Picamera2's public surface as hw.camera.pi uses it, plus what its own code reads."""

    # Picamera2's own methods and properties, run on this object (see __getattr__).
    PICAMERA2_OWN = frozenset(
        {
            "create_video_configuration",
            "_make_initial_stream_config",
            "align_stream",
            "_is_rpi_camera",
            "camera_properties",
            "camera_controls",
            "_raw_stream_ignore_list",
            "_add_display_and_encode",
            "check_camera_config",
            "check_stream_config",
            "process_requests",
            "start_encoder",
        }
    )

    # What libcamera reports (Picamera2.global_camera_info); a subclass with none is "no camera".
    cameras: tuple[dict, ...] = (
        {"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/soc/i2c0mux/i2c@1/imx708@1a", "Num": 0},
    )
    exposure_lag_s = 0.030  # sensor timestamp to delivery
    start_delay_s = 0.0  # start() blocks this long
    fail_in: str | None = None  # "configure" or "start": raise there
    refuse_lores = False  # libcamera finds a configuration with a lores stream invalid
    paced = True  # frames in real time; else as fast as they encode (timestamps still 1/fps apart): the
    # next frame comes once the encoders have taken the first one and every request but the newest is back
    opened: ClassVar[list[FakeCamera]] = []  # every instance, to check that each was closed

    def __init__(self) -> None:
        from picamera2 import Picamera2
        from picamera2.allocators.allocator import Allocator
        from picamera2.request import Helpers

        if not self.cameras:
            raise IndexError("list index out of range")  # what Picamera2() raises with no camera
        import libcamera

        self._picamera2 = Picamera2
        # What picamera2's own code reads from its Picamera2 object.
        self.lock = threading.Lock()
        self.request_lock = threading.Lock()
        self._requestslock = threading.Lock()
        self._requests: list = []  # completed by libcamera, not yet processed
        self.completed_requests: list = []
        self._job_list: list = []
        self._max_queue_len = 0
        self.frames = 0
        self.pre_callback = None
        self.post_callback = None
        self._encoders: set = set()
        self.encode_stream_name = "main"
        self.display_stream_name = "main"
        self.camera = SimpleNamespace(id=self.cameras[0]["Id"])  # libcamera's Camera, opened
        self.started = False  # so CompletedRequest.release() re-queues nothing: the sensor makes new requests
        self.stop_count = self.configure_count = 0
        self.camera_properties_ = {"Model": self.cameras[0]["Model"], "ColorFilterArrangement": 0}
        self.sensor_format = "SRGGB10_CSI2P"  # the imx708's native mode
        limits = SimpleNamespace(min=16_666, max=2_000_000_000, default=33_333)
        self.camera_ctrl_info = {"FrameDurationLimits": (libcamera.controls.FrameDurationLimits, limits)}
        self.allocator = _MappedAllocator(Allocator)
        self.helpers = Helpers(self)
        self.camera_config: Any = None  # the configuration as libcamera settled it, once configured
        self.stream_map: dict = {}
        self.buffers: dict[str, list] = {}
        # What the tests look at.
        self.video_configuration_args: dict | None = None
        self.sensor_timestamps_ns: list[int] = []
        self.metadata_reads: list[int] = []  # per frame: how often its metadata was converted for Python
        self.loop_error: BaseException | None = None
        self.closed = False
        self.closed_event = threading.Event()  # set by close(), from whichever thread closes it
        self.frames_encoded = 0  # frames handed to process_requests (the encoders, the callbacks)
        self.sensor_frames_dropped = 0  # frames the sensor made while no buffer was free
        self.progress = self.allocator.activity  # notified at each frame, buffer mapping and release
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        FakeCamera.opened.append(self)

    @classmethod
    def global_camera_info(cls) -> list[dict]:
        return list(cls.cameras)

    def __getattr__(self, name: str) -> Any:
        """Picamera2's own code for the names in ``PICAMERA2_OWN``, bound to this object."""
        if name == "_picamera2" or name not in FakeCamera.PICAMERA2_OWN:
            raise AttributeError(name)
        member = inspect.getattr_static(self._picamera2, name)
        return member.__get__(self, type(self)) if hasattr(member, "__get__") else member

    def create_video_configuration(self, main: dict | None = None, **kwargs) -> dict:
        defaults = inspect.signature(self._picamera2.create_video_configuration).parameters
        self.video_configuration_args = {
            "main": main,
            **kwargs,
            "buffer_count": kwargs.get("buffer_count", defaults["buffer_count"].default),
        }
        return self._picamera2.create_video_configuration(self, main=dict(main or {}), **kwargs)

    def configure(self, config: dict) -> None:
        """Picamera2.configure_'s checks, then libcamera's part: the streams, their strides and buffers."""
        if self.fail_in == "configure":
            raise RuntimeError("Failed to configure camera")
        config = config.copy()
        self.check_camera_config(config)
        if self.refuse_lores and config["lores"] is not None:  # CameraConfiguration.validate() said Invalid
            raise RuntimeError(f"Invalid camera configuration: {config}")
        self.framerate = config["controls"].get("FrameRate", 30.0)
        self.stream_map = {"main": None, "lores": None, "raw": None}  # the raw stream is not modelled
        self.buffers = {}
        for fd_base, name in ((900, "main"), (950, "lores")):
            if config[name] is None:
                continue
            assert config[name]["format"] == "YUV420", "the stand-in sensor writes YUV420 only"
            width, height = config[name]["size"]
            stride = (width + 63) // 64 * 64  # libcamera pads YUV420 rows
            frame_size = stride * height * 3 // 2
            config[name] = {**config[name], "stride": stride, "framesize": frame_size}
            self.stream_map[name] = _Stream(
                configuration=SimpleNamespace(
                    size=(width, height), stride=stride, frame_size=frame_size, pixel_format="YUV420"
                )
            )
            self.buffers[name] = [self.allocator.add(frame_size, fd=fd_base + i) for i in range(config["buffer_count"])]
        self.camera_config = config
        self.encode_stream_name = config["encode"]
        self.display_stream_name = config["display"]
        self._max_queue_len = 1 if config["queue"] and config["buffer_count"] > 1 else 0
        self.configure_count += 1
        self.picture = TestPicture(*config["main"]["size"])

    def camera_configuration(self) -> dict | None:
        return self.camera_config

    def start(self) -> None:
        """libcamera starts the camera: the sensor's frames begin (the encoders were started before)."""
        if self.start_delay_s:
            time.sleep(self.start_delay_s)  # a slow camera start (seconds on a Zero 2 W)
        if self.fail_in == "start":
            raise RuntimeError("Camera frontend has timed out!")
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name="fake-camera", daemon=True)
        self._thread.start()

    def stop_recording(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(5)
        while self.completed_requests:  # as Picamera2.stop_() does
            self.completed_requests.pop(0).release()
        self._picamera2.stop_encoder(self)

    def close(self) -> None:
        self.closed = True
        self.closed_event.set()

    def _loop(self) -> None:
        from picamera2.previews import NullPreview
        from picamera2.request import CompletedRequest

        display = NullPreview()  # what process_requests renders to: nothing
        interval = 1 / self.framerate
        start = time.monotonic()
        first_ns = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - int(self.exposure_lag_s * 1e9)
        index = 0
        while self._running.is_set():
            if self.paced:
                delay = start + index * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            else:
                self._wait_until_encoded_before(self.frames_encoded)
            sensor_ns = first_ns + round(index * interval * 1e9)
            self.sensor_timestamps_ns.append(sensor_ns)  # by frame index, the lost ones too
            self.metadata_reads.append(0)
            slot = self.allocator.take_free_slot(len(self.buffers["main"]))
            if slot is None:  # libcamera has no buffer to fill: the sensor's frame is lost
                self.sensor_frames_dropped += 1
                index += 1
                continue
            # a request carries buffer ``slot`` of each stream (Picamera2._make_requests)
            buffers = _RequestBuffers(
                {self.stream_map[name]: stream_buffers[slot] for name, stream_buffers in self.buffers.items()},
                slot=slot,
            )
            try:
                self._fill(index, slot)
                request = CompletedRequest(_LibcameraRequest(buffers, sensor_ns, self.metadata_reads, index), self)
                with self._requestslock:
                    self._requests.append(request)
                self.process_requests(display)
            except BaseException as exc:  # picamera2's event thread dies here too
                self.loop_error = exc
                return
            with self.progress:
                self.frames_encoded += 1
                self.progress.notify_all()
            index += 1

    @property
    def most_held(self) -> int:
        """The most requests (buffers of each stream) ever out of libcamera's hands at once."""
        return self.allocator.most_held

    def wait_for_frames(self, count: int, timeout_s: float) -> bool:
        """Wait until ``count`` frames went through the camera loop; False if not within ``timeout_s``."""
        with self.progress:
            return self.progress.wait_for(lambda: self.frames_encoded >= count, timeout_s)

    def _wait_until_encoded_before(self, index: int, timeout_s: float = 10.0) -> None:
        """Until frame ``index`` may come (or ``timeout_s``): the encoders set the first frame's time before
        they map its buffer, and each mapping notifies ``progress``."""
        with self.progress:
            self.progress.wait_for(lambda: self._encoded_before(index), timeout_s)

    def _encoded_before(self, index: int) -> bool:
        """Frame ``index`` may come: the encoders have read the first frame's time (``firsttimestamp``,
        set as they take it), and all requests but the newest were released (picamera2's software
        encoder keeps the newest it encoded, so the one before is back once the newest was encoded)."""
        taken = index == 0 or all(encoder.firsttimestamp is not None for encoder in self._encoders)
        return taken and self.allocator.released_count >= index - 1

    def _fill(self, index: int, slot: int) -> None:
        self._fill_main(self._buffer("main", slot), index)
        if "lores" in self.buffers:
            self._fill_lores(self._buffer("lores", slot), index)

    def _buffer(self, name: str, slot: int) -> mmap.mmap:
        return self.allocator.mapped_buffers[self.buffers[name][slot]]

    def _fill_lores(self, memory: mmap.mmap, index: int) -> None:
        width, height = self.camera_config["lores"]["size"]
        stride = self.camera_config["lores"]["stride"]
        rows = np.frombuffer(memory, np.uint8).reshape(-1, stride)
        rows[:height, :width] = lores_luma(index, width, height)
        rows[:height, width:] = 0xEE  # the padding is not the picture
        rows[height:] = 128  # U and V: grey

    def _fill_main(self, memory: mmap.mmap, index: int) -> None:
        height = self.camera_config["main"]["size"][1]
        yuv = self.picture.render(index, time.time())
        draw_frame_code(yuv[:height], frame_code_value(index, 0))
        self._copy_picture(memory, yuv, "main")

    def _copy_picture(self, memory: mmap.mmap, yuv: np.ndarray, name: str) -> None:
        """A YUV420 picture (planar, unpadded: ``(height * 3 / 2, width)``) into a buffer of stream ``name``."""
        width, height = self.camera_config[name]["size"]
        stride = self.camera_config[name]["stride"]
        rows = np.frombuffer(memory, np.uint8).reshape(-1, stride)
        rows[:height, :width] = yuv[:height]
        half = stride // 2
        chroma = np.frombuffer(memory, np.uint8)[stride * height :]
        for plane in range(2):
            src = yuv[height + plane * height // 4 : height + (plane + 1) * height // 4].reshape(
                height // 2, width // 2
            )
            dst = chroma[plane * half * height // 2 : (plane + 1) * half * height // 2].reshape(height // 2, half)
            dst[:, : width // 2] = src


class _RequestBuffers(dict):
    """A request's buffers by stream (libcamera.Request.buffers), and which of each stream's buffers they are."""

    def __init__(self, buffers: dict, slot: int) -> None:
        super().__init__(buffers)
        self.slot = slot


class _Buffer(SimpleNamespace):
    """libcamera.FrameBuffer: one plane (a dma-buf fd and its length)."""

    __hash__ = object.__hash__  # type: ignore[assignment]  # by identity, as libcamera's objects


class _Stream(SimpleNamespace):
    """libcamera.Stream: its configuration (size, stride, frame_size, pixel_format)."""

    __hash__ = object.__hash__  # type: ignore[assignment]  # by identity, as libcamera's objects


def _MappedAllocator(base: type) -> Any:
    """picamera2's Allocator with buffers mapped from anonymous memory instead of dma-bufs."""

    class MappedAllocator(base):
        needs_sync = False

        def __init__(self) -> None:
            super().__init__()
            self.mapped_buffers: dict = {}
            self.activity = threading.Condition()  # notified as a buffer is mapped and as a request comes back
            self.released_count = 0
            self.held: set[int] = set()  # the slots of the requests out of libcamera's hands
            self.most_held = 0
            allocator = self

            class Sync:
                def __init__(self, _allocator: object, buffer: _Buffer, _write: bool) -> None:
                    self.buffer = buffer

                def __enter__(self) -> mmap.mmap:
                    with allocator.activity:
                        allocator.activity.notify_all()
                    return allocator.mapped_buffers[self.buffer]

                def __exit__(self, *exc) -> None:
                    pass

            self.sync = Sync

        def add(self, size: int, fd: int) -> _Buffer:
            import libcamera

            buffer = _Buffer(
                planes=[SimpleNamespace(fd=fd, offset=0, length=size)],
                metadata=SimpleNamespace(
                    status=libcamera.FrameMetadata.Status.Success, planes=[SimpleNamespace(bytes_used=size)]
                ),
            )
            self.mapped_buffers[buffer] = mmap.mmap(-1, size)
            return buffer

        def take_free_slot(self, count: int) -> int | None:
            """The first of ``count`` buffer slots libcamera has (now held), or None when all are held."""
            with self.activity:
                slot = next((slot for slot in range(count) if slot not in self.held), None)
                if slot is not None:
                    self.held.add(slot)
                    self.most_held = max(self.most_held, len(self.held))
                return slot

        def release(self, buffers: _RequestBuffers) -> None:
            """A request's buffers are back (``CompletedRequest.release``, its last reference gone)."""
            with self.activity:
                self.held.discard(buffers.slot)
                self.released_count += 1
                self.activity.notify_all()

    return MappedAllocator()


class _LibcameraRequest:
    """libcamera.Request as CompletedRequest reads it: buffers by stream, metadata, reuse().

    As in libcamera's Python bindings, every read of ``metadata`` converts the whole list
    (here: counts a read in ``reads[index]``)."""

    def __init__(self, buffers: dict, sensor_timestamp_ns: int, reads: list[int], index: int) -> None:
        self.buffers = buffers
        self._sensor_timestamp_ns = sensor_timestamp_ns
        self._reads = reads
        self._index = index

    @property
    def metadata(self) -> dict:
        import libcamera

        self._reads[self._index] += 1
        return {libcamera.controls.SensorTimestamp: self._sensor_timestamp_ns}

    def reuse(self) -> None:
        pass

    def set_control(self, control: object, value: object) -> None:
        pass
