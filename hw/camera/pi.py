"""The Raspberry Pi camera module through picamera2: a thin shell.

The VideoCore encoder (Pi Zero 2 W .. Pi 4) encodes H.264 in hardware; on a Pi 5 (no
H.264 block) picamera2 substitutes libx264. Either way picamera2 hands us each access
unit on its encoder thread; what we rely on inside picamera2 is in
``hw.camera.picamera2_ext``. picamera2 exists only on Raspberry Pi OS, so it is
imported lazily.

With ``low_settings`` the camera gives a second, small ``lores`` stream at the low
stream's size, and a second encoder of the same kind encodes it (the VideoCore runs two
sessions; on a Pi 5 a second libx264). Should the camera refuse that stream, or its
encoder not start, main goes on alone and ``low_error`` says why.

While something watches for motion (``watch_luma``), the lores stream's Y plane goes to
the luma sink a few times a second, from picamera2's ``post_callback`` on its camera
thread, sampled down to about ``LUMA_SIZE`` when lores is the low stream's; without a
low stream lores is configured at ``LUMA_SIZE`` for it alone. Should the camera refuse
lores, it records without it (``luma_error`` says why): motion detection then sees
nothing, the video goes on.

Starting a camera can take seconds and can fail half-way; whatever happens, a camera
that was opened is closed again, even when the start finishes after its caller gave
up (else every retry would find the camera busy).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from hw.camera import (
    LUMA_SIZE,
    Camera,
    CameraError,
    CameraSettings,
    H264AccessUnit,
    LumaFrame,
    LumaSink,
    StreamName,
    picamera2_ext,
)
from hw.camera.handoff import AccessUnitBridge
from hw.clock import monotonic_us

log = logging.getLogger(__name__)

# force_key_frame() arrived in 0.3.32: before it, keyframes come only every keyframe_interval.
MIN_PICAMERA2 = (0, 3, 32)
_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CameraInfo:
    model: str  # the sensor, e.g. "imx708"
    location: str = ""  # libcamera's id, e.g. "/base/soc/i2c0mux/i2c@1/imx708@1a"


def picamera2_version() -> str | None:
    try:
        return importlib.metadata.version("picamera2")
    except importlib.metadata.PackageNotFoundError:
        return None


def list_cameras() -> list[CameraInfo]:
    """The cameras libcamera sees (opens none)."""
    from picamera2 import Picamera2

    return [
        CameraInfo(str(info.get("Model", "unknown")), str(info.get("Id", "")))
        for info in Picamera2.global_camera_info()
    ]


def open_picamera2(picamera2_class: Any = None) -> Any:
    """The first camera, opened; a clear error when there is none.

    ``picamera2_class`` is ``picamera2.Picamera2`` (tests pass a stand-in).
    """
    if picamera2_class is None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError(f"picamera2 is not available ({exc}): sudo apt install python3-picamera2") from exc
        picamera2_class = Picamera2
    if not picamera2_class.global_camera_info():
        raise CameraError("no camera found: check the ribbon cable, then `edge doctor`")
    return picamera2_class()


class _Starting:
    """Between ``frames()`` and the thread that starts the camera: who closes a camera started after
    ``frames()`` gave up (the daemon stopping, a start beyond its limit). Not the event loop: by then
    it may be stopped, the start's task cancelled, and a done callback never called."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._camera: Any = None
        self._abandoned = False

    def started(self, camera: Any) -> bool:
        """On the starting thread: the camera is recording; False if it is no longer wanted (close it)."""
        with self._lock:
            self._camera = camera
            return not self._abandoned

    def abandon(self) -> Any:
        """``frames()`` ends: the started camera for it to close, or None (the starting thread closes it)."""
        with self._lock:
            self._abandoned = True
            return self._camera


