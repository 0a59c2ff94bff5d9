import asyncio
from dataclasses import dataclass

import pytest

from edge.media.fanout import Fanout
from hw.consumer_queue import QueueClosed


@dataclass
class Item:
    n: int
    keyframe: bool


def gop(start: int, length: int) -> list[Item]:
    return [Item(start + i, i == 0) for i in range(length)]


async def test_a_new_consumer_starts_at_a_keyframe():
    fanout: Fanout[Item] = Fanout(gated=True)
    queue = fanout.subscribe(maxlen=10)
    for item in [Item(0, False), Item(1, False), *gop(2, 3)]:
        fanout.publish(item)
    got = [(await queue.get()).n for _ in range(3)]
    assert got == [2, 3, 4]
    assert queue.dropped == 2


async def test_a_stalled_consumer_is_bounded_and_never_delays_others():
    gaps = []
    fanout: Fanout[Item] = Fanout(gated=True, on_gap=lambda: gaps.append(1))
    slow = fanout.subscribe(maxlen=5)
    fast = fanout.subscribe(maxlen=5)
    received = []
    for item in gop(0, 30) + gop(30, 30):
        fanout.publish(item)
        received.append((await fast.get()).n)  # the fast one reads every item as it comes
        assert len(slow._items) <= 5
    assert received == list(range(60))
    assert gaps, "an overflow must ask the camera for a keyframe"
    # After the overflow the slow consumer resumes cleanly at the next keyframe.
    fanout.publish(Item(60, True))
    first = await slow.get()
    assert first.keyframe and first.n == 60


async def test_unsubscribe_wakes_a_waiting_consumer():
    fanout: Fanout[Item] = Fanout(gated=False)
    queue = fanout.subscribe(maxlen=2)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    fanout.unsubscribe(queue)
    with pytest.raises(QueueClosed):
        await waiter
    assert len(fanout) == 0
