"""The Raspberry Pi camera module through picamera2: a thin shell.

The VideoCore encoder (Pi Zero 2 W .. Pi 4) encodes H.264 in hardware; picamera2
hands us each access unit on its encoder thread. On a Pi 5 (no H.264 block)
picamera2 substitutes libx264 (``LibavH264Encoder``), which we set up for low
latency (one thread: frame threading holds 2-5 frames back).
picamera2 exists only on Raspberry Pi OS, so it is imported here, lazily.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import time
from dataclasses import dataclass
from typing import AsyncIterator

from hw.bridge import ThreadBridge
from hw.camera import Camera, CameraError, CameraSettings, H264AccessUnit

log = logging.getLogger(__name__)

# force_key_frame() arrived in 0.3.32: before it, keyframes come only every keyframe_interval.
MIN_PICAMERA2 = (0, 3, 32)


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

    return [CameraInfo(str(info.get("Model", "unknown")), str(info.get("Id", ""))) for info in Picamera2.global_camera_info()]


class PiCamera(Camera):
    name = "picamera2"

    def __init__(self, settings: CameraSettings) -> None:
        self.settings = settings
        self._encoder = None

    def request_keyframe(self) -> None:
        encoder = self._encoder
        if encoder is not None and hasattr(encoder, "force_key_frame"):  # picamera2 >= 0.3.32
            encoder.force_key_frame()

    async def frames(self) -> AsyncIterator[H264AccessUnit]:
        bridge: ThreadBridge[H264AccessUnit] = ThreadBridge(asyncio.get_running_loop(), maxlen=60)
        camera = await asyncio.to_thread(self._start, bridge)
        try:
            while True:
                yield await bridge.get()
        finally:
            self._encoder = None
            await asyncio.to_thread(_stop, camera)

    def _start(self, bridge: ThreadBridge[H264AccessUnit]):
        try:
            from picamera2 import Picamera2
            from picamera2.encoders import H264Encoder
            from picamera2.outputs import Output
        except ImportError as exc:
            raise CameraError(f"picamera2 is not available: {exc}") from exc

        s = self.settings

        class AccessUnitOutput(Output):
            """Receives one encoded access unit per call, on picamera2's encoder thread."""

            clock_offset_us: int | None = None

            def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
                if audio:
                    return
                now_us = time.monotonic_ns() // 1000
                if timestamp is None:
                    timestamp = now_us
                # Keep the sensor's exact frame spacing, on our monotonic clock.
                if self.clock_offset_us is None:
                    self.clock_offset_us = now_us - timestamp
                captured_us = timestamp + self.clock_offset_us
                wall = time.time() - (now_us - captured_us) / 1e6
                bridge.put_threadsafe(H264AccessUnit(bytes(frame), bool(keyframe), captured_us, wall))

        try:
            camera = Picamera2()
            config = camera.create_video_configuration(
                main={"size": (s.width, s.height), "format": "YUV420"},
                controls={"FrameRate": float(s.framerate)},
                buffer_count=4,
            )
            camera.configure(config)
            encoder = H264Encoder(bitrate=s.bitrate, repeat=True, iperiod=s.gop_frames, profile="baseline")
            if type(encoder).__name__ == "LibavH264Encoder":  # Pi 5: software encoder
                encoder.threads = 1
                log.info("Pi 5 software H.264 encoder: single-threaded for low latency")
            camera.start_recording(encoder, AccessUnitOutput())
        except Exception as exc:
            raise CameraError(f"cannot start the Pi camera: {exc}") from exc
        self._encoder = encoder
        return camera


def _stop(camera) -> None:
    try:
        camera.stop_recording()
    finally:
        camera.close()
