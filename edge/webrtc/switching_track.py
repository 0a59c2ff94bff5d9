"""A viewer's video track that moves between the camera's streams (main, low) without renegotiation.

The browser sees one track, one SSRC, one sequence of RTP packets (the sender
numbers them) whose pictures change size at a keyframe. :meth:`SwitchingTrack.switch_to`
subscribes to the other stream at once: its queue starts at a keyframe, which
subscribing asks of that stream's encoder only. Until that keyframe is queued the
current stream goes on; then the track swaps, and the old subscription ends.

RTP timestamps are capture times, and both streams stamp a picture with the same
one: the first picture after a swap may be of the same instant as the last one
sent, or older. Two different pictures under one RTP timestamp would be taken for
one, so such a picture leaves one tick of the 90 kHz clock after the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from edge.media.video import EncodedStream, VideoHub
from hw.camera import H264AccessUnit, StreamName
from hw.consumer_queue import ConsumerQueue, QueueClosed, QueueInterrupted

TICK_US = 12  # one tick of the 90 kHz RTP clock (11.1 µs), rounded up


class SwitchingTrack(MediaStreamTrack):
    """One peer connection's video (see :class:`~edge.webrtc.tracks.HubTrack`): one of the hub's streams at a time."""

    kind = "video"

    def __init__(self, video: VideoHub, stream: StreamName = "main") -> None:
        super().__init__()
        self._video = video
        self.stream: EncodedStream = video.stream(stream)
        self._queue: ConsumerQueue[H264AccessUnit] | None = self.stream.subscribe()
        self._target: tuple[EncodedStream, ConsumerQueue[H264AccessUnit]] | None = None
        self._last_us: int | None = None
        self._handed_over = asyncio.Event()  # set as each item goes to the sender, which sends it at once
        self.packets_sent = 0

    @property
    def target(self) -> EncodedStream:
        """The stream the track is on, or on its way to."""
        return self._target[0] if self._target is not None else self.stream

    def switch_to(self, name: StreamName) -> None:
        """Move to the stream ``name`` at its next keyframe; a switch under way is redirected or called off."""
        stream = self._video.stream(name)
        if stream is self.target or self._queue is None:
            return
        self._drop_target()
        if stream is not self.stream:
            self._target = (stream, stream.subscribe())
            self._queue.interrupt()  # a current stream that has stopped (a failed encoder) must not hold it up

    def request_keyframe(self) -> None:
        """A keyframe of the stream being sent (the viewer's PLI or FIR): the other encoder is not bothered."""
        self.stream.request_keyframe()

    async def recv(self) -> H264AccessUnit:  # type: ignore[override]
        try:
            item = await self._next()
        except QueueClosed:
            raise MediaStreamError() from None
        if self._last_us is not None and item.timestamp_us <= self._last_us:
            item = replace(item, timestamp_us=self._last_us + TICK_US)
        self._last_us = item.timestamp_us
        self.packets_sent += 1
        self._handed_over.set()
        return item

    async def sent(self, timeout: float) -> None:
        """Until the next item has been sent (the sender sends what ``recv`` returns before it awaits
        again, so whatever this wakes runs after that item's packets left), or ``timeout`` seconds."""
        self._handed_over.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._handed_over.wait(), timeout)

    async def _next(self) -> H264AccessUnit:
        """The current stream's next item or, once it is queued, the target's first (a keyframe): then the swap."""
        while True:
            if self._queue is None:
                raise MediaStreamError()
            target = self._target
            if target is None:
                try:
                    return await self._queue.get()
                except QueueInterrupted:
                    continue  # a switch began
            current = asyncio.ensure_future(self._queue.get())
            first = asyncio.ensure_future(target[1].get())
            try:
                await asyncio.wait((current, first), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (current, first):
                    if waiting.done() and not waiting.cancelled():
                        waiting.exception()  # seen: an unused one's is no "never retrieved" warning
                    waiting.cancel()  # one still waiting takes nothing from its queue
            if self._target is target and first.done() and not first.cancelled() and first.exception() is None:
                self.stream.unsubscribe(self._queue)  # with the old stream's item, if one came at the same time
                self.stream, self._queue, self._target = target[0], target[1], None
                return first.result()
            if current.done() and not current.cancelled() and not isinstance(current.exception(), QueueInterrupted):
                return current.result()
            # The switch was redirected or called off while nothing came: wait again.

    def _drop_target(self) -> None:
        if self._target is not None:
            stream, queue = self._target
            self._target = None
            stream.unsubscribe(queue)

    def stop(self) -> None:
        self._drop_target()
        if self._queue is not None:
            self.stream.unsubscribe(self._queue)
            self._queue = None
        super().stop()
