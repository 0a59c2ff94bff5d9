"""A bounded queue for one consumer on the event loop, and its H.264 variant that only drops whole GOPs.

A slow or stalled consumer (a viewer on bad Wi-Fi, a recorder on a slow SD card, an
event loop busy elsewhere) must never make memory grow: ``put()`` never blocks and
never lets the queue pass ``maxlen``. What goes when it is full depends on the
media: audio loses its oldest items (or, with ``flush_when_full``, every queued
one, so that the consumer is live again at once); video loses every queued item
and then waits for the next keyframe (:class:`KeyframeGatedQueue`), since a
P-frame without its references only decodes to garbage.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Keyframed(Protocol):
    """An item that may or may not start a picture on its own (an Opus packet always does)."""

    @property
    def keyframe(self) -> bool: ...


K = TypeVar("K", bound=Keyframed)


class QueueClosed(Exception):
    """The source has gone away; no more items will come."""


class QueueInterrupted(Exception):
    """:meth:`ConsumerQueue.interrupt` woke the consumer: it has something else to look at."""


class ConsumerQueue(Generic[T]):
    """Items from a producer on the loop to one consumer that awaits :meth:`get`."""

    def __init__(self, maxlen: int, *, flush_when_full: bool = False) -> None:
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._flush_when_full = flush_when_full
        self._ready = asyncio.Event()
        self._closed = False
        self._end: BaseException | None = None
        self._interrupted = False
        self.dropped = 0

    def put(self, item: T) -> None:
        """Queue ``item``, making room as the module doc says; ignored once closed."""
        if self._closed:
            return
        if len(self._items) >= self._maxlen and not self._make_room(item):
            self.dropped += 1
            return
        self._items.append(item)
        self._ready.set()

    def _make_room(self, item: T) -> bool:
        """The queue is full: make room for ``item``, or say it is not to be queued."""
        if self._flush_when_full:
            self._flush()
        else:
            self._items.popleft()
            self.dropped += 1
        return True

    def _flush(self) -> int:
        lost = len(self._items)
        self.dropped += lost
        self._items.clear()
        return lost

    def close(self, end: BaseException | None = None) -> None:
        """No more items: once the queued ones are taken, :meth:`get` raises ``end`` (:class:`QueueClosed` if none)."""
        self._closed = True
        self._end = end
        self._ready.set()

    def interrupt(self) -> None:
        """Make a :meth:`get` waiting for an item (now or next) raise :class:`QueueInterrupted` instead."""
        self._interrupted = True
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            if self._interrupted:
                self._interrupted = False
                raise QueueInterrupted()
            if self._closed:
                raise self._end if self._end is not None else QueueClosed()
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class KeyframeGatedQueue(ConsumerQueue[K]):
    """A :class:`ConsumerQueue` of H.264 access units that only ever drops whole GOPs.

    When full, every queued item goes and ``on_overflow(lost)`` hears how many;
    unless the new item is a keyframe, nothing passes until the next one, and
    ``on_gap(lost)`` is called (to ask the camera for one). ``wait_for_keyframe``:
    whether the queue starts so, as a new viewer's does (it cannot decode the middle of a GOP).
    """

    def __init__(
        self,
        maxlen: int,
        on_gap: Callable[[int], None],
        *,
        wait_for_keyframe: bool,
        on_overflow: Callable[[int], None] = lambda _lost: None,
    ) -> None:
        super().__init__(maxlen)
        self._on_gap = on_gap
        self._on_overflow = on_overflow
        self._waiting_for_keyframe = wait_for_keyframe

    def put(self, item: K) -> None:
        if self._waiting_for_keyframe and not item.keyframe:
            self.dropped += 1
            return
        self._waiting_for_keyframe = False
        super().put(item)

    def _make_room(self, item: K) -> bool:
        lost = self._flush()
        self._on_overflow(lost)
        if item.keyframe:
            return True
        self._waiting_for_keyframe = True
        self._on_gap(lost)
        return False
