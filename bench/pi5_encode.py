"""The Pi 5's H.264 budget: libx264 through picamera2's ``LibavH264Encoder``, as the daemon sets it up.

A Pi 5 has no H.264 block: picamera2 encodes with libx264 on the CPU. This runs that path as
the contract tests do (testbed/picamera2_env.py: picamera2 0.3.37 as a Pi 5 sees it, its own encoder, request
and camera-loop code on the stand-in camera, the daemon's ``PiCamera``), the camera unpaced (a
frame as soon as the encoder has taken the last one), its pictures rendered once and replayed.
For 720p30 and 1080p30 and each candidate setting it reports, over the frames after the first
``LOOP``:

- CPU per frame: the process's user + system time (every thread: x264's too) over the frames;
  at 30 fps, ``30 * cpu_ms / 1000`` cores;
- what it sustains here: frames a second, unpaced;
- frames held: how many newer frames the camera had already given when an access unit came
  out (median), the encoder's latency in frames.

Then the low stream's cost: main with the daemon's setting alone and with the low stream beside it
(``[camera.low]``'s defaults: 640 wide at main's aspect, 450 kbit/s; a second libx264 on lores, the
stand-in camera filling lores with the same scene rendered at that size, noise added), alternately
``--rounds`` times; the extra CPU per frame is the difference of the medians.

docs/picamera2.md ("The Pi 5's encode budget", "The low stream") turns the figures into a Pi 5 estimate.

    .venv/bin/python -m bench.pi5_encode [--frames 240] [--part all|settings|low] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import mmap
import resource
import statistics
import time
from collections.abc import Callable
from contextlib import aclosing
from typing import ClassVar

import numpy as np

from edge.config import LowStreamConfig
from hw.camera import CameraSettings, low_stream_settings, picamera2_ext
from hw.camera.pi import PiCamera, open_picamera2
from hw.camera.testpicture import TestPicture
from testbed.fake_picamera2 import FakeCamera
from testbed.picamera2_env import TRIXIE, picamera2_as

LOOP = 60  # distinct pictures, rendered once each, then replayed
NOISE = 3  # luma and chroma levels of a sensor's noise (at ISO 100-400 in daylight, 8 bits: 1-3)
SIZES = {"720p30": (1280, 720, 2_000_000), "1080p30": (1920, 1080, 4_000_000)}
# (preset, threads, thread type): the daemon's choice first, then what it was chosen over
CANDIDATES = (
    ("ultrafast", 4, "SLICE"),
    ("ultrafast", 2, "SLICE"),
    ("ultrafast", 1, "SLICE"),
    ("ultrafast", 0, "FRAME"),  # picamera2's own threading: an automatic count of frame threads
    ("superfast", 4, "SLICE"),
    ("veryfast", 4, "SLICE"),
)


class ReplayedCamera(FakeCamera):
    """The stand-in camera, unpaced, its first ``LOOP`` pictures rendered and then replayed: ``main``'s,
    and ``lores``' as the same scene rendered at its size (as the ISP scales it; not the stand-in's ramp).

    A sensor's picture is never clean: each frame gets noise of up to ``NOISE`` levels, new in every
    frame as a sensor's is (x264 spends most of its time on what changed; a clean synthetic scene
    would flatter it)."""

    paced = False
    rendered: ClassVar[dict[tuple[str, tuple[int, int], int], bytes]] = {}

    def _fill_main(self, memory: mmap.mmap, index: int) -> None:
        self._replay(memory, index, "main", lambda: super(ReplayedCamera, self)._fill_main(memory, index))

    def _fill_lores(self, memory: mmap.mmap, index: int) -> None:
        def render() -> None:
            width, height = self.camera_config["lores"]["size"]
            self._copy_picture(memory, TestPicture(width, height).render(index, 0.0), "lores")

        self._replay(memory, index, "lores", render)

    def _replay(self, memory: mmap.mmap, index: int, name: str, render: Callable[[], None]) -> None:
        assert self.camera_config is not None  # configured before the first frame
        key = (name, tuple(self.camera_config[name]["size"]), index % LOOP)
        if key not in self.rendered:
            render()
            clean = np.frombuffer(memory, np.uint8).astype(np.int16)
            noise = np.random.default_rng(index).integers(-NOISE, NOISE + 1, clean.size, dtype=np.int16)
            self.rendered[key] = np.clip(clean + noise, 0, 255).astype(np.uint8).tobytes()
        memory[:] = self.rendered[key]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(settings: CameraSettings, frames: int, low: CameraSettings | None = None) -> dict[str, float]:
    """Over ``frames`` of main's units after the first ``LOOP``: CPU per camera frame (both encoders' with
    ``low``), frames a second, frames held (main's) and each stream's bitrate at 30 fps."""
    ReplayedCamera.opened.clear()
    camera = PiCamera(settings, open_camera=lambda: open_picamera2(ReplayedCamera))
    camera.low_settings = low
    held: list[int] = []
    bytes_out = {"main": 0, "low": 0}
    started_cpu = started_wall = 0.0
    async with aclosing(camera.frames()) as units:
        count = 0  # main's units
        async for unit in units:
            if count >= LOOP:
                bytes_out[unit.stream] += len(unit.data)
            if unit.stream != "main":
                continue
            fake = ReplayedCamera.opened[0]
            if count == LOOP:
                started_cpu, started_wall = cpu_s(), time.monotonic()
            if count >= LOOP:
                held.append(len(fake.sensor_timestamps_ns) - 1 - count)
            count += 1
            if count == LOOP + frames:
                break
        cpu, wall = cpu_s() - started_cpu, time.monotonic() - started_wall
    if low is not None and camera.low_error is not None:
        raise RuntimeError(f"no low stream: {camera.low_error}")
    return {
        "cpu_ms": 1000 * cpu / frames,
        "fps": frames / wall,
        "held": statistics.median(held),
        "kbit_s_at_30": bytes_out["main"] * 8 / (frames / 30) / 1000,
        "low_kbit_s_at_30": bytes_out["low"] * 8 / (frames / 30) / 1000,
    }


def compare_settings(frames: int) -> None:
    print(f"{'size':8} {'preset':10} {'threads':>8} {'CPU ms/frame':>13} {'fps here':>9} {'held':>5} {'kbit/s':>7}")
    for size, (width, height, bitrate) in SIZES.items():
        settings = CameraSettings(width=width, height=height, framerate=30, bitrate=bitrate)
        for preset, threads, thread_type in CANDIDATES:
            picamera2_ext.X264_PRESET = preset
            picamera2_ext.X264_THREADS = threads
            picamera2_ext.X264_THREAD_TYPE = thread_type
            figures = asyncio.run(measure(settings, frames))
            label = f"{threads or 'auto'} {thread_type.lower()}"
            print(
                f"{size:8} {preset:10} {label:>8} {figures['cpu_ms']:13.2f} {figures['fps']:9.1f}"
                f" {figures['held']:5.0f} {figures['kbit_s_at_30']:7.0f}",
                flush=True,
            )


def low_stream_cost(frames: int, rounds: int) -> None:
    """Main alone and main with the low stream, alternately: the extra CPU a frame is the low stream's."""
    defaults = LowStreamConfig()
    print(f"\nThe low stream ([camera.low] defaults: {defaults.width} wide, {defaults.bitrate // 1000} kbit/s)")
    print(f"{'size':8} {'low':>8} {'main alone':>11} {'with low':>9} {'extra':>6} {'low kbit/s':>11}  (CPU ms/frame)")
    for size, (width, height, bitrate) in SIZES.items():
        settings = CameraSettings(width=width, height=height, framerate=30, bitrate=bitrate)
        low = low_stream_settings(settings, defaults.width, defaults.height, defaults.bitrate)
        assert low is not None
        alone: list[float] = []
        both: list[dict[str, float]] = []
        for _ in range(rounds):
            alone.append(asyncio.run(measure(settings, frames))["cpu_ms"])
            both.append(asyncio.run(measure(settings, frames, low)))
        with_low = statistics.median(figures["cpu_ms"] for figures in both)
        low_kbit_s = statistics.median(figures["low_kbit_s_at_30"] for figures in both)
        print(
            f"{size:8} {f'{low.width}x{low.height}':>8} {statistics.median(alone):11.2f} {with_low:9.2f}"
            f" {with_low - statistics.median(alone):6.2f} {low_kbit_s:11.0f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240, help="frames measured per setting")
    parser.add_argument("--part", choices=("all", "settings", "low"), default="all", help="which tables")
    parser.add_argument("--rounds", type=int, default=5, help="alternate runs of main alone and with low")
    args = parser.parse_args()
    with picamera2_as(TRIXIE, "pi5"):
        print(f"picamera2 {TRIXIE} as a Pi 5; {args.frames} frames per setting after {LOOP} to warm up")
        if args.part in ("all", "settings"):
            compare_settings(args.frames)
        if args.part in ("all", "low"):
            low_stream_cost(args.frames, args.rounds)


if __name__ == "__main__":
    main()
