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

docs/picamera2.md ("The Pi 5's encode budget") turns the figures into a Pi 5 estimate.

    .venv/bin/python -m bench.pi5_encode [--frames 240]
"""

from __future__ import annotations

import argparse
import asyncio
import mmap
import resource
import statistics
import time
from contextlib import aclosing
from typing import ClassVar

import numpy as np

from hw.camera import CameraSettings, picamera2_ext
from hw.camera.pi import PiCamera, open_picamera2
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
    """The stand-in camera, unpaced, its first ``LOOP`` pictures rendered and then replayed.

    A sensor's picture is never clean: each frame gets noise of up to ``NOISE`` levels, new in every
    frame as a sensor's is (x264 spends most of its time on what changed; a clean synthetic scene
    would flatter it)."""

    paced = False
    rendered: ClassVar[dict[tuple[tuple[int, int], int], bytes]] = {}

    def _fill_main(self, memory: mmap.mmap, index: int) -> None:
        assert self.camera_config is not None  # configured before the first frame
        key = (tuple(self.camera_config["main"]["size"]), index % LOOP)
        if key not in self.rendered:
            super()._fill_main(memory, index)
            clean = np.frombuffer(memory, np.uint8).astype(np.int16)
            noise = np.random.default_rng(index).integers(-NOISE, NOISE + 1, clean.size, dtype=np.int16)
            self.rendered[key] = np.clip(clean + noise, 0, 255).astype(np.uint8).tobytes()
        memory[:] = self.rendered[key]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(settings: CameraSettings, frames: int) -> dict[str, float]:
    ReplayedCamera.opened.clear()
    camera = PiCamera(settings, open_camera=lambda: open_picamera2(ReplayedCamera))
    held: list[int] = []
    bytes_out = 0
    started_cpu = started_wall = 0.0
    async with aclosing(camera.frames()) as units:
        count = 0
        async for unit in units:
            fake = ReplayedCamera.opened[0]
            if count == LOOP:
                started_cpu, started_wall = cpu_s(), time.monotonic()
            if count >= LOOP:
                held.append(len(fake.sensor_timestamps_ns) - 1 - count)
                bytes_out += len(unit.data)
            count += 1
            if count == LOOP + frames:
                break
        cpu, wall = cpu_s() - started_cpu, time.monotonic() - started_wall
    return {
        "cpu_ms": 1000 * cpu / frames,
        "fps": frames / wall,
        "held": statistics.median(held),
        "kbit_s_at_30": bytes_out * 8 / (frames / 30) / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240, help="frames measured per setting")
    args = parser.parse_args()
    with picamera2_as(TRIXIE, "pi5"):
        print(f"picamera2 {TRIXIE} as a Pi 5; {args.frames} frames per setting after {LOOP} to warm up")
        print(f"{'size':8} {'preset':10} {'threads':>8} {'CPU ms/frame':>13} {'fps here':>9} {'held':>5} {'kbit/s':>7}")
        for size, (width, height, bitrate) in SIZES.items():
            settings = CameraSettings(width=width, height=height, framerate=30, bitrate=bitrate)
            for preset, threads, thread_type in CANDIDATES:
                picamera2_ext.X264_PRESET = preset
                picamera2_ext.X264_THREADS = threads
                picamera2_ext.X264_THREAD_TYPE = thread_type
                figures = asyncio.run(measure(settings, args.frames))
                label = f"{threads or 'auto'} {thread_type.lower()}"
                print(
                    f"{size:8} {preset:10} {label:>8} {figures['cpu_ms']:13.2f} {figures['fps']:9.1f}"
                    f" {figures['held']:5.0f} {figures['kbit_s_at_30']:7.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
