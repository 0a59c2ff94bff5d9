"""The supervisor restarts a failing source and says so as it happens."""

from __future__ import annotations

import asyncio

from edge.media.supervisor import Supervisor


async def test_each_state_change_is_heard_once_as_it_happens():
    opened = 0
    delivered: list[int] = []
    heard: list[str] = []
    second_run = asyncio.Event()

    async def source():
        nonlocal opened
        opened += 1
        if opened == 2:
            raise RuntimeError("no camera detected")
        if opened == 3:
            second_run.set()
        yield opened
        yield opened
        if opened == 1:
            raise RuntimeError("the camera crashed")
        await asyncio.Event().wait()  # then it keeps running, silently

    supervisor = Supervisor("camera (test)", source, delivered.append, stall_timeout=30, backoff=(0.01, 0.02))
    supervisor.on_state_change(heard.append)
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(second_run.wait(), 10)
    await asyncio.sleep(0)  # let it deliver what it just yielded
    # Cancelled just as an item comes (as at shutdown, any frame): it must stop, not swallow it.
    task.cancel()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
    assert delivered == [1, 1, 3, 3]
    assert heard == ["running", "restarting", "running", "stopped"]
    assert supervisor.restarts == 2 and supervisor.last_error == "camera (test) failed: no camera detected"


async def test_a_slow_start_is_not_a_stall_but_a_later_silence_is():
    """A camera that takes a while to open (seconds on a Zero 2 W) is given start_timeout."""
    heard: list[str] = []
    delivered: list[int] = []
    stalled = asyncio.Event()

    async def source():
        await asyncio.sleep(1.0)  # five stall timeouts: far from the start timeout
        yield 1
        yield 2
        await asyncio.Event().wait()  # then silence: a stall

    supervisor = Supervisor(
        "camera (test)", source, delivered.append, stall_timeout=0.2, start_timeout=20, backoff=(30, 30)
    )
    supervisor.on_state_change(lambda state: (heard.append(state), state == "restarting" and stalled.set()))
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(stalled.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert delivered == [1, 2]
    assert heard[:2] == ["running", "restarting"]
    assert supervisor.last_error == "camera (test) stalled: no data for 0.2 s"
