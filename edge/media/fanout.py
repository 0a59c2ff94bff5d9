"""Fan-out of encoded media to many consumers, each with its own bounded queue.

A slow or stalled consumer (a viewer on bad Wi-Fi, a recorder on a slow SD card)
must never delay the others nor make memory grow: each gets a small
:class:`~hw.consumer_queue.ConsumerQueue`; when it overflows, the queue is
flushed and, for video, the consumer waits for the next keyframe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic

from hw.consumer_queue import ConsumerQueue, K, KeyframeGatedQueue


class Fanout(Generic[K]):
    """Delivers every published item to every subscribed queue, without copying it.

    ``gated``: video, whose queues start at a keyframe and lose whole GOPs;
    ``on_gap`` is called when one did (to ask the camera for a keyframe).
    """

    def __init__(self, gated: bool, on_gap: Callable[[], None] = lambda: None) -> None:
        self._gated = gated
        self._on_gap = on_gap
        self._queues: set[ConsumerQueue[K]] = set()

    def subscribe(self, maxlen: int) -> ConsumerQueue[K]:
        queue: ConsumerQueue[K]
        if self._gated:
            queue = KeyframeGatedQueue(maxlen, lambda _lost: self._on_gap(), wait_for_keyframe=True)
        else:
            queue = ConsumerQueue(maxlen, flush_when_full=True)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: ConsumerQueue[K]) -> None:
        self._queues.discard(queue)
        queue.close()

    def publish(self, item: K) -> None:
        for queue in self._queues:
            queue.put(item)

    def close_all(self) -> None:
        for queue in self._queues:
            queue.close()
        self._queues.clear()

    def __len__(self) -> int:
        return len(self._queues)
