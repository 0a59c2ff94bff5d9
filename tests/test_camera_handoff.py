"""The camera-to-loop handoff drops whole GOPs, never the middle of one."""

from __future__ import annotations

import asyncio
import threading

from hw.camera import H264AccessUnit
from hw.camera.handoff import AccessUnitBridge


def access_unit(index: int, keyframe: bool, stream: str = "main") -> H264AccessUnit:
    return H264AccessUnit(bytes([index]), keyframe, index, 0.0, stream)  # type: ignore[arg-type]


async def test_a_consumer_that_falls_behind_loses_whole_gops_and_a_keyframe_is_asked_for():
    requests = []
    bridge = AccessUnitBridge(asyncio.get_running_loop(), maxlen=4, request_keyframe=requests.append)
    sent = (
        [access_unit(0, True)]
        + [access_unit(i, False) for i in range(1, 7)]
        + [access_unit(7, True), access_unit(8, False)]
    )
    done = threading.Event()

    def camera_thread() -> None:  # nobody reads meanwhile: the queue of 4 overflows
        for unit in sent:
            bridge.put_threadsafe(unit)
        bridge.close_threadsafe()
        done.set()

    threading.Thread(target=camera_thread).start()
    await asyncio.to_thread(done.wait)
    await asyncio.sleep(0)  # the thread's last call_soon_threadsafe runs
    received = []
    try:
        while True:
            received.append(await bridge.get())
    except EOFError:
        pass
    # Frames 0-3 were queued; 4 overflowed it: all dropped, 4-6 too (P-frames), 7 is the IDR asked for.
    assert [u.timestamp_us for u in received] == [7, 8]
    assert received[0].keyframe
    assert requests == ["main", "low"]  # each encoder asked once
    assert bridge.dropped == 7


async def test_after_a_gap_each_stream_waits_for_its_own_keyframe():
    """A low stream's IDR does not let the main stream's P-frames through (they would decode to garbage)."""
    requests = []
    bridge = AccessUnitBridge(asyncio.get_running_loop(), maxlen=3, request_keyframe=requests.append)
    sent = [
        access_unit(0, True),
        access_unit(1, False),
        access_unit(2, False),
        access_unit(9, False),  # overflows: both streams now wait
        access_unit(3, True, "low"),
        access_unit(4, False),  # main P-frame: still waiting for main's IDR
        access_unit(5, False, "low"),
        access_unit(6, True),
    ]
    for unit in sent:
        bridge.put_threadsafe(unit)
    bridge.close_threadsafe()
    await asyncio.sleep(0.05)
    received = []
    try:
        while True:
            received.append(await bridge.get())
    except EOFError:
        pass
    assert [(u.timestamp_us, u.stream) for u in received] == [(3, "low"), (5, "low"), (6, "main")]
    assert sorted(requests) == ["low", "main"]
