"""Microphones: the real ALSA path (PyAV, libasound) against a fake capture device, and the simulated tone."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path

import av
import numpy as np
import pytest

import hw.microphone.alsa as alsa_module
from hw.clock import monotonic_us
from hw.microphone import CHUNK_BYTES, CHUNK_SAMPLES, SAMPLE_RATE, MicrophoneError, PcmChunk, open_microphone
from hw.microphone.alsa import AlsaMicrophone, _Timeline
from hw.microphone.simulated import SimulatedMicrophone
from tests.alsa_fixture import MISSING_DEVICE, SYSTEM_ALSA_CONF, FakeAlsaMic, fake_alsa_mic

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_mic(monkeypatch: pytest.MonkeyPatch):
    with fake_alsa_mic(frequency=1000, amplitude=0.5) as mic:
        monkeypatch.setenv("ALSA_CONFIG_PATH", mic.config_path)
        yield mic


def mic_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("alsa-mic:")]


async def take(mic, n: int, timeout: float = 20) -> tuple[list[PcmChunk], list[int]]:
    """The first ``n`` chunks, and when each arrived."""
    chunks: list[PcmChunk] = []
    arrivals: list[int] = []
    async with asyncio.timeout(timeout):
        async with aclosing(mic.chunks()) as it:
            async for chunk in it:
                chunks.append(chunk)
                arrivals.append(monotonic_us())
                if len(chunks) == n:
                    break
    return chunks, arrivals


def pcm(chunks: list[PcmChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(c.samples for c in chunks), "<i2").astype(np.float64) / 32768


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


def check_timestamps(chunks: list[PcmChunk], arrivals: list[int]) -> None:
    ts = np.array([c.timestamp_us for c in chunks])
    steps = np.diff(ts)
    assert (steps > 0).all(), steps
    assert np.median(steps) == 20_000
    assert np.mean(steps == 20_000) >= 0.8, steps  # exact while steady; a correction may shorten a step
    assert abs((ts[-1] - ts[0]) - 20_000 * (len(ts) - 1)) <= 100_000
    latency = np.array(arrivals) - ts
    # The capture time of the first sample: a chunk exists only once its last sample does, 20 ms later; a stamp of
    # the last sample would leave ~0. Halfway between tells them apart on a loaded machine, where the anchor may run
    # a few ms late (it is an upper bound, corrected when an earlier observation comes). Not for every chunk: after
    # the anchor moves back, stamps stay monotonic by running late for a few chunks.
    assert np.median(latency) >= 20_000 - 10_000
    assert latency.max() < 1_000_000  # and recent (generous: the box is loaded)


# --- AlsaMicrophone through PyAV's alsa demuxer, against the fake device -----------------------------------------


async def test_alsa_delivers_paced_20ms_chunks_of_the_sine(fake_mic: FakeAlsaMic) -> None:
    mic = AlsaMicrophone(fake_mic.device)
    assert mic.name == "alsa"
    started = time.monotonic()
    chunks, arrivals = await take(mic, 50)
    elapsed = time.monotonic() - started

    assert all(len(c.samples) == CHUNK_BYTES == 2 * CHUNK_SAMPLES for c in chunks)
    assert elapsed >= 0.9, "1 s of audio came faster than real time: the device is not paced"
    samples = pcm(chunks)
    assert abs(peak_hz(samples) - 1000) <= 5
    expected_rms = 0.5 / np.sqrt(2)
    for c in chunks:  # every chunk, so a dropout (silence from a short read) shows
        assert abs(rms(pcm([c])) - expected_rms) < 0.05 * expected_rms
    check_timestamps(chunks, arrivals)
    assert mic_threads() == []


async def test_alsa_missing_device_raises_quickly_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSA_CONFIG_PATH", SYSTEM_ALSA_CONF)
    started = time.monotonic()
    with pytest.raises(MicrophoneError) as info:
        await take(AlsaMicrophone(MISSING_DEVICE), 1, timeout=10)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert MISSING_DEVICE in message and "\n" not in message
    assert mic_threads() == []


async def test_alsa_closing_the_generator_stops_the_thread_and_releases_the_device(fake_mic: FakeAlsaMic) -> None:
    mic = AlsaMicrophone(fake_mic.device)
    it = mic.chunks()
    try:
        await asyncio.wait_for(anext(it), 10)
        assert len(mic_threads()) == 1
        assert fake_mic.is_open_by()
    finally:
        started = time.monotonic()
        await asyncio.wait_for(it.aclose(), 5)
    assert time.monotonic() - started < 2  # ~20 ms when idle; generous for a loaded box
    assert mic_threads() == []
    assert not fake_mic.is_open_by()

    # And it can be opened again.
    chunks, _ = await take(mic, 3)
    assert len(chunks) == 3


async def test_alsa_cancelling_the_consumer_stops_the_thread(fake_mic: FakeAlsaMic) -> None:
    mic = AlsaMicrophone(fake_mic.device)
    got_one = asyncio.Event()

    async def consume() -> None:
        async for _ in mic.chunks():
            got_one.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_one.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert mic_threads() == []


async def test_alsa_read_error_raises_microphone_error_and_closes(
    fake_mic: FakeAlsaMic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device that fails mid-stream (e.g. a USB microphone unplugged: ALSA returns an error from readi)."""
    real_open = av.open
    closed = threading.Event()

    class FailingContainer:
        def __init__(self, container) -> None:
            self._container = container
            self.streams = container.streams

        def demux(self, stream):
            for i, packet in enumerate(self._container.demux(stream)):
                if i == 25:  # 25 periods of 4 ms: 5 chunks
                    raise OSError(errno.ENODEV, "No such device")
                yield packet

        def close(self) -> None:
            self._container.close()
            closed.set()

    monkeypatch.setattr(alsa_module.av, "open", lambda *a, **kw: FailingContainer(real_open(*a, **kw)))
    chunks: list[PcmChunk] = []
    with pytest.raises(MicrophoneError) as info:
        async with asyncio.timeout(10):
            async for chunk in AlsaMicrophone(fake_mic.device).chunks():
                chunks.append(chunk)
    assert len(chunks) == 5
    assert fake_mic.device in str(info.value) and "No such device" in str(info.value)
    assert closed.is_set()
    assert mic_threads() == []


