"""Motion in the picture as a recording trigger, from the camera's small luma feed (nothing decoded).

:class:`MotionDetector` looks at each grey picture (about 320x240, a few a second):

- A background: a running average of earlier pictures, adapting slowly (pixels
  where motion is seen adapt slower still), so that slow changes (the sun moving,
  a shadow growing) become background and a person walking through does not.
- A brightness guard: each picture is first scaled so that its mean over the
  watched area matches the background's. A light switched on or a cloud changes
  the whole picture by one factor, which this cancels; if even so most of the
  picture changed, that was the light: the background becomes this picture, and
  nothing triggers.
- A pixel has changed when it differs from the background by more than a
  threshold (from ``sensitivity``); the picture shows motion when the changed
  pixels cover ``min_area`` percent of the watched area (the ``ignore``
  rectangles are not watched). Two pictures in a row start motion (a single one
  may be a glitch); motion ends ``hold_seconds`` after the last picture with motion.

:class:`MotionTrigger` runs the detector on a thread of its own (well under a millisecond a
picture here, more on a Pi): the camera's thread only hands each picture over, and should
the detector fall behind, the pictures it had no time for are dropped (``dropped`` in the
status), never the camera's frames. It tells the recorder on the event loop: ``hold``
from the last picture before the motion (it began after that one, so the pre-roll
counts from no later than its start), ``release`` at the last picture with motion
(so the clip ends ``post_seconds`` after the motion stopped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

import numpy as np

from edge.config import MotionConfig
from edge.service import OffState
from edge.triggers.source import ClipRecorder, InputStatus
from hw.camera import Camera, LumaFrame
from hw.worker import DroppingWorker

log = logging.getLogger(__name__)

NAME = "motion"  # the trigger's name in clips, status, metrics and MQTT
ADAPT = 0.05  # of the difference taken into the background per picture
ADAPT_WHERE_MOVING = 0.005
LIGHTING_AREA = 50.0  # percent changed even after the brightness guard: the light changed
START_PICTURES = 2
WAITING_PICTURES = 1  # pictures held for a busy detector: the newest replaces the one waiting
_STOP_TIMEOUT_S = 5.0


def threshold(sensitivity: int) -> float:
    """Luma levels a pixel must change by: 54.5 at sensitivity 1, 30 at 50, 5 at 100."""
    return 5 + (100 - sensitivity) * 0.5


def watched_mask(shape: tuple[int, int], ignore: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """True where motion counts: all but the ``ignore`` rectangles (x0, y0, x1, y1 in percent)."""
    height, width = shape
    mask = np.ones(shape, dtype=bool)
    for x0, y0, x1, y1 in ignore:
        mask[round(y0 * height / 100) : round(y1 * height / 100), round(x0 * width / 100) : round(x1 * width / 100)] = (
            False
        )
    return mask


@dataclass(frozen=True)
class MotionChange:
    active: bool
    at_us: int  # the last picture before the motion (active) or the last one with it (not active)


class MotionDetector:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._threshold = threshold(config.sensitivity)
        self._hold_us = round(config.hold_seconds * 1e6)
        self._background: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._pending_since_us: int | None = None  # motion began after this picture; not yet two in a row
        self._previous_us: int | None = None  # the picture before this one
        self._last_motion_us: int | None = None
        self.active = False
        self.changed_percent = 0.0  # in the last picture
        self.lighting_changes = 0

    def feed(self, pixels: np.ndarray, timestamp_us: int) -> MotionChange | None:
        """Look at one picture; the change of state it makes, if any."""
        try:
            return self._look(pixels.astype(np.float32), timestamp_us)
        finally:
            self._previous_us = timestamp_us

    def _look(self, picture: np.ndarray, timestamp_us: int) -> MotionChange | None:
        if self._background is None or self._background.shape != picture.shape:
            self._background = picture
            self._mask = watched_mask(picture.shape, self.config.ignore)
            return None
        background, mask = self._background, self._mask
        assert mask is not None
        mean = float(picture[mask].mean()) if mask.any() else 0.0
        if mean > 0:
            picture *= float(background[mask].mean()) / mean
        changed = (np.abs(picture - background) > self._threshold) & mask
        watched = int(mask.sum()) or 1
        self.changed_percent = 100.0 * int(changed.sum()) / watched
        if self.changed_percent > LIGHTING_AREA:
            self._background = picture
            self.lighting_changes += 1
            self._pending_since_us = None
            return self._end_if_held(timestamp_us)
        rate = np.where(changed, ADAPT_WHERE_MOVING, ADAPT).astype(np.float32)
        background += rate * (picture - background)
        if self.changed_percent >= self.config.min_area:
            return self._motion(timestamp_us)
        self._pending_since_us = None
        return self._end_if_held(timestamp_us)

    def _motion(self, timestamp_us: int) -> MotionChange | None:
        if self.active:
            self._last_motion_us = timestamp_us
            return None
        if self._pending_since_us is None:
            self._pending_since_us = self._previous_us if self._previous_us is not None else timestamp_us
            return None
        self.active = True
        self._last_motion_us = timestamp_us
        return MotionChange(True, self._pending_since_us)

    def _end_if_held(self, timestamp_us: int) -> MotionChange | None:
        if self.active and self._last_motion_us is not None and timestamp_us - self._last_motion_us > self._hold_us:
            self.active = False
            return MotionChange(False, self._last_motion_us)
        return None


def lateness_s(config: MotionConfig) -> float:
    """How long after its first picture motion reaches the recorder: the pictures that confirm it,
    and a picture's time on a slow camera thread."""
    return (START_PICTURES + 1) / config.fps if config.enabled else 0.0


