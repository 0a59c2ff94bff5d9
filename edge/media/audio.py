"""The audio hub: one microphone, encoded to Opus once, shared by every consumer.

Consumers that encode for themselves (RTSP's AAC) take the microphone's PCM chunks
instead (:meth:`AudioHub.subscribe_pcm`); with none subscribed that costs nothing.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from fractions import Fraction
from typing import TypedDict

import av

from edge.media.fanout import Fanout
from edge.media.supervisor import SourceState, Supervisor
from edge.service import BackgroundTask, OffState
from hw.consumer_queue import ConsumerQueue
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, Microphone, PcmChunk

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OpusPacket:
    data: bytes
    timestamp_us: int  # capture time of the first sample, monotonic clock
    keyframe: bool = True  # every Opus packet can start playback


class OpusEncoder:
    """48 kHz mono Opus, 20 ms per packet; one packet out for each chunk in."""

    def __init__(self, bitrate: int) -> None:
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate = SAMPLE_RATE
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.bit_rate = bitrate
        self._codec.time_base = Fraction(1, SAMPLE_RATE)
        self._codec.options = {"application": "audio", "frame_duration": "20"}
        self._codec.open()
        self._timestamps: deque[int] = deque()
        self._pts = 0

    @property
    def extradata(self) -> bytes | None:
        return self._codec.extradata

    def encode(self, chunk: PcmChunk) -> list[OpusPacket]:
        frame = av.AudioFrame(format="s16", layout="mono", samples=CHUNK_SAMPLES)
        frame.planes[0].update(chunk.samples)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._pts += CHUNK_SAMPLES
        self._timestamps.append(chunk.timestamp_us)
        packets = []
        for packet in self._codec.encode(frame):
            # The encoder's look-ahead shifts output by a fraction of a packet; the
            # packets still come out one per chunk, in order: pair them up.
            packets.append(OpusPacket(bytes(packet), self._timestamps.popleft()))
        return packets


class MicrophoneStatus(TypedDict):
    backend: str
    state: SourceState | OffState  # off: no microphone
    restarts: int
    last_error: str | None


class AudioHub:
    """The microphone as a service: started, it keeps the microphone running, encoded to Opus."""

    name = "microphone"

    def __init__(self, microphone: Microphone, bitrate: int) -> None:
        self.microphone = microphone
        self._running = BackgroundTask("microphone")
        self._bitrate = bitrate
        self._fanout: Fanout[OpusPacket] = Fanout(gated=False)
        self._pcm: Fanout[PcmChunk] = Fanout(gated=False)
        self.supervisor = Supervisor(
            f"microphone ({microphone.name})", self._encoded, self._fanout.publish, stall_timeout=3.0
        )

    async def _encoded(self) -> AsyncGenerator[OpusPacket, None]:
        encoder = OpusEncoder(self._bitrate)
        async with aclosing(self.microphone.chunks()) as chunks:
            async for chunk in chunks:
                self._pcm.publish(chunk)
                for packet in encoder.encode(chunk):
                    yield packet

    async def start(self) -> None:
        self._running.start(self.supervisor.run())

    async def stop(self) -> None:
        await self._running.stop()

    def subscribe(self, maxlen: int = 25) -> ConsumerQueue[OpusPacket]:
        return self._fanout.subscribe(maxlen)

    def subscribe_pcm(self, maxlen: int = 25) -> ConsumerQueue[PcmChunk]:
        """The microphone's chunks as they come, for a consumer that encodes them itself."""
        return self._pcm.subscribe(maxlen)

    def unsubscribe_pcm(self, queue: ConsumerQueue[PcmChunk]) -> None:
        self._pcm.unsubscribe(queue)

    @property
    def opus_header(self) -> bytes | None:
        """The OpusHead (RFC 7845) that describes this hub's packets, for containers such as MP4."""
        return OpusEncoder(self._bitrate).extradata

    def unsubscribe(self, queue: ConsumerQueue[OpusPacket]) -> None:
        self._fanout.unsubscribe(queue)

    def status(self) -> MicrophoneStatus:
        sup = self.supervisor
        return {
            "backend": self.microphone.name,
            "state": sup.state,
            "restarts": sup.restarts,
            "last_error": sup.last_error,
        }


class NoMicrophone:
    """The microphone's place when there is none (``[microphone] backend = "none"``)."""

    name = "microphone"

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def status(self) -> MicrophoneStatus:
        return {"backend": "none", "state": OffState.OFF, "restarts": 0, "last_error": None}
