"""The bounded consumer queue: bounded whatever the consumer does, and H.264 loses only whole GOPs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from hw.consumer_queue import ConsumerQueue, KeyframeGatedQueue, QueueClosed


@dataclass
class Item:
    n: int
    keyframe: bool = True


def queued(queue: ConsumerQueue[Item]) -> list[int]:
    return [item.n for item in queue._items]


async def test_a_full_queue_loses_its_oldest_item():
    queue: ConsumerQueue[Item] = ConsumerQueue(3)
    for n in range(5):
        queue.put(Item(n))
    assert [(await queue.get()).n for _ in range(3)] == [2, 3, 4]
    assert queue.dropped == 2


async def test_a_flushing_queue_loses_everything_queued_and_is_live_again():
    queue: ConsumerQueue[Item] = ConsumerQueue(3, flush_when_full=True)
    for n in range(5):
        queue.put(Item(n))
    assert queued(queue) == [3, 4]
    assert queue.dropped == 3


async def test_close_wakes_the_consumer_after_what_was_queued_with_the_reason_given():
    queue: ConsumerQueue[Item] = ConsumerQueue(3)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put(Item(1))
    queue.close(EOFError("source closed"))
    queue.put(Item(2))  # after the end: ignored
    assert (await waiter).n == 1
    with pytest.raises(EOFError):
        await queue.get()


async def test_close_without_a_reason_raises_queue_closed():
    queue: ConsumerQueue[Item] = ConsumerQueue(3)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(QueueClosed):
        await waiter


def test_a_gated_queue_starts_at_a_keyframe_when_asked_to():
    gaps: list[int] = []
    queue: KeyframeGatedQueue[Item] = KeyframeGatedQueue(10, gaps.append, wait_for_keyframe=True)
    for item in (Item(0, False), Item(1, True), Item(2, False)):
        queue.put(item)
    assert queued(queue) == [1, 2]
    assert queue.dropped == 1 and gaps == []


def test_an_overflowing_p_frame_drops_the_gop_and_waits_for_the_next_keyframe():
    gaps: list[int] = []
    queue: KeyframeGatedQueue[Item] = KeyframeGatedQueue(3, gaps.append, wait_for_keyframe=False)
    for item in (Item(0, True), Item(1, False), Item(2, False), Item(3, False), Item(4, False), Item(5, True)):
        queue.put(item)
    assert queued(queue) == [5]
    assert gaps == [3]  # items 0-2 were queued when 3 came
    assert queue.dropped == 5


def test_an_overflowing_keyframe_starts_afresh_without_asking():
    gaps: list[int] = []
    overflows: list[int] = []
    queue: KeyframeGatedQueue[Item] = KeyframeGatedQueue(
        2, gaps.append, wait_for_keyframe=False, on_overflow=overflows.append
    )
    for item in (Item(0, True), Item(1, False), Item(2, True)):
        queue.put(item)
    assert queued(queue) == [2]
    assert gaps == [] and queue.dropped == 2
    assert overflows == [2]  # still heard: the camera's hand-off logs every overflow
