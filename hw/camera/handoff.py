"""Handing access units from a camera's thread to the event loop without breaking a GOP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import get_args

from hw.bridge import ThreadBridge
from hw.camera import H264AccessUnit, StreamName
from hw.consumer_queue import ConsumerQueue

log = logging.getLogger(__name__)

STREAMS: tuple[StreamName, ...] = get_args(StreamName)


class AccessUnitBridge(ThreadBridge[H264AccessUnit]):
    """A :class:`~hw.bridge.ThreadBridge` for H.264 that only ever drops whole GOPs.

    Dropping the oldest access unit, as a plain bridge does, would leave P-frames
    that refer to a picture nobody will see: garbage until the next IDR. Instead,
    when the consumer falls a whole queue behind, everything queued is dropped,
    each stream's encoder is asked for an IDR, and nothing of a stream passes until
    its IDR comes.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, maxlen: int, request_keyframe: Callable[[StreamName], None]
    ) -> None:
        self._request_keyframe = request_keyframe
        super().__init__(loop, maxlen)

    def _new_queue(self, maxlen: int) -> ConsumerQueue[H264AccessUnit]:
        return _GopQueue(maxlen, self._request_keyframe)


class _GopQueue(ConsumerQueue[H264AccessUnit]):
    """When full: flushed, and each stream then waits for its next keyframe (requested)."""

    def __init__(self, maxlen: int, request_keyframe: Callable[[StreamName], None]) -> None:
        super().__init__(maxlen)
        self._request_keyframe = request_keyframe
        self._waiting: set[StreamName] = set()

    def put(self, item: H264AccessUnit) -> None:
        if item.stream in self._waiting:
            if not item.keyframe:
                self.dropped += 1
                return
            self._waiting.discard(item.stream)
        super().put(item)

    def _make_room(self, item: H264AccessUnit) -> bool:
        lost = self._flush()
        log.warning("camera frames were not taken in time: dropped %d, waiting for a keyframe", lost)
        self._waiting = set(STREAMS)
        for stream in STREAMS:
            self._request_keyframe(stream)
        if item.keyframe:
            self._waiting.discard(item.stream)
            return True
        return False
