"""The Raspberry Pi camera module through picamera2: a thin shell.

The VideoCore encoder (Pi Zero 2 W .. Pi 4) encodes H.264 in hardware; on a Pi 5 (no
H.264 block) picamera2 substitutes libx264. Either way picamera2 hands us each access
unit on its encoder thread; what we rely on inside picamera2 is in
``hw.camera.picamera2_ext``. picamera2 exists only on Raspberry Pi OS, so it is
imported lazily.

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

from hw.camera import Camera, CameraError, CameraSettings, H264AccessUnit, picamera2_ext
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


class PiCamera(Camera):
    name = "picamera2"

    def __init__(self, settings: CameraSettings, open_camera: Callable[[], Any] = open_picamera2) -> None:
        """``open_camera`` returns an opened ``Picamera2`` (tests pass a stand-in)."""
        self.settings = settings
        self._open_camera = open_camera
        self._encoder: Any = None

    def request_keyframe(self) -> None:
        encoder = self._encoder
        if encoder is not None and hasattr(encoder, "force_key_frame"):  # picamera2 >= 0.3.32
            encoder.force_key_frame()

    async def frames(self) -> AsyncGenerator[H264AccessUnit, None]:
        bridge = AccessUnitBridge(asyncio.get_running_loop(), maxlen=60, request_keyframe=self.request_keyframe)
        start = asyncio.ensure_future(asyncio.to_thread(self._start, bridge))
        camera = None
        try:
            camera, self._encoder = await asyncio.shield(start)
            while True:
                yield await bridge.get()
        finally:
            self._encoder = None
            if camera is None:  # gave up (or failed) while starting: close it once started
                start.add_done_callback(_stop_in_background)
            else:
                try:
                    async with asyncio.timeout(_STOP_TIMEOUT_S):
                        await asyncio.to_thread(_stop, camera)
                except TimeoutError:
                    log.error("the Pi camera did not stop within %g s", _STOP_TIMEOUT_S)

    def _start(self, bridge: AccessUnitBridge) -> tuple[Any, Any]:
        """On a worker thread: open, configure and start recording; returns (camera, encoder)."""
        s = self.settings
        camera = self._open_camera()
        try:
            config = camera.create_video_configuration(
                main={"size": (s.width, s.height), "format": "YUV420"},
                controls={"FrameRate": float(s.framerate)},
            )
            camera.configure(config)
            encoder = picamera2_ext.make_h264_encoder(s)

            def deliver(data: bytes, keyframe: bool, sensor_us: int) -> None:
                captured_us = sensor_us - picamera2_ext.boottime_minus_monotonic_us()
                wall = time.time() - (monotonic_us() - captured_us) / 1e6
                bridge.put_threadsafe(H264AccessUnit(data, keyframe, captured_us, wall))

            camera.start_recording(encoder, picamera2_ext.make_output(encoder, deliver))
        except Exception as exc:
            _stop(camera)
            raise CameraError(f"cannot start the Pi camera: {exc}") from exc
        kind = "software (libx264)" if picamera2_ext.is_software_encoder(encoder) else "VideoCore hardware"
        log.info(
            "Pi camera started: %dx%d@%d, %s H.264 encoder, picamera2 %s",
            s.width,
            s.height,
            s.framerate,
            kind,
            picamera2_version() or "?",
        )
        return camera, encoder


def _stop(camera: Any) -> None:
    try:
        camera.stop_recording()
    except Exception as exc:  # not started, or already failed: closing is what matters
        log.debug("stop_recording: %s", exc)
    finally:
        camera.close()


def _stop_in_background(start: asyncio.Future) -> None:
    if start.cancelled() or start.exception() is not None:
        return  # nothing was opened, or _start closed it itself
    camera, _ = start.result()
    threading.Thread(target=_stop, args=(camera,), name="pi-camera-stop", daemon=True).start()
