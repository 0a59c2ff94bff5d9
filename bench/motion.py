"""What motion detection costs: the detector's CPU at 320x240 and 5 pictures a second, next to the daemon's.

1. The detector alone: ``MotionDetector.feed`` on pictures of the simulated camera's luma feed
   (recorded first), timed on this thread: milliseconds per picture, and what that is at 5 a
   second in percent of one core.
2. In the daemon (1280x720@30, ``[motion] enabled``, simulated hardware): over a window, the
   detector's own thread time (``edge_motion_detector_cpu_seconds_total``) and the whole
   daemon's CPU from /proc, idle (nothing moving) and with the simulated object walking
   through (``/api/sim/motion``).

    .venv/bin/python -m bench.motion [--window 10]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

from bench.procstat import cpu_seconds
from edge.config import MotionConfig
from edge.triggers.motion import MotionDetector
from hw.camera import CameraSettings, LumaFrame
from hw.camera.simulated import SimulatedCamera
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon

FPS = 5
CONFIG = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\n[motion]\nenabled = true\n"


async def record_pictures(count: int, moving: bool) -> list[LumaFrame]:
    camera = SimulatedCamera(CameraSettings(width=1280, height=720, framerate=30))
    camera.simulate_motion(moving)
    pictures: list[LumaFrame] = []
    done = asyncio.Event()

    def keep(frame: LumaFrame) -> None:
        pictures.append(frame)
        if len(pictures) >= count:
            loop.call_soon_threadsafe(done.set)

    loop = asyncio.get_running_loop()
    camera.watch_luma(keep, 30)
    async with aclosing(camera.frames()) as units:
        async for _ in units:
            if done.is_set():
                break
    return pictures[:count]


def detector_alone(pictures: list[LumaFrame], rounds: int = 5) -> float:
    """Median milliseconds per picture over ``rounds`` passes."""
    times = []
    for _ in range(rounds):
        detector = MotionDetector(MotionConfig(enabled=True))
        start = time.thread_time()
        for p in pictures:
            detector.feed(p.pixels, p.timestamp_us)
        times.append((time.thread_time() - start) * 1000 / len(pictures))
    return statistics.median(times)


def detector_seconds(daemon: DaemonProcess) -> float:
    text = daemon.request("GET", "/metrics").text
    match = re.search(r"^edge_motion_detector_cpu_seconds_total ([0-9.e+-]+)$", text, re.M)
    assert match, "no edge_motion_detector_cpu_seconds_total in /metrics"
    return float(match.group(1))


def in_daemon(window: float) -> list[tuple[str, float, float]]:
    """(what, daemon CPU %, detector CPU %) idle and with motion."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(LOOPBACK_ONLY + CONFIG, Path(tmp))
        try:
            time.sleep(3)
            for what, moving in (("nothing moving", False), ("an object walking through", True)):
                daemon.request("POST", "/api/sim/motion", json={"active": moving}).raise_for_status()
                time.sleep(1)
                cpu0, det0, t0 = cpu_seconds(daemon.proc.pid), detector_seconds(daemon), time.monotonic()
                time.sleep(window)
                elapsed = time.monotonic() - t0
                cpu = 100 * (cpu_seconds(daemon.proc.pid) - cpu0) / elapsed
                det = 100 * (detector_seconds(daemon) - det0) / elapsed
                rows.append((what, cpu, det))
        finally:
            daemon.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    for moving in (False, True):
        pictures = asyncio.run(record_pictures(60, moving))
        ms = detector_alone(pictures)
        shape = "x".join(str(n) for n in reversed(pictures[0].pixels.shape))
        print(
            f"detector alone, {shape} luma, {'moving' if moving else 'still'}: {ms:.2f} ms a picture"
            f" = {ms * FPS / 10:.2f} % of a core at {FPS} pictures/s"
        )
    print(f"\nIn the daemon (1280x720@30, motion at {FPS} pictures/s), % of one core over {args.window:g} s:")
    for what, cpu, det in in_daemon(args.window):
        print(f"  {what}: daemon {cpu:.1f}, of which the detector {det:.2f}")


if __name__ == "__main__":
    main()
