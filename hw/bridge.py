"""Hand items from a capture thread to the asyncio event loop.

Cameras and microphones produce data on their own threads (picamera2's encoder
thread, a PyAV demux loop, a pacing thread). :class:`ThreadBridge` moves each
item onto the loop with ``call_soon_threadsafe`` into a bounded queue, so that a
stalled consumer can never make memory grow: on overflow the oldest item goes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

_CLOSED = object()


class ThreadBridge(Generic[T]):
    def __init__(self, loop: asyncio.AbstractEventLoop, maxlen: int) -> None:
        self._loop = loop
        self._items: deque[object] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.dropped = 0

    def put_threadsafe(self, item: T) -> None:
        """Called from the producer thread. Never blocks; ignored once the loop is gone."""
        self._call(self._put, item)

    def fail_threadsafe(self, error: BaseException) -> None:
        """Called from the producer thread: the next ``get()`` raises ``error``."""
        self._call(self._put, error)

    def close_threadsafe(self) -> None:
        """Called from the producer thread: ``get()`` raises ``EOFError`` once drained."""
        self._call(self._put, _CLOSED)

    def _call(self, fn, item: object) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(fn, item)
        except RuntimeError:  # loop closed between the check and the call
            pass

    def _put(self, item: object) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if item is _CLOSED:
            raise EOFError("source closed")
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[return-value]
