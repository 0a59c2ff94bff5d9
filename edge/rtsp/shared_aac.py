"""The RTSP paths' sound, encoded to AAC once: ``/camera`` and ``/camera/low`` send the same frames.

An NVR keeps both paths open (Frigate records one and detects on the other): one encoder
for both spares a Pi the second (each about 2 % of an x86 core, an estimated 4 % of a Pi 4
core: docs/benchmarks.md, "AAC for RTSP"). The encoder runs
while at least one media takes its frames; each media gets its own bounded queue, and maps
the frames' capture times onto its own pipeline's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import TypeVar

from edge.media.aac import AacEncoder, AacFrame
from edge.media.audio import AudioHub
from edge.media.fanout import Fanout
from hw.consumer_queue import ConsumerQueue, QueueClosed

T = TypeVar("T")


async def drain(queue: ConsumerQueue[T]) -> AsyncGenerator[T, None]:
    """A queue's items until its hub closes it."""
    with contextlib.suppress(QueueClosed):
        while True:
            yield await queue.get()


class SharedAac:
    """The microphone's PCM as AAC-LC frames, for as many subscribers as there are, from one encoder."""

    def __init__(self, audio: AudioHub) -> None:
        self._audio = audio
        self._fanout: Fanout[AacFrame] = Fanout(gated=False)
        self._task: asyncio.Task[None] | None = None
        self._ending: set[asyncio.Task[None]] = set()  # cancelled, not yet done

    def subscribe(self, maxlen: int = 25) -> ConsumerQueue[AacFrame]:
        """A new subscriber's queue; the first starts the encoder (on the running loop)."""
        queue = self._fanout.subscribe(maxlen)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._encode(), name="rtsp aac")
        return queue

    def unsubscribe(self, queue: ConsumerQueue[AacFrame]) -> None:
        """The last one gone stops the encoder."""
        self._fanout.unsubscribe(queue)
        if not self._fanout and self._task is not None:
            self._task.cancel()
            self._ending.add(self._task)
            self._task.add_done_callback(self._ending.discard)
            self._task = None

    async def stop(self) -> None:
        """Wait for the encoders stopped (after the last unsubscribe) to have given the microphone's queue back."""
        await asyncio.gather(*self._ending, return_exceptions=True)

    async def _encode(self) -> None:
        encoder = AacEncoder()
        queue = self._audio.subscribe_pcm()
        try:
            async for chunk in drain(queue):
                for frame in encoder.encode(chunk):
                    self._fanout.publish(frame)
        finally:
            self._audio.unsubscribe_pcm(queue)
