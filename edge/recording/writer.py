"""Writes one clip on its own thread: muxing and disk I/O never block the event loop.

The loop hands over access units and Opus packets as they come; the thread
muxes them and, about once a second, ``fsync``s, so that after a power cut the
file holds everything up to roughly the last second. A write error (full disk,
read-only or vanished file system) stops the clip where its last complete
fragment ends; the loop hears about it through ``on_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from edge.media.audio import OpusPacket
from edge.recording.mp4 import Mp4Clip, complete_length, probe, truncate_incomplete
from hw.camera import H264AccessUnit
from hw.clock import monotonic_s

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 1.0


@dataclass(frozen=True)
class ClipOutcome:
    frames: int
    duration_s: float
    size_bytes: int
    has_audio: bool
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class ClipWriter:
    def __init__(self, path: Path, framerate: int, opus_header: bytes | None, on_error: Callable[[str], None]) -> None:
        self.path = path
        self._framerate = framerate
        self._opus_header = opus_header
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[H264AccessUnit | OpusPacket | None] = queue.SimpleQueue()  # None: finish
        self._done: asyncio.Future[ClipOutcome] = self._loop.create_future()
        self._finishing = False
        self.fed_bytes = 0  # written by the loop only
        self.written_bytes = 0  # written by the thread only
        self._thread = threading.Thread(target=self._run, name=f"clip {path.name}", daemon=True)
        self._thread.start()

    @property
    def backlog_bytes(self) -> int:
        return self.fed_bytes - self.written_bytes

    def add(self, item: H264AccessUnit | OpusPacket) -> None:
        if not self._finishing:
            self.fed_bytes += len(item.data)
            self._queue.put(item)

    def finish(self) -> asyncio.Future[ClipOutcome]:
        """Write what was handed over, close the file; the future gives the outcome."""
        if not self._finishing:
            self._finishing = True
            self._queue.put(None)
        return self._done

    # --- the writer thread ---------------------------------------------------------

    def _run(self) -> None:
        clip: Mp4Clip | None = None
        error: str | None = None
        fd: int | None = None
        try:
            last_sync = monotonic_s()
            while (item := self._queue.get()) is not None:
                if clip is None:
                    if not isinstance(item, H264AccessUnit):
                        continue  # the recorder starts clips with video; never mux audio before it
                    clip = Mp4Clip(self.path, item, self._framerate, self._opus_header)
                    fd = os.open(self.path, os.O_RDONLY)
                    _sync_directory(self.path.parent)
                elif isinstance(item, OpusPacket):
                    clip.write_audio(item)
                else:
                    clip.write_video(item)
                self.written_bytes += len(item.data)
                if fd is not None and monotonic_s() - last_sync >= SYNC_INTERVAL_S:
                    _check_still_there(fd)
                    os.fsync(fd)
                    last_sync = monotonic_s()
            if clip is not None and fd is not None:  # both or neither
                clip.close()
                os.fsync(fd)
                _check_complete(self.path)
        except Exception as exc:  # whatever it is, the clip ends here and the daemon goes on
            error = describe_error(exc)
            log.warning("clip %s: %s", self.path.name, error)
            self._post(self._on_error, error)
            if clip is not None:
                clip.abandon()
        finally:
            if fd is not None:
                os.close(fd)
        self._post(self._set_done, self._outcome(clip, error))

    def _outcome(self, clip: Mp4Clip | None, error: str | None) -> ClipOutcome:
        if clip is None:
            return ClipOutcome(0, 0.0, 0, False, error)
        try:
            if error is None:
                return ClipOutcome(clip.frames, clip.duration_s, self.path.stat().st_size, clip.has_audio)
            # Keep what reached the disk, up to the last complete fragment.
            size = truncate_incomplete(self.path)
            duration, frames, has_audio = probe(self.path) if size else (0.0, 0, False)
            return ClipOutcome(frames, duration, size, has_audio, error)
        except (OSError, av.FFmpegError, IndexError) as exc:
            return ClipOutcome(0, 0.0, 0, False, error or describe_error(exc))

    def _set_done(self, outcome: ClipOutcome) -> None:
        if not self._done.done():
            self._done.set_result(outcome)

    def _post(self, fn: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(fn, *args)


def _check_complete(path: Path) -> None:
    """PyAV drops errors of the last flush on close (a full disk): look at what the file holds."""
    if complete_length(path) != path.stat().st_size:
        raise OSError(errno.EIO, "the end of the clip did not reach the disk (is it full?)")


def _check_still_there(fd: int) -> None:
    """Writes to a deleted file succeed and vanish: treat it as the error it is."""
    if os.fstat(fd).st_nlink == 0:
        raise FileNotFoundError(2, "the clip's file was deleted (recordings directory gone?)")


def _sync_directory(directory: Path) -> None:
    """Make the new file's name durable too, not only its data."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