async def test_alsa_fake_device_works_from_a_subprocess(fake_mic: FakeAlsaMic) -> None:
    """What a daemon test does: the device is selected by the environment given to the child process."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import numpy as np
        from hw.microphone.alsa import AlsaMicrophone

        async def main():
            n, energy = 0, 0.0
            async for chunk in AlsaMicrophone(sys.argv[1]).chunks():
                energy += float(np.mean((np.frombuffer(chunk.samples, "<i2") / 32768.0) ** 2))
                n += 1
                if n == 10:
                    break
            print(n, (energy / n) ** 0.5)

        asyncio.run(main())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "ALSA_CONFIG_PATH"} | fake_mic.env
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, fake_mic.device, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    n, level = out.split()
    assert int(n) == 10
    assert abs(float(level) - 0.5 / np.sqrt(2)) < 0.02


def test_open_microphone_by_backend_name() -> None:
    alsa = open_microphone("alsa", "plughw:1,0")
    assert isinstance(alsa, AlsaMicrophone) and alsa.device == "plughw:1,0"
    assert isinstance(open_microphone("simulated"), SimulatedMicrophone)


# --- the timestamp logic, without a device ---------------------------------------------------------------------


def test_timeline_steady_device_is_20ms_apart_despite_late_reads() -> None:
    timeline = _Timeline()
    stamps = []
    for k in range(100):
        late = (k * 7919) % 15_000  # scheduling jitter: reads are late by 0-15 ms, never early
        timeline.observe(k * CHUNK_SAMPLES, 1_000_000 + k * 20_000 + late)
        stamps.append(timeline.stamp(k * CHUNK_SAMPLES))
    assert stamps[0] == 1_000_000
    assert set(np.diff(stamps)) == {20_000}


def test_timeline_moves_back_on_an_early_observation_and_stays_monotonic() -> None:
    timeline = _Timeline()
    timeline.observe(0, 1_050_000)  # the first read was 50 ms late
    assert timeline.stamp(0) == 1_050_000
    timeline.observe(CHUNK_SAMPLES, 1_020_000)  # the next one was on time: the anchor was 50 ms late
    # Moved back to 1_000_000 + k * 20 ms, but never at or before a stamp already handed out.
    assert [timeline.stamp(k * CHUNK_SAMPLES) for k in range(1, 5)] == [1_050_001, 1_050_002, 1_060_000, 1_080_000]


def test_timeline_ignores_a_stall_but_follows_lost_audio() -> None:
    timeline = _Timeline()
    t = 1_000_000
    sample = 0
    for k in range(200):  # 4 s; a 300 ms stall at 1 s: those reads are late, then catch up
        late = 300_000 - (k - 50) * 20_000 if 50 <= k < 65 else 0
        timeline.observe(sample, t + k * 20_000 + late)
        assert timeline.stamp(sample) == t + k * 20_000
        sample += CHUNK_SAMPLES
    # Now 500 ms of audio is lost (an overrun): the samples keep coming, 500 ms later than counted.
    t += 500_000
    stamps = []
    for k in range(200, 350):  # two whole seconds of late reads prove it, then the stamps jump
        timeline.observe(sample, t + k * 20_000)
        stamps.append(timeline.stamp(sample))
        sample += CHUNK_SAMPLES
    assert stamps[-1] == t + 349 * 20_000  # re-anchored
    assert (np.diff(stamps) > 0).all()


DRIFT_PERIOD_SAMPLES = 1024  # an ALSA period as USB sound cards often have it


def device_stamps(ppm: float, seconds: int, delay_us: Callable[[float], float]) -> tuple[np.ndarray, np.ndarray]:
    """A sound card whose clock is ``ppm`` off, read as ``AlsaMicrophone`` reads it, on a simulated clock.

    Returns each chunk's stamp and the true capture time of its first sample (µs). Each period is read when its last
    sample exists plus ``delay_us(t)``, ``t`` being the seconds of audio captured so far. No sample is lost.
    """
    rate = SAMPLE_RATE * (1 + ppm / 1e6)  # samples per second of the monotonic clock
    t0_us = 5_000_000_000
    timeline = _Timeline()
    stamps, truths = [], []
    written = emitted = 0
    while written < seconds * SAMPLE_RATE:
        written_after = written + DRIFT_PERIOD_SAMPLES
        read_us = t0_us + written_after * 1e6 / rate + delay_us(written_after / SAMPLE_RATE)
        length_us = DRIFT_PERIOD_SAMPLES * 1_000_000 // SAMPLE_RATE  # what _captured_us subtracts
        timeline.observe(written, round(read_us) - length_us)
        written = written_after
        while written - emitted >= CHUNK_SAMPLES:
            stamps.append(timeline.stamp(emitted))
            truths.append(t0_us + emitted * 1e6 / rate)
            emitted += CHUNK_SAMPLES
    return np.array(stamps), np.array(truths)


def scheduling_delay_us(rng: random.Random) -> Callable[[float], float]:
    """Reads 0.2-3 ms late mostly, a 30 ms stall now and then."""
    return lambda _t: 30_000 if rng.random() < 0.001 else 200 + rng.expovariate(1 / 800)


@pytest.mark.parametrize("ppm", [-100, 100], ids=["100ppm-slow", "100ppm-fast"])
def test_timeline_follows_a_drifting_device_clock_for_an_hour_in_small_steps(ppm: int) -> None:
    stamps, truths = device_stamps(ppm, seconds=3600, delay_us=scheduling_delay_us(random.Random(27)))
    settled = SAMPLE_RATE // CHUNK_SAMPLES  # the first second: the first read's own lateness is taken back at once
    error_us = (stamps - truths)[settled:]
    step_us = np.abs(np.diff(stamps)[settled:] - 20_000)
    # Audio never leads or lags video by more than 1.5 ms, however long it runs (100 ppm is 360 ms an hour) ...
    assert np.abs(error_us).max() < 1_500, f"max error {np.abs(error_us).max():.0f} us"
    # ... and the stamps get there by steps of at most 10 µs per 20 ms chunk: no jump a listener could hear.
    assert step_us.max() <= 10, f"max step {step_us.max()} us"


@pytest.mark.parametrize(
    ("backlog_us", "backlog_s"),
    [(25_000, 1.2), (60_000, 1.5), (60_000, 1.99)],
    ids=["25ms-1.2s", "60ms-1.5s", "60ms-2s"],
)
def test_timeline_rides_out_a_sustained_backlog_with_no_audio_lost(backlog_us: int, backlog_s: float) -> None:
    # The capture thread starved of CPU (a Pi 5 encoding with libx264 next to aiortc): every read of up to two seconds
    # comes back late, then the backlog drains. No sample was lost, so the stamps must not move.
    start_s = 2.0
    stamps, truths = device_stamps(
        0, seconds=6, delay_us=lambda t: backlog_us if start_s <= t < start_s + backlog_s else 300
    )
    settled = SAMPLE_RATE // CHUNK_SAMPLES
    error_us = (stamps - truths)[settled:]
    step_us = np.diff(stamps)[settled:]
    # No gap a listener would hear, no chunks bunched together after it ...
    assert step_us.min() >= 19_990 and step_us.max() <= 20_010, f"steps {step_us.min()}..{step_us.max()} us"
    # ... and sound stays with the picture throughout.
    assert np.abs(error_us).max() < 2_000, f"max error {np.abs(error_us).max():.0f} us"


# --- SimulatedMicrophone ---------------------------------------------------------------------------------------------


async def test_simulated_is_paced_and_carries_the_tone() -> None:
    mic = SimulatedMicrophone()
    assert mic.name == "simulated"
    started = time.monotonic()
    chunks, arrivals = await take(mic, 25)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.45
    assert all(len(c.samples) == CHUNK_BYTES for c in chunks)
    check_timestamps(chunks, arrivals)
    tick, tone = pcm(chunks[:5]), pcm(chunks[5:])  # the first 100 ms of each second is the 880 Hz tick
    assert abs(peak_hz(tick) - 880) <= 10
    assert abs(peak_hz(tone) - 440) <= 5
    expected_rms = 0.1 / np.sqrt(2)  # -20 dBFS peak
    for c in chunks:
        assert abs(rms(pcm([c])) - expected_rms) < 0.05 * expected_rms


class FakeClock:
    """Stands in for the clock and ``asyncio`` in the simulated microphone: every sleep oversleeps by 5 ms."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000_000
        self.sleeps: list[float] = []

    def monotonic_us(self) -> int:
        return self.ns // 1000

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.ns += int(seconds * 1e9) + 5_000_000


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    import hw.microphone.simulated as simulated_module

    clock = FakeClock()
    monkeypatch.setattr(simulated_module, "monotonic_us", clock.monotonic_us)
    monkeypatch.setattr(simulated_module, "asyncio", clock)
    return clock


