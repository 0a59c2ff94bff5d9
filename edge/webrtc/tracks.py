"""Per-viewer tracks that hand the hubs' encoded packets to aiortc as they are.

aiortc packetizes an ``av.Packet`` returned by ``recv()`` without decoding it
(see ``docs/aiortc.md`` section 1). A track must never be shared
between peer connections (a closing sender stops its track), so each viewer gets
its own. It subscribes to the hub when created, while the offer is answered:
the hub asks the camera for an IDR at once, and by the time DTLS is up (when
aiortc's sender first calls ``recv()``) that IDR is waiting in the queue, so the
first picture leaves without another frame interval of delay.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge.media.fanout import ConsumerQueue, QueueClosed

MICROSECONDS = Fraction(1, 1_000_000)


class Hub(Protocol):
    def subscribe(self) -> ConsumerQueue: ...
    def unsubscribe(self, queue: ConsumerQueue) -> None: ...


class ViewerTrack(MediaStreamTrack):
    """One viewer's audio or video track, fed by a hub's bounded queue."""

    def __init__(self, kind: str, hub: Hub) -> None:
        super().__init__()
        self.kind = kind
        self._hub = hub
        self._queue: ConsumerQueue | None = hub.subscribe()
        self.packets_sent = 0

    async def recv(self) -> av.Packet:
        if self._queue is None:
            raise MediaStreamError()
        try:
            item = await self._queue.get()
        except QueueClosed:
            raise MediaStreamError() from None
        packet = av.Packet(item.data)
        packet.pts = item.timestamp_us
        packet.time_base = MICROSECONDS
        self.packets_sent += 1
        return packet

    def stop(self) -> None:
        if self._queue is not None:
            self._hub.unsubscribe(self._queue)
            self._queue = None
        super().stop()