class PiCamera(Camera):
    name = "picamera2"

    def __init__(self, settings: CameraSettings, open_camera: Callable[[], Any] = open_picamera2) -> None:
        """``open_camera`` returns an opened ``Picamera2`` (tests pass a stand-in)."""
        self.settings = settings
        self._open_camera = open_camera
        self._encoders: dict[StreamName, Any] = {}  # those recording
        self.luma_error: str | None = None  # why the last start has no luma feed, though one was asked for
        self.low_error: str | None = None  # why the last start has no low stream, though one was asked for

    def request_keyframe(self, stream: StreamName = "main") -> None:
        encoder = self._encoders.get(stream)
        if encoder is not None and hasattr(encoder, "force_key_frame"):  # picamera2 >= 0.3.32
            encoder.force_key_frame()

    async def frames(self) -> AsyncGenerator[H264AccessUnit, None]:
        bridge = AccessUnitBridge(
            asyncio.get_running_loop(), maxlen=self._bridge_length(), request_keyframe=self.request_keyframe
        )
        starting = _Starting()
        start = asyncio.ensure_future(asyncio.to_thread(self._start, bridge, starting))
        try:
            camera, self._encoders = await asyncio.shield(start)
            while True:
                yield await bridge.get()
        finally:
            self._encoders = {}
            start.add_done_callback(_retrieve_failure)
            camera = starting.abandon()
            if camera is not None:
                try:
                    async with asyncio.timeout(_STOP_TIMEOUT_S):
                        await asyncio.to_thread(_stop, camera)
                except TimeoutError:
                    log.error("the Pi camera did not stop within %g s", _STOP_TIMEOUT_S)

    def _start(self, bridge: AccessUnitBridge, starting: _Starting) -> tuple[Any, dict[StreamName, Any]]:
        """On a worker thread: open, configure and start recording; returns (camera, the encoders recording).

        The encoders start before the camera, so that both encode its first picture, main's first, so
        that a VideoCore with one encode session left gives it to main; should ``frames()`` have given
        up meanwhile, the camera is stopped and closed here."""
        s = self.settings
        camera = self._open_camera()
        try:
            encoders: dict[StreamName, Any] = {"main": picamera2_ext.make_h264_encoder(s)}
            if self.low_settings is not None:
                encoders["low"] = picamera2_ext.make_h264_encoder(self.low_settings)
            if not self._configure(camera, list(encoders.values())):
                encoders.pop("low", None)
            camera.start_encoder(encoders["main"], _output(encoders["main"], "main", bridge))
            if "low" in encoders and not self._start_low(camera, encoders["low"], bridge):
                del encoders["low"]
            camera.start()
        except Exception as exc:
            _stop(camera)
            raise CameraError(f"cannot start the Pi camera: {exc}") from exc
        if not starting.started(camera):
            log.info("the Pi camera started after it was no longer wanted: closing it")
            _stop(camera)
            return camera, encoders
        kind = "software (libx264)" if picamera2_ext.is_software_encoder(encoders["main"]) else "VideoCore hardware"
        low = self.low_settings
        log.info(
            "Pi camera started: %dx%d@%d, %s H.264 encoder%s, picamera2 %s",
            s.width,
            s.height,
            s.framerate,
            kind,
            f", low stream {low.width}x{low.height}" if low is not None and "low" in encoders else "",
            picamera2_version() or "?",
        )
        return camera, encoders

    def _start_low(self, camera: Any, encoder: Any, bridge: AccessUnitBridge) -> bool:
        """Start the low stream's encoder on lores; False (``low_error`` set) if it cannot."""
        try:
            camera.start_encoder(encoder, _output(encoder, "low", bridge), name=picamera2_ext.LORES)
        except Exception as exc:
            picamera2_ext.abandon(encoder)
            self.low_error = f"the low stream's encoder did not start: {exc}"
            log.warning("%s; main goes on without it", self.low_error)
            return False
        return True

    def _configure(self, camera: Any, encoders: list[Any]) -> bool:
        """Configure ``main`` for its encoder and, with ``low_settings``, ``lores`` at the low stream's
        size for the other (the luma sink, if any, taps it); returns whether lores is the low stream's.

        Should the camera refuse that lores stream, it is configured as without a low stream
        (``_configure_without_low``), and then ``low_error`` says why."""
        s = self.settings
        main = {"size": (s.width, s.height), "format": "YUV420"}
        controls = {"FrameRate": float(s.framerate)}
        self.luma_error = self.low_error = None
        refused = None
        low = self.low_settings
        if low is not None:
            lores = picamera2_ext.lores_config((low.width, low.height), (s.width, s.height))
            buffers = picamera2_ext.video_buffers(encoders)
            try:
                camera.configure(
                    camera.create_video_configuration(main=main, lores=lores, controls=controls, buffer_count=buffers)
                )
            except Exception as exc:
                width, height = lores["size"]
                refused = f"the camera refused a {width}x{height} lores stream for the low stream: {exc}"
            else:
                self._tap_luma(camera)
                return True
        self._configure_without_low(camera, main, controls)
        if refused is not None:  # and not main: that error would have stood
            self.low_error = refused
            log.warning("%s; main goes on without it", refused)
        return False

    def _configure_without_low(self, camera: Any, main: dict[str, Any], controls: dict[str, Any]) -> None:
        """``main`` and, while a luma sink is set, ``lores`` at ``LUMA_SIZE`` for it alone."""
        if self.luma_sink is None:
            camera.configure(camera.create_video_configuration(main=main, controls=controls))
            return
        lores = picamera2_ext.lores_config(LUMA_SIZE, main["size"])
        try:
            camera.configure(camera.create_video_configuration(main=main, lores=lores, controls=controls))
        except Exception as exc:
            # without lores; should this fail too, it was not the lores stream: that error stands
            camera.configure(camera.create_video_configuration(main=main, controls=controls))
            width, height = lores["size"]
            self.luma_error = f"the camera refused a {width}x{height} lores stream: {exc}"
            log.warning("%s; recording without a luma feed: motion detection sees nothing", self.luma_error)
            return
        self._tap_luma(camera)

    def _tap_luma(self, camera: Any) -> None:
        """With a luma sink, hand it the configured lores stream's Y plane (``_LumaTap``)."""
        if self.luma_sink is not None:
            size = picamera2_ext.lores_size(camera)
            camera.post_callback = _LumaTap(
                self.luma_sink, self.luma_fps, self.settings.framerate, size, self._luma_failed
            )

    def _luma_failed(self, error: str) -> None:
        self.luma_error = error