async def test_simulated_deadlines_are_absolute_so_late_wakeups_do_not_drift(fake_clock: FakeClock) -> None:
    t0_us = fake_clock.ns // 1000
    it = SimulatedMicrophone().chunks()
    for n in range(100):
        chunk = await anext(it)
        assert chunk.timestamp_us == t0_us + n * 20_000
    await it.aclose()
    # Each sleep was 5 ms too long, and the next one 5 ms shorter: 100 chunks end at 2 s + 5 ms, not 2.5 s.
    assert fake_clock.ns // 1000 - t0_us == 2_000_000 + 5_000
    assert all(abs(s - 0.015) < 1e-6 for s in fake_clock.sleeps[1:])


async def test_simulated_catches_up_after_a_short_stall_and_drops_after_a_long_one(fake_clock: FakeClock) -> None:
    t0_us = fake_clock.ns // 1000
    it = SimulatedMicrophone().chunks()
    for _ in range(10):
        await anext(it)
    fake_clock.ns += 500_000_000  # the consumer went away for half a second: the backlog comes at once
    sleeps = len(fake_clock.sleeps)
    backlog = [await anext(it) for _ in range(25)]
    assert len(fake_clock.sleeps) == sleeps
    assert [c.timestamp_us for c in backlog] == [t0_us + n * 20_000 for n in range(10, 35)]

    fake_clock.ns += 3_000_000_000  # for three seconds: audio is lost
    late = await anext(it)
    assert late.timestamp_us >= t0_us + 150 * 20_000  # the chunk being captured now, not the oldest missed
    following = await anext(it)
    assert following.timestamp_us == late.timestamp_us + 20_000
    await it.aclose()
