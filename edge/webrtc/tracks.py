"""Tracks fed by a hub: a viewer's (or a publish target's) place in its fan-out, as aiortc needs it.

A track must never be shared between peer connections (a closing sender stops
its track), so each gets its own. It subscribes to the hub when created,
while the offer is answered: the hub asks the camera for an IDR at once, and by
the time DTLS is up (when the viewer's sender first calls ``recv()``) that IDR
is waiting in the queue, so the first picture leaves without another frame
interval of delay. What ``recv()`` returns are the hub's items as they are; the
viewer's :class:`~edge.webrtc.rtp_sender.FastRtpSender` sends them.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge.webrtc.rtp_sender import EncodedMedia
from hw.consumer_queue import ConsumerQueue, QueueClosed


class Hub(Protocol):
    """A video or an audio hub: its items are :class:`EncodedMedia` of one kind or the other."""

    def subscribe(self) -> ConsumerQueue[Any]: ...
    def unsubscribe(self, queue: ConsumerQueue[Any]) -> None: ...


class HubTrack(MediaStreamTrack):
    """One peer connection's audio or video track, fed by a hub's bounded queue."""

    def __init__(self, kind: str, hub: Hub) -> None:
        super().__init__()
        self.kind = kind
        self._hub = hub
        self._queue: ConsumerQueue[EncodedMedia] | None = hub.subscribe()
        self.packets_sent = 0

    async def recv(self) -> EncodedMedia:  # type: ignore[override]
        if self._queue is None:
            raise MediaStreamError()
        try:
            item = await self._queue.get()
        except QueueClosed:
            raise MediaStreamError() from None
        self.packets_sent += 1
        return item

    def stop(self) -> None:
        if self._queue is not None:
            self._hub.unsubscribe(self._queue)
            self._queue = None
        super().stop()
