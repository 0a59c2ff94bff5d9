"""AAC-LC for RTSP clients: the microphone's PCM encoded with FFmpeg's native ``aac`` encoder (through PyAV).

Home Assistant's stream component keeps only AAC (or MP3) and drops Opus, and NVRs expect
AAC from an IP camera. The microphone hands out 960-sample chunks, AAC frames hold 1024:
the encoder counts samples, and each frame's capture time is that of its first sample,
read from the chunk that sample came in. FFmpeg's encoder primes with 1024 samples and
stamps its packets so that a packet's decoded samples start at its ``pts`` (the first
packet's is -1024: the priming, captured "before" the first chunk); the frame's capture
time is the capture time of input sample ``pts``, so a decoder's output lines up with the
picture without knowing about priming.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from hw.microphone import SAMPLE_RATE, PcmChunk

BITRATE = 64_000  # mono AAC-LC at 48 kHz: FFmpeg's native encoder sounds clean from about 64 kb/s
FRAME_SAMPLES = 1024  # AAC-LC's frame length
FRAME_NS = FRAME_SAMPLES * 1_000_000_000 // SAMPLE_RATE
_TIME_BASE = Fraction(1, SAMPLE_RATE)


@dataclass(frozen=True, slots=True)
class AacFrame:
    data: bytes  # one raw AAC frame (no ADTS header)
    timestamp_us: int  # capture time of the first sample it decodes to, monotonic clock
    keyframe: bool = True  # every AAC-LC frame can start playback


class AacEncoder:
    """48 kHz mono AAC-LC; frames come out as soon as 1024 samples (and the encoder's look-ahead) are in."""

    def __init__(self, bitrate: int = BITRATE) -> None:
        self._codec = av.CodecContext.create("aac", "w")
        self._codec.sample_rate = SAMPLE_RATE
        self._codec.layout = "mono"
        self._codec.format = "fltp"
        self._codec.bit_rate = bitrate
        self._codec.time_base = _TIME_BASE
        self._codec.open()
        self._fifo = av.AudioFifo()
        self._samples_in = 0
        self._chunks: deque[tuple[int, int]] = deque()  # (index of its first sample, its capture time)

    @property
    def audio_specific_config(self) -> bytes:
        """The AudioSpecificConfig (ISO 14496-3) describing the frames: SDP's ``config``, MP4's esds."""
        extradata = self._codec.extradata
        assert extradata is not None  # set when the encoder opens
        return extradata

    def encode(self, chunk: PcmChunk) -> list[AacFrame]:
        samples = np.frombuffer(chunk.samples, "<i2").astype(np.float32) / 32768
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples_in
        frame.time_base = _TIME_BASE
        self._chunks.append((self._samples_in, chunk.timestamp_us))
        self._samples_in += len(samples)
        self._fifo.write(frame)
        frames = []
        while self._fifo.samples >= FRAME_SAMPLES:
            for packet in self._codec.encode(self._fifo.read(FRAME_SAMPLES)):
                assert packet.pts is not None  # the encoder stamps every packet
                frames.append(AacFrame(bytes(packet), self._capture_time_us(packet.pts)))
        return frames

    def _capture_time_us(self, sample: int) -> int:
        """When input sample ``sample`` was captured (before the first chunk: counted back from it)."""
        while len(self._chunks) > 1 and self._chunks[1][0] <= sample:
            self._chunks.popleft()  # later frames start later still
        first_sample, timestamp_us = self._chunks[0]
        return timestamp_us + (sample - first_sample) * 1_000_000 // SAMPLE_RATE
