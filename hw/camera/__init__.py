"""The camera interface: encoded H.264 access units out, keyframe requests in; and,
for motion detection, a small unencoded grey picture a few times a second.

A camera encodes one or two streams of the same pictures: ``main`` (what its settings
say: recordings, RTSP, viewers on a good link) and, when ``low_settings`` are given,
``low`` (a small picture at a low bitrate, for viewers on a weak link), each by an
encoder of its own, each with keyframes on request."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

# The luma feed's size: plenty to see a person move, ~77 kB a picture.
LUMA_SIZE = (320, 240)


@dataclass(frozen=True, slots=True)
class CameraSettings:
    width: int = 1280
    height: int = 720
    framerate: int = 30
    bitrate: int = 2_000_000
    keyframe_interval: float = 2.0  # seconds

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.keyframe_interval * self.framerate))


StreamName = Literal["main", "low"]


@dataclass(frozen=True, slots=True)
class H264AccessUnit:
    """One encoded picture as the camera produced it.

    ``data`` is Annex-B (start codes), exactly one access unit; an IDR carries its
    SPS and PPS in-band. ``timestamp_us`` is the capture time on the monotonic
    clock (microseconds), used for RTP and recording timing; ``wall_time`` is the
    same instant as Unix time, for humans and file names. ``stream``: which of the
    camera's encoders made it (both stamp a picture with the same capture time).
    """

    data: bytes
    keyframe: bool
    timestamp_us: int
    wall_time: float
    stream: StreamName = "main"


@dataclass(frozen=True, slots=True)
class LumaFrame:
    """The camera's picture as luma (Y) only, scaled down: what motion detection looks at.

    ``pixels``: a (height, width) uint8 array the receiver may keep (nobody writes to it
    afterwards); ``timestamp_us``: its capture time, on the clock of :class:`H264AccessUnit`.
    """

    pixels: np.ndarray
    timestamp_us: int


LumaSink = Callable[[LumaFrame], None]


class CameraError(RuntimeError):
    """The camera cannot start or has stopped producing frames."""


class Camera(abc.ABC):
    """A source of hardware-encoded H.264.

    ``frames()`` starts capture and yields access units paced in real time until
    the consumer stops iterating (capture then stops) or the camera fails (raises
    :class:`CameraError`): those of the main stream and, with ``low_settings``,
    those of the low stream, interleaved. ``request_keyframe(stream)`` asks that
    stream's encoder (only) for an IDR next; it is cheap and safe to call from the
    event loop at any time.
    """

    name: str
    settings: CameraSettings
    low_settings: CameraSettings | None = None  # the second, small stream's (same frame rate and GOP)
    luma_sink: LumaSink | None = None
    luma_fps: float = 0.0
    luma_error: str | None = None  # why a luma feed that was asked for does not come (the video goes on)
    low_error: str | None = None  # why the low stream that was asked for does not come (main goes on)

    @abc.abstractmethod
    def frames(self) -> AsyncGenerator[H264AccessUnit, None]: ...

    @abc.abstractmethod
    def request_keyframe(self, stream: StreamName = "main") -> None: ...

    def _bridge_length(self) -> int:
        """How many access units the hand-off to the event loop holds: about two seconds of each stream."""
        return (2 if self.low_settings is None else 4) * self.settings.framerate

    def watch_luma(self, sink: LumaSink, fps: float) -> None:
        """From the next ``frames()`` on, also hand ``sink`` a :class:`LumaFrame` of about
        :data:`LUMA_SIZE` about ``fps`` times a second, on the camera's own thread (the
        sink must be quick and thread-safe). No H.264 is decoded for it: the Pi's camera
        gives a second, small unencoded stream; the simulated one its picture before encoding.
        """
        self.luma_sink = sink
        self.luma_fps = fps


def open_camera(
    backend: str, settings: CameraSettings, low: CameraSettings | None = None, av_sync: bool = False
) -> Camera:
    """Create a camera by backend name: ``"picamera2"`` or ``"simulated"`` (``low``: the second stream's
    settings, if one is wanted; ``av_sync``: the simulated camera's A/V sync mode)."""
    camera: Camera
    if backend == "picamera2":
        from hw.camera.pi import PiCamera

        camera = PiCamera(settings)
    elif backend == "simulated":
        from hw.camera.simulated import SimulatedCamera

        camera = SimulatedCamera(settings, av_sync)
    else:
        raise ValueError(f"unknown camera backend {backend!r}")
    camera.low_settings = low
    return camera


def low_stream_settings(main: CameraSettings, width: int, height: int, bitrate: int) -> CameraSettings | None:
    """The low stream's settings: ``height`` 0 keeps the main picture's aspect ratio; None when the
    main picture is no larger (nothing to gain)."""
    if height == 0:
        height = max(2, round(main.height * width / main.width / 2) * 2)
    if width >= main.width or height >= main.height:
        return None
    return CameraSettings(width, height, main.framerate, min(bitrate, main.bitrate), main.keyframe_interval)
