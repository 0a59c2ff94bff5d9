"""What runs on picamera2's camera thread, and the camera's life around a start that is given up.

picamera2 runs its camera loop on one thread (``Picamera2.process_requests`` under
``Picamera2.lock``): whatever is slow there delays every frame. These tests run picamera2's
own code on the stand-in camera (tests/pi/fake_picamera2.py), as the contract tests do.
"""

from __future__ import annotations

import asyncio
import threading

from hw.camera.pi import PiCamera, open_picamera2
from tests.pi.fake_picamera2 import FakeCamera
from tests.pi.test_picamera2_contract import SMALL


class BlockingStart(FakeCamera):
    """A camera whose ``start_recording`` waits until the test lets it go on."""

    starting = threading.Event()
    may_start = threading.Event()

    def start_recording(self, encoder: object, output: object) -> None:
        BlockingStart.starting.set()
        assert BlockingStart.may_start.wait(30), "the test never let the start go on"
        super().start_recording(encoder, output)


async def test_a_daemon_stopping_during_the_start_leaves_the_camera_closed(pi):
    """The daemon stops while the camera starts: every task is cancelled (as ``asyncio.run`` does
    at its end), the start's own task with it; the start then finishes and the camera is closed."""
    BlockingStart.starting.clear()
    BlockingStart.may_start.clear()
    before = asyncio.all_tasks()
    camera = PiCamera(SMALL, open_camera=lambda: open_picamera2(BlockingStart))
    frames = camera.frames()
    consumer = asyncio.create_task(anext(frames))
    assert await asyncio.to_thread(BlockingStart.starting.wait, 30), "the camera's start never began"
    started = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert consumer in started
    for task in started:
        task.cancel()
    await asyncio.wait(started)
    await frames.aclose()
    BlockingStart.may_start.set()
    fake = FakeCamera.opened[0]
    assert await asyncio.to_thread(fake.closed_event.wait, 20), "the camera started after the stop is still open"
    assert len(FakeCamera.opened) == 1
