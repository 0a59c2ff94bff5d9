"""The camera-to-loop handoff drops whole GOPs, never the middle of one."""

from __future__ import annotations

import asyncio
import threading

from hw.camera import H264AccessUnit
from hw.camera.handoff import AccessUnitBridge


def access_unit(index: int, keyframe: bool) -> H264AccessUnit:
    return H264AccessUnit(data=bytes([index]), keyframe=keyframe, timestamp_us=index, wall_time=0.0)


async def test_a_consumer_that_falls_behind_loses_whole_gops_and_a_keyframe_is_asked_for():
    requests = []
    bridge = AccessUnitBridge(asyncio.get_running_loop(), maxlen=4, request_keyframe=lambda: requests.append(1))
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
    assert requests == [1]
    assert bridge.dropped == 7
