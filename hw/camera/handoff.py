"""Handing access units from a camera's thread to the event loop without breaking a GOP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hw.bridge import ThreadBridge
from hw.camera import H264AccessUnit
from hw.consumer_queue import ConsumerQueue, KeyframeGatedQueue

log = logging.getLogger(__name__)


class AccessUnitBridge(ThreadBridge[H264AccessUnit]):
    """A :class:`~hw.bridge.ThreadBridge` for H.264 that only ever drops whole GOPs.

    Dropping the oldest access unit, as a plain bridge does, would leave P-frames
    that refer to a picture nobody will see: garbage until the next IDR. Instead,
    when the consumer falls a whole queue behind, everything queued is dropped,
    the camera is asked for an IDR, and nothing passes until it comes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxlen: int, request_keyframe: Callable[[], None]) -> None:
        self._request_keyframe = request_keyframe
        super().__init__(loop, maxlen)

    def _new_queue(self, maxlen: int) -> ConsumerQueue[H264AccessUnit]:
        return KeyframeGatedQueue(
            maxlen, lambda _lost: self._request_keyframe(), wait_for_keyframe=False, on_overflow=self._overflowed
        )

    @staticmethod
    def _overflowed(lost: int) -> None:
        log.warning("camera frames were not taken in time: dropped %d, waiting for a keyframe", lost)
