"""A microphone with no hardware: a 440 Hz tone at -20 dBFS, paced in real time.

It behaves like a sound card as far as consumers can tell: chunks are 20 ms of s16le mono 48 kHz, handed out once
all their samples "exist" (chunk ``n`` at ``t0 + (n + 1) * 20 ms``, against absolute deadlines on the monotonic
clock, so there is no drift), stamped with the capture time of their first sample (``t0 + n * 20 ms``). A consumer
that falls behind gets the backlog at once, up to 1 s of it (what the ALSA microphone queues); beyond that, audio is
lost, as with a sound card's overrun.

So that it is audibly alive, the first 100 ms of every second is an octave up (880 Hz): a tick, once a second,
over a steady tone that never goes silent. The phase is continuous across chunks and pitch changes (no clicks).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator

import numpy as np

from hw.clock import monotonic_us
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, Microphone, PcmChunk

TONE_HZ = 440.0
TICK_HZ = 880.0
LEVEL_DBFS = -20.0  # peak level of the sine
_AMPLITUDE = 32767 * 10 ** (LEVEL_DBFS / 20)
_CHUNK_US = CHUNK_SAMPLES * 1_000_000 // SAMPLE_RATE
_CHUNKS_PER_SECOND = SAMPLE_RATE // CHUNK_SAMPLES
_TICK_CHUNKS = 5  # 100 ms
_MAX_LAG_US = 1_000_000


class SimulatedMicrophone(Microphone):
    name = "simulated"

    async def chunks(self) -> AsyncGenerator[PcmChunk, None]:
        t0_us = monotonic_us()
        phase = 0.0  # radians, at the start of the next chunk
        n = 0
        while True:
            due_us = t0_us + (n + 1) * _CHUNK_US
            now_us = monotonic_us()
            if now_us > due_us + _MAX_LAG_US:  # the consumer stalled: drop what a sound card would have lost
                n = (now_us - t0_us) // _CHUNK_US - 1
                due_us = t0_us + (n + 1) * _CHUNK_US
            elif now_us < due_us:
                await asyncio.sleep((due_us - now_us) / 1e6)
            frequency = TICK_HZ if n % _CHUNKS_PER_SECOND < _TICK_CHUNKS else TONE_HZ
            step = 2 * math.pi * frequency / SAMPLE_RATE
            samples = np.sin(phase + step * np.arange(CHUNK_SAMPLES)) * _AMPLITUDE
            phase = (phase + step * CHUNK_SAMPLES) % (2 * math.pi)
            yield PcmChunk(samples.round().astype("<i2").tobytes(), t0_us + n * _CHUNK_US)
            n += 1