class _LumaTap:
    """picamera2's ``post_callback``: on its camera thread, for every completed request, hands
    the lores Y plane (of ``size``, sampled down to about ``LUMA_SIZE``) to the sink about ``fps``
    times a second of sensor time.

    It runs for every frame while picamera2 holds its lock, and reading a frame's sensor time
    converts all of its metadata (libcamera's Python binding converts the whole list at each
    read): so it reads the time only of the frame it predicts to be the one nearest the next
    picture's due time, predicting from the last time read and the camera's frame interval as
    measured between the frames it read (``camera_fps`` until then). A camera that gives fewer
    frames than asked (drops, a sensor mode that cannot reach the rate) still gives ``fps``
    pictures a second. Never raises: an exception would end picamera2's camera thread, and the
    video with it; a failure is logged once and given to ``failed`` (the camera's ``luma_error``).
    """

    def __init__(
        self, sink: LumaSink, fps: float, camera_fps: float, size: tuple[int, int], failed: Callable[[str], None]
    ) -> None:
        self._sink = sink
        self._period_us = 1e6 / (min(fps, camera_fps) if fps > 0 else 1.0)
        self._frame_us = 1e6 / camera_fps  # the camera's frame interval, as last measured
        self._size = size
        self._step = picamera2_ext.luma_step(size)
        self._failed = failed
        self._read_us: int | None = None  # the sensor time last read
        self._since_read = 0  # frames since that one
        self._due_us: float | None = None  # sensor time (CLOCK_BOOTTIME) of the next picture wanted
        self._failing = False

    def __call__(self, request: Any) -> None:
        self._since_read += 1
        if self._due_us is not None and self._predicted_us() + self._frame_us / 2 < self._due_us:
            return  # the frame nearest the due time is yet to come
        try:
            sensor_us = picamera2_ext.sensor_time_us(request)
            if self._read_us is not None:
                self._frame_us = (sensor_us - self._read_us) / self._since_read
            self._read_us, self._since_read = sensor_us, 0
            due_us = self._due_us
            if due_us is not None and sensor_us + self._frame_us / 2 < due_us:
                return  # came earlier than predicted: the interval is corrected for the next
            if due_us is None or sensor_us - due_us >= self._period_us:  # first, or frames went missing
                due_us = sensor_us
            self._due_us = due_us + self._period_us
            pixels = picamera2_ext.lores_luma(request, self._size, self._step)
            self._sink(LumaFrame(pixels, picamera2_ext.monotonic_capture_us(sensor_us)))
        except Exception as exc:
            if not self._failing:
                self._failing = True
                log.exception("the luma feed failed (logged once; the video goes on)")
                self._failed(f"the luma feed failed: {exc}")

    def _predicted_us(self) -> float:
        assert self._read_us is not None  # a due time is set only after a time was read
        return self._read_us + self._since_read * self._frame_us


def _output(encoder: Any, stream: StreamName, bridge: AccessUnitBridge) -> Any:
    """A picamera2 output handing ``encoder``'s access units to ``bridge`` as ``stream``'s, stamped with
    the sensor's capture time on our clock (the same for both streams' units of one picture)."""

    def deliver(data: bytes, keyframe: bool, sensor_us: int) -> None:
        captured_us = picamera2_ext.monotonic_capture_us(sensor_us)
        wall = time.time() - (monotonic_us() - captured_us) / 1e6
        bridge.put_threadsafe(H264AccessUnit(data, keyframe, captured_us, wall, stream))

    return picamera2_ext.make_output(encoder, deliver)


def _retrieve_failure(start: asyncio.Future[tuple[Any, dict[StreamName, Any]]]) -> None:
    """The start's error, if any, for a start ``frames()`` may have given up on (else asyncio warns
    that nobody retrieved it); when ``frames()`` awaited it, it was raised there too."""
    if not start.cancelled() and (error := start.exception()) is not None:
        log.debug("the Pi camera's start failed: %s", error)


def _stop(camera: Any) -> None:
    try:
        camera.stop_recording()
    except Exception as exc:  # not started, or already failed: closing is what matters
        log.debug("stop_recording: %s", exc)
    finally:
        camera.close()
