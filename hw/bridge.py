"""Hand items from a capture thread to the asyncio event loop.

Cameras and microphones produce data on their own threads (picamera2's encoder
thread, a PyAV demux loop, a pacing thread). :class:`ThreadBridge` moves each
item onto the loop with ``call_soon_threadsafe`` into a bounded
:class:`~hw.consumer_queue.ConsumerQueue`, so that a stalled consumer can never
make memory grow: on overflow the oldest item goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hw.consumer_queue import ConsumerQueue

T = TypeVar("T")


class ThreadBridge(Generic[T]):
    def __init__(self, loop: asyncio.AbstractEventLoop, maxlen: int) -> None:
        self._loop = loop
        self._queue = self._new_queue(maxlen)

    def _new_queue(self, maxlen: int) -> ConsumerQueue[T]:
        return ConsumerQueue(maxlen)

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def put_threadsafe(self, item: T) -> None:
        """Called from the producer thread. Never blocks; ignored once the loop is gone."""
        self._call(self._queue.put, item)

    def fail_threadsafe(self, error: BaseException) -> None:
        """Called from the producer thread: ``get()`` raises ``error`` once drained."""
        self._call(self._queue.close, error)

    def close_threadsafe(self) -> None:
        """Called from the producer thread: ``get()`` raises ``EOFError`` once drained."""
        self._call(self._queue.close, EOFError("source closed"))

    def _call(self, fn: Callable[[Any], None], item: object) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            self._loop.call_soon_threadsafe(fn, item)

    async def get(self) -> T:
        return await self._queue.get()