class MotionStatus(TypedDict):
    enabled: Literal[True]
    inputs: list[InputStatus]
    active: bool
    events: int
    last_started: float | None
    changed_percent: float
    pictures: int
    dropped: int
    lighting_changes: int
    error: str | None


class MotionOffStatus(TypedDict):
    enabled: Literal[False]
    state: OffState


class MotionTrigger:
    """The camera's motion as the recorder's ``motion`` trigger; a service started before the camera
    (a Pi's camera sets its small luma stream up as it starts)."""

    name = "motion"
    names = (NAME,)

    def __init__(self, config: MotionConfig, camera: Camera, recorder: ClipRecorder) -> None:
        self.config = config
        self.detector = MotionDetector(config)
        self._camera = camera
        self._recorder = recorder
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Callable[[str, bool], None]] = []
        self.events = 0
        self.pictures = 0
        self.last_started: float | None = None  # Unix time
        self.busy_s = 0.0  # the detector's own time, all pictures
        self._worker: DroppingWorker[LumaFrame] = DroppingWorker(
            "motion-detector", self._on_picture, maxlen=WAITING_PICTURES
        )

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(name, active)`` hears motion start and end (as GPIO inputs' listeners do)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._worker.start()
        self._camera.watch_luma(self._worker.offer, self.config.fps)

    async def stop(self) -> None:
        self._loop = None  # pictures still on their way are not passed on
        await asyncio.to_thread(self._worker.stop, False, _STOP_TIMEOUT_S)

    def _on_picture(self, frame: LumaFrame) -> None:
        """On the detector's thread."""
        started = time.thread_time()
        change = self.detector.feed(frame.pixels, frame.timestamp_us)
        self.busy_s += time.thread_time() - started
        self.pictures += 1
        if change is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._changed, change)

    def _changed(self, change: MotionChange) -> None:
        if change.active:
            self.events += 1
            self.last_started = time.time()
            log.info("motion seen (%.1f %% of the picture changed)", self.detector.changed_percent)
            self._recorder.hold(NAME, change.at_us)
        else:
            log.info("motion ended")
            self._recorder.release(NAME, change.at_us)
        for listener in self._listeners:
            listener(NAME, change.active)

    def inputs(self) -> list[InputStatus]:
        return [{"name": NAME, "mode": "motion", "active": self.detector.active, "events": self.events}]

    def status(self) -> MotionStatus:
        return {
            "enabled": True,
            "inputs": self.inputs(),
            "active": self.detector.active,
            "events": self.events,
            "last_started": self.last_started,
            "changed_percent": round(self.detector.changed_percent, 2),
            "pictures": self.pictures,
            "dropped": self._worker.dropped,
            "lighting_changes": self.detector.lighting_changes,
            "error": self._camera.luma_error,  # e.g. the Pi's camera refused the small stream
        }


class NoMotion:
    """Motion's place when ``[motion] enabled = false``: no inputs, nothing heard."""

    name = "motion"
    names = ()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def inputs(self) -> list[InputStatus]:
        return []

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        pass

    def status(self) -> MotionOffStatus:
        return {"enabled": False, "state": OffState.OFF}
