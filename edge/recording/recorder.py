"""The recorder: a pre-trigger ring fed by the hubs, and at most one clip being written.

Every video frame and audio packet goes into the ring (:class:`MediaRing`). A
trigger opens a clip at the last keyframe at or before ``trigger - pre_seconds``
and from then on the clip takes from the ring everything up to the newest frame
and before the planned end (:class:`ClipPlan`), so a retrigger that arrives a
little late (debouncing delays it) still extends the clip seamlessly: frames
past the planned end wait a moment (the longest debounce, and a little more)
before the clip is closed.

A clip longer than ``max_clip_seconds`` continues in a new file from the next
keyframe. Storage problems end the clip cleanly; the live stream never notices.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypedDict, TypeVar

import av

from edge.config import MANUAL_TRIGGER, RecordingConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.recording.library import ClipInfo, Library
from edge.recording.plan import ClipPlan
from edge.recording.retention import MB, Limits, choose_deletions
from edge.recording.ring import MediaRing
from edge.recording.writer import ClipWriter, describe_error
from edge.service import BackgroundTask
from hw.camera import H264AccessUnit
from hw.clock import monotonic_us
from hw.consumer_queue import ConsumerQueue, QueueClosed

log = logging.getLogger(__name__)

Item = TypeVar("Item")

SETTLE_US = 250_000  # besides the debounce: how late a trigger may reach us after its edge
HOUSEKEEPING_S = 2.0
STALL_US = 3_000_000  # no video this long after the planned end: close the clip with what it has
MIN_FREE_FLOOR = 1 * MB  # below this a clip is not worth starting, whatever min_free_mb says


class RecorderState(StrEnum):
    IDLE = "idle"
    WAITING = "waiting for the camera"  # triggered, no keyframe to start the clip at yet
    RECORDING = "recording"


class StorageState(StrEnum):
    OK = "ok"
    FULL = "full"
    ERROR = "error"


class ReasonStatus(TypedDict):
    name: str
    held: bool


class StorageStatus(TypedDict):
    state: StorageState
    detail: str | None
    dir: str
    free_mb: int | None
    clips: int
    clips_mb: float


class BufferStatus(TypedDict):
    seconds: float
    bytes: int
    frames: int
    packets: int


class RecorderStatus(TypedDict):
    state: RecorderState
    clip: str | None
    started_at: float | None
    clips_written: int
    reasons: list[ReasonStatus]
    ends_at: float | None
    storage: StorageStatus
    last_error: str | None
    last_error_at: float | None
    buffer: BufferStatus


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


@dataclass
class _OpenClip:
    info: ClipInfo
    writer: ClipWriter
    start_us: int
    video_cursor_us: int  # the newest video timestamp handed to the writer
    audio_cursor_us: int
    first_save: asyncio.Task[None]  # the sidecar that says "being written"


class Recorder:
    """A service: started, it keeps the pre-trigger ring filled and writes the clips triggers ask for."""

    name = "recorder"

    def __init__(
        self,
        video: VideoHub,
        audio: AudioHub | None,
        config: RecordingConfig,
        root: Path,
        late_trigger_s: float = 0.0,
        clock: Callable[[], int] = monotonic_us,
    ) -> None:
        """``late_trigger_s``: how long after its edge a trigger may be reported (the longest debounce)."""
        self._video = video
        self._audio = audio
        self._opus_header = audio.opus_header if audio else None
        self._pre_us = _us(config.pre_seconds)
        self.post_us = _us(config.post_seconds)
        self.max_clip_us = _us(config.max_clip_seconds)
        self._settle_us = SETTLE_US + _us(late_trigger_s)
        self._clock = clock
        self._max_backlog_bytes = config.buffer_max_mb * MB
        self.limits = Limits(config.max_total_mb * MB, config.max_age_days * 86400, config.min_free_mb * MB)
        # The ring also covers the settle time: a trigger is reported up to that late.
        self.ring = MediaRing(self._pre_us + self._settle_us, config.buffer_max_mb * MB)
        self.library = Library(root)
        self.plan = ClipPlan()
        self._clip: _OpenClip | None = None
        self._finalizing: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[bool], None]] = []
        self._last_video_us = clock()
        self._stopping = False
        self._running = BackgroundTask("recorder")
        self.storage = StorageState.OK
        self.storage_detail: str | None = None
        self.free_bytes: int | None = None
        self.clips_written = 0  # finished since start (for /metrics, and the page notices a clip is complete)
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    # --- what triggers call ------------------------------------------------------------

    def event(self, name: str, at_us: int, after_us: int | None = None) -> None:
        """Record from ``pre_seconds`` before ``at_us`` until ``after_us`` (default ``post_seconds``) after it."""
        self.plan.event(name, at_us, self.post_us if after_us is None else after_us)
        self._start(at_us)

    def hold(self, name: str, at_us: int | None = None) -> None:
        """Record while ``name`` is held (since ``at_us``, default now), and ``post_seconds`` after its release."""
        self.plan.hold(name, self.post_us)
        self._start(self._clock() if at_us is None else at_us)

    def release(self, name: str, at_us: int) -> None:
        self.plan.release(name, at_us)

    def record(self, seconds: float | None) -> str | None:
        """A manual clip (the page, the API) of ``seconds`` (default: up to ``max_clip_seconds``)."""
        self.event(MANUAL_TRIGGER, self._clock(), self.max_clip_us if seconds is None else _us(seconds))
        return self._clip.info.name if self._clip else None

    def stop_clip(self, why: str = "stopped") -> str | None:
        """End the clip now, whatever asked for it; returns its name."""
        clip = self._clip
        if clip is not None:
            self._advance(self._clock() + 1)
            self._end(why)
        self.plan.reset()
        return clip.info.name if clip else None

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        """``listener(recording)`` is called when recording starts and when it stops (the LED)."""
        self._listeners.append(listener)

    @property
    def recording(self) -> bool:
        return self._clip is not None

    # --- running -----------------------------------------------------------------------

    async def start(self) -> None:
        self._running.start(self._run())

    async def _run(self) -> None:
        await self._load_library()
        video_queue = self._video.subscribe(maxlen=2 * self._video.settings.framerate)
        audio_queue = self._audio.subscribe(maxlen=100) if self._audio else None
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_pump(video_queue, self._on_video))
                if audio_queue is not None:
                    tasks.create_task(_pump(audio_queue, self.ring.add_audio))
                tasks.create_task(self._housekeeping())
        finally:
            self._video.unsubscribe(video_queue)
            if audio_queue is not None and self._audio:
                self._audio.unsubscribe(audio_queue)

    async def stop(self) -> None:
        """Close the clip being written (SIGTERM) and wait until every clip has its index and sidecar."""
        self._stopping = True
        if self._clip is not None:
            self.stop_clip("shutdown")
        if self._finalizing:
            await asyncio.gather(*self._finalizing, return_exceptions=True)
        await self._running.stop()

    async def _load_library(self) -> None:
        try:
            for info in await asyncio.to_thread(self.library.scan):
                self.library.add(info)
        except OSError as exc:
            self._storage_problem(StorageState.ERROR, f"cannot use {self.library.root}: {describe_error(exc)}")

    # --- media -------------------------------------------------------------------------

    def _on_video(self, unit: H264AccessUnit) -> None:
        self.ring.add_video(unit)
        self._last_video_us = self._clock()
        clip = self._clip
        end = self.plan.end_us
        if clip is None:
            if self.plan.active and unit.keyframe:  # waiting for the camera's first keyframe
                if end is None or unit.timestamp_us < end:
                    self._open(unit.timestamp_us)
                else:
                    self.plan.reset()  # it ran out while the camera was away
            return
        split = unit.keyframe and unit.timestamp_us - clip.start_us >= self.max_clip_us
        split = split and (end is None or unit.timestamp_us < end)
        self._advance(unit.timestamp_us if split else unit.timestamp_us + 1)
        if clip.writer.backlog_bytes > self._max_backlog_bytes:
            self._error(f"{clip.info.name}: storage too slow, clip ended early")
            self._end("error: storage too slow")
        elif split:  # this keyframe starts the next file
            self._close("split: max_clip_seconds")
            self._open(unit.timestamp_us)
        elif end is not None and unit.timestamp_us >= end + self._settle_us:
            self._end("finished")

    def _start(self, at_us: int) -> None:
        if self._stopping:
            self.plan.reset()
            return
        if self._clip is not None:  # the plan was extended: the open clip goes on
            triggers = self._clip.info.triggers
            triggers.extend(n for n in self.plan.names if n not in triggers)
            return
        if self.storage == StorageState.FULL:
            self.plan.reset()
            self._error(f"not recording: {self.storage_detail}")
            return
        start_us = self.ring.start_for(at_us - self._pre_us)
        if start_us is None:
            self._video.request_keyframe()  # nothing buffered yet: start at the next keyframe, soon
        else:
            self._open(start_us)

    def _open(self, start_us: int) -> None:
        first = self.ring.video_between(start_us - 1, start_us + 1)[0]
        info = self.library.new_clip(self.plan.names[0] if self.plan.names else MANUAL_TRIGGER, first.wall_time)
        info.triggers = list(self.plan.names)
        info.has_audio = self._opus_header is not None
        writer = ClipWriter(
            self.library.path(info.name),
            self._video.settings.framerate,
            self._opus_header,
            on_error=functools.partial(self._on_writer_error, info.name),
        )
        first_save = self._background(self._save(info))
        self._clip = _OpenClip(info, writer, start_us, start_us - 1, start_us - 1, first_save)
        log.info("recording %s (%s)", info.name, ", ".join(info.triggers) or MANUAL_TRIGGER)
        self._notify(True)

    def _advance(self, before_us: int) -> None:
        """Hand the clip what the ring holds up to ``before_us`` and before the planned end."""
        clip = self._clip
        assert clip is not None, "only while a clip is open"
        end = self.plan.end_us
        limit = before_us if end is None else min(before_us, end)
        for unit in self.ring.video_between(clip.video_cursor_us, limit):
            clip.writer.add(unit)
            clip.video_cursor_us = unit.timestamp_us
        for packet in self.ring.audio_between(clip.audio_cursor_us, limit):
            clip.writer.add(packet)
            clip.audio_cursor_us = packet.timestamp_us

    # --- ending ------------------------------------------------------------------------

    def _close(self, why: str) -> None:
        clip, self._clip = self._clip, None
        assert clip is not None, "only while a clip is open"
        self._background(self._finalize(clip, why))

    def _end(self, why: str) -> None:
        self._close(why)
        self.plan.reset()
        self._notify(False)

    def _on_writer_error(self, name: str, error: str) -> None:
        self._storage_problem(StorageState.ERROR, error)
        self._error(f"{name}: {error}; clip ended early")
        if self._clip is not None and self._clip.info.name == name:
            self._end(f"error: {error}")

    async def _finalize(self, clip: _OpenClip, why: str) -> None:
        outcome = await clip.writer.finish()
        await clip.first_save  # never let it overwrite the final sidecar
        info = clip.info
        if outcome.frames == 0:
            self.library.forget(info.name)
            await self._disk(self.library.delete_files, info.name)
            return
        info.duration_s = round(outcome.duration_s, 3)
        info.size_bytes = outcome.size_bytes
        info.frames = outcome.frames
        info.has_audio = outcome.has_audio
        info.ended_by = f"error: {outcome.error}" if outcome.error else why
        log.info("clip %s: %.1f s, %.1f MB (%s)", info.name, info.duration_s, info.size_bytes / MB, info.ended_by)
        try:
            await asyncio.to_thread(self.library.make_poster, info.name)
            info.poster = True
        except (OSError, av.FFmpegError, StopIteration) as exc:  # the clip stays; only its picture is missing
            log.warning("clip %s: no poster picture: %s", info.name, describe_error(exc))
        # Complete (so that it can be deleted) only once its final sidecar is on disk.
        await self._save(dataclasses.replace(info, complete=True))
        info.complete = True
        self.clips_written += 1
        await self._housekeep()

    async def _save(self, info: ClipInfo) -> None:
        snapshot = dataclasses.replace(info, triggers=list(info.triggers))  # the loop goes on changing info
        await self._disk(self.library.save, snapshot)

    async def _disk(self, fn: Callable[..., object], *args: object) -> None:
        """Run a blocking disk operation in a thread; a failure is reported, never raised."""
        try:
            await asyncio.to_thread(fn, *args)
        except OSError as exc:
            self._storage_problem(StorageState.ERROR, describe_error(exc))

    def _background(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._finalizing.add(task)
        task.add_done_callback(self._finalizing.discard)
        return task

    # --- storage -----------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await self._housekeep()
            self._check_stalled()
            await asyncio.sleep(HOUSEKEEPING_S)

    async def _housekeep(self) -> None:
        """Retention, and whether there is room to record."""
        try:
            free = await asyncio.to_thread(self._free_bytes)
            doomed = choose_deletions(self.library.clips(), free, time.time(), self.limits)
            if doomed:
                for name in doomed:
                    self.library.forget(name)
                log.info("retention: deleting %s", ", ".join(doomed))
                await asyncio.to_thread(self._delete, doomed)
                free = await asyncio.to_thread(self._free_bytes)
        except OSError as exc:
            self._storage_problem(StorageState.ERROR, f"{self.library.root}: {describe_error(exc)}")
            return
        self.free_bytes = free
        needed = max(self.limits.min_free_bytes, MIN_FREE_FLOOR)
        if free < needed:
            detail = f"disk nearly full: {free / MB:.0f} MB free, {needed / MB:.0f} MB needed (recording.min_free_mb)"
            self._storage_problem(StorageState.FULL, detail)
            if self._clip is not None:
                self._error(f"{self._clip.info.name}: {detail}; clip ended early")
                self.stop_clip("disk nearly full")
        elif self.storage != StorageState.OK:
            log.info("recordings: storage usable again")
            self.storage, self.storage_detail = StorageState.OK, None

    def _free_bytes(self) -> int:
        root = self.library.root
        root.mkdir(parents=True, exist_ok=True)  # it may have vanished: make it again
        if not os.access(root, os.W_OK):
            raise PermissionError(13, "not writable (read-only file system?)")
        return shutil.disk_usage(root).free

    def _delete(self, names: list[str]) -> None:
        for name in names:
            self.library.delete_files(name)

    def _check_stalled(self) -> None:
        """The camera went away after the planned end: close the clip with what it has."""
        end = self.plan.end_us
        now_us = self._clock()
        if self._clip is None or end is None or now_us - self._last_video_us < STALL_US:
            return
        if now_us >= end + self._settle_us:
            self._advance(end)
            self._end("finished (camera stalled)")

    def _storage_problem(self, state: StorageState, detail: str) -> None:
        if (self.storage, self.storage_detail) != (state, detail):
            log.warning("recordings: %s", detail)
        self.storage, self.storage_detail = state, detail

    def _error(self, message: str) -> None:
        log.warning("recording: %s", message)
        self.last_error, self.last_error_at = message, time.time()

    def _notify(self, recording: bool) -> None:
        for listener in self._listeners:
            listener(recording)

    # --- status ------------------------------------------------------------------------

    def status(self) -> RecorderStatus:
        clip = self._clip
        end = self.plan.end_us
        held = self.plan.held
        return {
            "state": RecorderState.RECORDING
            if clip
            else (RecorderState.WAITING if self.plan.active else RecorderState.IDLE),
            "clip": clip.info.name if clip else None,
            "started_at": clip.info.started_at if clip else None,
            "clips_written": self.clips_written,
            "reasons": [{"name": n, "held": n in held} for n in self.plan.names],
            "ends_at": None if end is None else round(time.time() + (end - self._clock()) / 1e6, 3),
            "storage": {
                "state": self.storage,
                "detail": self.storage_detail,
                "dir": str(self.library.root),
                "free_mb": None if self.free_bytes is None else round(self.free_bytes / MB),
                "clips": len(self.library.clips()),
                "clips_mb": round(self.library.total_bytes / MB, 1),
            },
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "buffer": {
                "seconds": round(self.ring.span_us / 1e6, 2),
                "bytes": self.ring.bytes,
                "frames": self.ring.frames,
                "packets": self.ring.packets,
            },
        }


async def _pump(queue: ConsumerQueue[Item], handle: Callable[[Item], None]) -> None:
    while True:
        try:
            item = await queue.get()
        except QueueClosed:
            return
        try:
            handle(item)
        except Exception:  # a bug here must not stop recording for good
            log.exception("recording: dropped an item")
