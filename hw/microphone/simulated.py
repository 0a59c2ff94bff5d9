"""A microphone with no hardware: a 440 Hz tone at -20 dBFS, paced in real time.

It behaves like a sound card as far as consumers can tell: chunks are 20 ms of s16le mono 48 kHz, handed out once
all their samples "exist" (chunk ``n`` at ``t0 + (n + 1) * 20 ms``, against absolute deadlines on the monotonic
clock, so there is no drift), stamped with the capture time of their first sample (``t0 + n * 20 ms``). A consumer
that falls behind gets the backlog at once, up to 1 s of it (what the ALSA microphone queues); beyond that, audio is
lost, as with a sound card's overrun.

So that it is audibly alive, the first 100 ms of every second is an octave up (880 Hz): a tick, once a second,
over a steady tone that never goes silent. The phase is continuous across chunks and pitch changes (no clicks).

In A/V sync mode (``av_sync=True``) it is silent but for a beep (1 kHz, -10 dBFS, 50 ms) at every whole second of the
monotonic clock (``hw.clock.SYNC_PERIOD_US``): the beep's first sample is the first sample captured at or after that
instant, so it starts at the capture instant of the simulated camera's white frame.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator

import numpy as np

from hw.clock import SYNC_PERIOD_US, monotonic_us
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, Microphone, PcmChunk

TONE_HZ = 440.0
TICK_HZ = 880.0
LEVEL_DBFS = -20.0  # peak level of the sine
_AMPLITUDE = 32767 * 10 ** (LEVEL_DBFS / 20)
_CHUNK_US = CHUNK_SAMPLES * 1_000_000 // SAMPLE_RATE
_CHUNKS_PER_SECOND = SAMPLE_RATE // CHUNK_SAMPLES
_TICK_CHUNKS = 5  # 100 ms
_MAX_LAG_US = 1_000_000
BEEP_HZ = 1000.0
BEEP_US = 50_000
BEEP_DBFS = -10.0
_BEEP_AMPLITUDE = 32767 * 10 ** (BEEP_DBFS / 20)
_SAMPLE_US = np.arange(CHUNK_SAMPLES) * (1_000_000 / SAMPLE_RATE)  # each sample's time after the chunk's first


def sync_beep(timestamp_us: int) -> np.ndarray:
    """The A/V sync mode's chunk that starts at ``timestamp_us``: silence, or part of a beep."""
    since_us = (timestamp_us % SYNC_PERIOD_US + _SAMPLE_US) % SYNC_PERIOD_US  # since the last whole second
    return np.where(since_us < BEEP_US, np.sin(2 * math.pi * BEEP_HZ / 1e6 * since_us), 0.0) * _BEEP_AMPLITUDE


class SimulatedMicrophone(Microphone):
    name = "simulated"

    def __init__(self, av_sync: bool = False) -> None:
        self.av_sync = av_sync

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
            timestamp_us = t0_us + n * _CHUNK_US
            if self.av_sync:
                samples = sync_beep(timestamp_us)
            else:
                frequency = TICK_HZ if n % _CHUNKS_PER_SECOND < _TICK_CHUNKS else TONE_HZ
                step = 2 * math.pi * frequency / SAMPLE_RATE
                samples = np.sin(phase + step * np.arange(CHUNK_SAMPLES)) * _AMPLITUDE
                phase = (phase + step * CHUNK_SAMPLES) % (2 * math.pi)
            yield PcmChunk(samples.round().astype("<i2").tobytes(), timestamp_us)
            n += 1
