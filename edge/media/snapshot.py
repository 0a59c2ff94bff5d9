"""Still pictures of the live camera, without decoding video all the time.

A snapshot asks the camera for an IDR, decodes that one picture with PyAV and encodes
it as JPEG (on a worker thread). Requests that come while one is being made share it,
and a picture younger than ``max_age_s`` is served again: twenty dashboards polling
at once cost one decode.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import TypedDict

import av

from edge.media.video import VideoHub
from hw.camera import H264AccessUnit
from hw.clock import monotonic_us

JPEG_QUALITY = 4  # FFmpeg's qscale for MJPEG: 2 (best) .. 31


class SnapshotsStatus(TypedDict):
    decodes: int


class SnapshotUnavailable(RuntimeError):
    """The camera gave no picture in time (it is restarting, or stalled)."""


def jpeg_of(unit: H264AccessUnit, width: int | None = None) -> bytes:
    """Decode one IDR access unit (with its SPS/PPS) and encode it as JPEG, ``width`` wide if given."""
    decoder = av.CodecContext.create("h264", "r")
    frames = decoder.decode(av.Packet(unit.data)) + decoder.decode(None)
    if not frames:
        raise SnapshotUnavailable("the keyframe did not decode")
    return jpeg_of_frame(frames[0], width)


def jpeg_of_frame(frame: av.VideoFrame, width: int | None = None) -> bytes:
    """A decoded picture as JPEG, scaled down to ``width`` if it is wider."""
    if width is not None and width < frame.width:
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        frame = frame.reformat(width=width, height=height)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)  # one picture: any rate will do
    encoder.options = {"qmin": str(JPEG_QUALITY), "qmax": str(JPEG_QUALITY)}
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in encoder.encode(frame) + encoder.encode(None))


class Snapshots:
    def __init__(self, video: VideoHub, max_age_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self._video = video
        self._max_age_us = int(max_age_s * 1e6)
        self._timeout_s = timeout_s
        self._latest: dict[int | None, tuple[int, bytes]] = {}  # width -> (capture time, JPEG)
        self._making: dict[int | None, asyncio.Task[tuple[int, bytes]]] = {}
        self.decodes = 0

    @property
    def width(self) -> int:
        """The camera's picture width: the largest a snapshot can be."""
        return self._video.settings.width

    async def jpeg(self, width: int | None = None) -> tuple[bytes, float]:
        """(JPEG, Unix time of its capture), at most ``max_age_s`` old."""
        latest = self._latest.get(width)
        if latest is not None and monotonic_us() - latest[0] <= self._max_age_us:
            return latest[1], self._wall_time(latest[0])
        task = self._making.get(width)
        if task is None:
            task = asyncio.ensure_future(self._make(width))
            self._making[width] = task
            task.add_done_callback(lambda _: self._making.pop(width, None))
        captured_us, jpeg = await asyncio.shield(task)
        return jpeg, self._wall_time(captured_us)

    async def _make(self, width: int | None) -> tuple[int, bytes]:
        queue = self._video.subscribe(maxlen=2)  # gated: starts at the IDR this asks for
        try:
            async with asyncio.timeout(self._timeout_s):
                unit = await queue.get()
        except TimeoutError:
            raise SnapshotUnavailable(f"no picture from the camera within {self._timeout_s:g} s") from None
        finally:
            self._video.unsubscribe(queue)
        self.decodes += 1
        jpeg = await asyncio.to_thread(jpeg_of, unit, width)
        self._latest[width] = (unit.timestamp_us, jpeg)
        return unit.timestamp_us, jpeg

    @staticmethod
    def _wall_time(captured_us: int) -> float:
        return time.time() - (monotonic_us() - captured_us) / 1e6

    def status(self) -> SnapshotsStatus:
        return {"decodes": self.decodes}
