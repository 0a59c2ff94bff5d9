"""Per-viewer tracks that hand the hubs' encoded packets to aiortc as they are.

aiortc packetizes an ``av.Packet`` returned by ``recv()`` without decoding it
(see ``../shared/notes/webrtc.md`` section 1). A track must never be shared
between peer connections (a closing sender stops its track), so each viewer gets
its own, subscribed to the hub on its first ``recv()``: the sender calls it only
once DTLS is up, which is exactly when the viewer needs its first keyframe.
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
        self._queue: ConsumerQueue | None = None

    @property
    def packets_sent(self) -> int:
        return self._queue.delivered if self._queue else 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError()
        if self._queue is None:
            self._queue = self._hub.subscribe()
        try:
            item = await self._queue.get()
        except QueueClosed:
            raise MediaStreamError() from None
        packet = av.Packet(item.data)
        packet.pts = item.timestamp_us
        packet.time_base = MICROSECONDS
        return packet

    def stop(self) -> None:
        if self._queue is not None:
            self._hub.unsubscribe(self._queue)
            self._queue = None
        super().stop()
