"""Fan-out of encoded media to many consumers, each with its own bounded queue.

A slow or stalled consumer (a viewer on bad Wi-Fi, a recorder on a slow SD card)
must never delay the others nor make memory grow: each gets a small queue; when
it overflows, the queue is flushed and, for video, the consumer waits for the
next keyframe (a P-frame without its references would only decode to garbage).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Media(Protocol):
    @property
    def keyframe(self) -> bool: ...


M = TypeVar("M", bound=Media)


class QueueClosed(Exception):
    """The source has gone away; no more items will come."""


class ConsumerQueue(Generic[M]):
    def __init__(self, maxlen: int, gated: bool, on_gap: Callable[[], None]) -> None:
        self._items: deque[M] = deque()
        self._maxlen = maxlen
        self._gated = gated
        self._waiting_for_keyframe = gated
        self._on_gap = on_gap
        self._ready = asyncio.Event()
        self._closed = False
        self.delivered = 0
        self.dropped = 0

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._waiting_for_keyframe

    def push(self, item: M) -> None:
        if self._waiting_for_keyframe:
            if not item.keyframe:
                self.dropped += 1
                return
            self._waiting_for_keyframe = False
        if len(self._items) >= self._maxlen:
            self.dropped += len(self._items)
            self._items.clear()
            if self._gated and not item.keyframe:
                self._waiting_for_keyframe = True
                self.dropped += 1
                self._on_gap()
                return
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def get(self) -> M:
        while not self._items:
            if self._closed:
                raise QueueClosed()
            self._ready.clear()
            await self._ready.wait()
        self.delivered += 1
        return self._items.popleft()


class Fanout(Generic[M]):
    """Delivers every published item to every subscribed queue, without copying it."""

    def __init__(self, gated: bool, on_gap: Callable[[], None] = lambda: None) -> None:
        self._gated = gated
        self._on_gap = on_gap
        self._queues: set[ConsumerQueue[M]] = set()

    def subscribe(self, maxlen: int) -> ConsumerQueue[M]:
        queue: ConsumerQueue[M] = ConsumerQueue(maxlen, self._gated, self._on_gap)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: ConsumerQueue[M]) -> None:
        self._queues.discard(queue)
        queue.close()

    def publish(self, item: M) -> None:
        for queue in self._queues:
            queue.push(item)

    def close_all(self) -> None:
        for queue in self._queues:
            queue.close()
        self._queues.clear()

    def __len__(self) -> int:
        return len(self._queues)
