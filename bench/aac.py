"""What RTSP's AAC costs: FFmpeg's native AAC encoder (``edge/media/aac.py``) on the microphone's 20 ms chunks.

Two inputs: the simulated microphone as the daemon gets it (its tone with a tick, paced in
real time, ``--seconds`` of it), and white noise at -20 dBFS encoded back to back (a noisy
room: the encoder's hardest case). The CPU time of each ``encode`` call is measured on its
own thread's clock; the figure per chunk is the mean (a call that completes a 1024-sample
frame encodes it, the others only queue samples).

    .venv/bin/python -m bench.aac [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterable

import numpy as np

from edge.media.aac import BITRATE, AacEncoder
from hw.microphone import CHUNK_SAMPLES, SAMPLE_RATE, PcmChunk
from hw.microphone.simulated import SimulatedMicrophone

CHUNK_S = CHUNK_SAMPLES / SAMPLE_RATE
NOISE_DBFS = -20.0


def encode_times_us(chunks: Iterable[PcmChunk]) -> list[float]:
    """The CPU time of encoding each chunk, in µs."""
    encoder = AacEncoder()
    times = []
    for chunk in chunks:
        started = time.thread_time_ns()
        encoder.encode(chunk)
        times.append((time.thread_time_ns() - started) / 1000)
    return times


def noise_chunks(count: int) -> list[PcmChunk]:
    rng = np.random.default_rng(0)
    amplitude = 32767 * 10 ** (NOISE_DBFS / 20)
    samples = np.clip(rng.normal(0, amplitude / 3, count * CHUNK_SAMPLES), -32768, 32767).astype("<i2")
    return [
        PcmChunk(samples[n * CHUNK_SAMPLES : (n + 1) * CHUNK_SAMPLES].tobytes(), round(n * CHUNK_S * 1e6))
        for n in range(count)
    ]


async def encode_live(seconds: float) -> list[float]:
    """Encode the simulated microphone as it delivers, on the event loop as the daemon does."""
    encoder = AacEncoder()
    times = []
    async for chunk in SimulatedMicrophone().chunks():
        started = time.thread_time_ns()
        encoder.encode(chunk)
        times.append((time.thread_time_ns() - started) / 1000)
        if len(times) * CHUNK_S >= seconds:
            return times
    raise AssertionError("the simulated microphone stopped")


def report(what: str, times_us: list[float]) -> None:
    mean = statistics.fmean(times_us)
    print(
        f"  {what}: {mean:.0f} µs of CPU per 20 ms chunk (median {statistics.median(times_us):.0f}, "
        f"max {max(times_us):.0f}), {100 * mean / (CHUNK_S * 1e6):.2f} % of one core, {len(times_us)} chunks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="seconds of sound to encode")
    args = parser.parse_args()
    print(f"AAC-LC 48 kHz mono {BITRATE // 1000} kb/s, FFmpeg's native encoder:")
    report(f"simulated microphone, {args.seconds:g} s in real time", asyncio.run(encode_live(args.seconds)))
    report("white noise at -20 dBFS, back to back", encode_times_us(noise_chunks(round(args.seconds / CHUNK_S))))


if __name__ == "__main__":
    main()
