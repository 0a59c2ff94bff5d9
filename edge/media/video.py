"""The video hub: one camera, any number of consumers, no decoding."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import replace
from typing import TypedDict

from edge.media.fanout import Fanout
from edge.media.h264 import ParameterSetCache, baseline_profile_level_id
from edge.media.supervisor import SourceState, Supervisor
from edge.service import BackgroundTask
from hw.camera import Camera, CameraSettings, H264AccessUnit, StreamName
from hw.consumer_queue import ConsumerQueue

log = logging.getLogger(__name__)

# One IDR serves every viewer that asked for it: requests within this window,
# while an IDR is already on its way, are folded into that one.
KEYFRAME_DEBOUNCE_S = 0.25
# The span over which a stream's bitrate is measured (a GOP of the default 2 s, so that IDRs are averaged in).
RATE_WINDOW_US = 2_000_000
# Opening a Pi camera and its encoder takes a few seconds on a Zero 2 W: more is a failure.
CAMERA_START_TIMEOUT_S = 30.0


class LowStreamStatus(TypedDict):
    width: int
    height: int
    bitrate: int
    frames: int
    keyframes_forced: int
    consumers: int
    error: str | None  # why the camera gives none since its last start (Camera.low_error): main goes on


class CameraStatus(TypedDict):
    backend: str
    state: SourceState
    width: int
    height: int
    framerate: int
    bitrate: int
    profile_level_id: str | None
    frames: int
    keyframes_forced: int
    restarts: int
    last_error: str | None
    low: LowStreamStatus | None  # the second, small stream; None when there is none


class EncodedStream:
    """One of the camera's encoded streams (main or low) as its consumers see it: a fan-out
    that starts each consumer at a keyframe, and keyframe requests to that stream's encoder only."""

    def __init__(self, name: StreamName, settings: CameraSettings, camera: Camera) -> None:
        self.name = name
        self.settings = settings
        self._camera = camera
        self._fanout: Fanout[H264AccessUnit] = Fanout(gated=True, on_gap=self.request_keyframe)
        self._parameter_sets = ParameterSetCache()
        self._keyframe_pending_since: float | None = None
        self._profile_known = asyncio.Event()
        self.frames = 0
        self._recent: deque[tuple[int, int]] = deque()  # (capture time, bytes) of the last RATE_WINDOW_US
        self._recent_bytes = 0
        self.keyframe_requests = 0
        self.keyframes_forced = 0

    @property
    def profile_level_id(self) -> str | None:
        """What the encoder really makes, read from its SPS (None before the first IDR)."""
        return self._parameter_sets.profile_level_id

    def subscribe(self, maxlen: int = 30) -> ConsumerQueue[H264AccessUnit]:
        """A new consumer: it gets nothing until the next keyframe, which is requested now."""
        queue = self._fanout.subscribe(maxlen)
        self.request_keyframe()
        return queue

    def unsubscribe(self, queue: ConsumerQueue[H264AccessUnit]) -> None:
        self._fanout.unsubscribe(queue)

    @property
    def consumers(self) -> int:
        return len(self._fanout)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        now = time.monotonic()
        if self._keyframe_pending_since is not None and now - self._keyframe_pending_since < KEYFRAME_DEBOUNCE_S:
            return
        self._keyframe_pending_since = now
        self.keyframes_forced += 1
        self._camera.request_keyframe(self.name)

    @property
    def rate_bps(self) -> float:
        """What the encoder really makes, in bits per second over the last two seconds (a still scene
        takes far less than the bitrate it was given): what a viewer's link has to carry."""
        recent = self._recent
        if len(recent) < 2:
            return float(self.settings.bitrate)
        span_us = recent[-1][0] - recent[0][0]
        return (self._recent_bytes - recent[-1][1]) * 8e6 / span_us if span_us > 0 else float(self.settings.bitrate)

    def publish(self, unit: H264AccessUnit) -> None:
        self.frames += 1
        recent = self._recent
        recent.append((unit.timestamp_us, len(unit.data)))
        self._recent_bytes += len(unit.data)
        while unit.timestamp_us - recent[0][0] > RATE_WINDOW_US:
            self._recent_bytes -= recent.popleft()[1]
        if unit.keyframe:
            self._keyframe_pending_since = None
            data = self._parameter_sets.ensure_headers(unit.data)
            if data is not unit.data:
                unit = replace(unit, data=data)
            self._profile_known.set()
        self._fanout.publish(unit)

    async def wait_for_profile(self, timeout: float) -> str:
        """The stream's ``profile-level-id`` for SDP, waiting (bounded) for the first SPS so that an
        early viewer gets an honest answer; if none comes in time, the one its settings most likely give."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._profile_known.wait(), timeout)
        s = self.settings
        return self.profile_level_id or baseline_profile_level_id(s.width, s.height, s.framerate, s.bitrate)


class VideoHub:
    """The camera as a service: started, it keeps the camera running and hands its frames on.

    ``main`` is the camera's stream as its settings say; ``low``, when the camera makes one, the
    small one for weak links. What the hub itself offers (``subscribe``, ``request_keyframe``...)
    is ``main``'s: recordings, snapshots, RTSP and publishing use it.
    """

    name = "camera"

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self._running = BackgroundTask("camera")
        self.main = EncodedStream("main", camera.settings, camera)
        self.low = EncodedStream("low", camera.low_settings, camera) if camera.low_settings is not None else None
        settings = camera.settings
        self.supervisor = Supervisor(
            f"camera ({camera.name})",
            camera.frames,
            self._publish,
            stall_timeout=max(3.0, 10 / settings.framerate),
            start_timeout=CAMERA_START_TIMEOUT_S,
        )

    @property
    def settings(self) -> CameraSettings:
        return self.camera.settings

    @property
    def profile_level_id(self) -> str | None:
        return self.main.profile_level_id

    @property
    def keyframes_forced(self) -> int:
        return self.main.keyframes_forced

    async def start(self) -> None:
        self._running.start(self.supervisor.run())

    async def stop(self) -> None:
        await self._running.stop()

    def stream(self, name: StreamName) -> EncodedStream:
        """The stream by name; ``low`` is ``main`` when the camera makes no low stream (none configured, or it
        could not start one: ``Camera.low_error``)."""
        low = self.low
        return low if name == "low" and low is not None and self.camera.low_error is None else self.main

    def subscribe(self, maxlen: int = 30) -> ConsumerQueue[H264AccessUnit]:
        return self.main.subscribe(maxlen)

    def unsubscribe(self, queue: ConsumerQueue[H264AccessUnit]) -> None:
        self.main.unsubscribe(queue)

    @property
    def consumers(self) -> int:
        return self.main.consumers

    def request_keyframe(self) -> None:
        self.main.request_keyframe()

    def _publish(self, unit: H264AccessUnit) -> None:
        if unit.stream == "main":
            self.main.publish(unit)
        elif self.low is not None:  # never into main's consumers: recordings are of main's pictures only
            self.low.publish(unit)

    async def wait_for_profile(self, timeout: float) -> str:
        return await self.main.wait_for_profile(timeout)

    def status(self) -> CameraStatus:
        s = self.settings
        sup = self.supervisor
        low = self.low
        return {
            "backend": self.camera.name,
            "state": sup.state,
            "width": s.width,
            "height": s.height,
            "framerate": s.framerate,
            "bitrate": s.bitrate,
            "profile_level_id": self.profile_level_id,
            "frames": sup.items,
            "keyframes_forced": self.keyframes_forced,
            "restarts": sup.restarts,
            "last_error": sup.last_error,
            "low": None
            if low is None
            else {
                "width": low.settings.width,
                "height": low.settings.height,
                "bitrate": low.settings.bitrate,
                "frames": low.frames,
                "keyframes_forced": low.keyframes_forced,
                "consumers": low.consumers,
                "error": self.camera.low_error,
            },
        }
