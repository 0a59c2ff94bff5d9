"""Handing access units from a camera's thread to the event loop without breaking a GOP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hw.bridge import ThreadBridge
from hw.camera import H264AccessUnit

log = logging.getLogger(__name__)


class AccessUnitBridge(ThreadBridge[H264AccessUnit]):
    """A :class:`~hw.bridge.ThreadBridge` for H.264 that only ever drops whole GOPs.

    Dropping the oldest access unit, as a plain bridge does, would leave P-frames
    that refer to a picture nobody will see: garbage until the next IDR. Instead,
    when the consumer falls a whole queue behind, everything queued is dropped,
    the camera is asked for an IDR, and nothing passes until it comes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxlen: int, request_keyframe: Callable[[], None]) -> None:
        super().__init__(loop, maxlen)
        self._request_keyframe = request_keyframe
        self._waiting_for_keyframe = False

    def _put(self, item: object) -> None:
        if not isinstance(item, H264AccessUnit):  # an error or the end: always delivered
            super()._put(item)
            return
        if self._waiting_for_keyframe and not item.keyframe:
            self.dropped += 1
            return
        self._waiting_for_keyframe = False
        if len(self._items) == self._items.maxlen:
            queued = [i for i in self._items if not isinstance(i, H264AccessUnit)]
            lost = len(self._items) - len(queued)
            self.dropped += lost
            self._items.clear()
            self._items.extend(queued)
            log.warning("camera frames were not taken in time: dropped %d, waiting for a keyframe", lost)
            if not item.keyframe:
                self.dropped += 1
                self._waiting_for_keyframe = True
                self._request_keyframe()
                return
        super()._put(item)
