"""The daemon's CPU per viewer: 1, 4, 8 and 16 WebRTC viewers at 720p30 and 1080p30.

Viewers are aiortc receivers with decoding stubbed out, spread over several
processes (``bench/receivers.py``) so that receiving is not the bottleneck; each
counts the frames it receives, and the slowest viewer's fps is printed, so a
viewer that gets nothing shows; "camera fps" is what the camera produced
in the same window (a starved machine slows the simulated camera itself). The daemon's CPU is read from /proc over a
window, and compared with its own idle baseline (camera running, no viewer)
taken in the same run: on a shared machine only ratios within a run mean much.

Off a Pi the baseline includes the simulated camera's libx264 encoding, which
the Pi's hardware encoder does for free; the per-viewer figure is what matters.

    .venv/bin/python -m bench.viewers [--window 8] [--counts 1,4,8,16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import charts
from bench.procstat import cpu_percent
from bench.receivers import ReceiverPool, Whep, measure_window
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon

PROFILES = {
    "1280x720@30 2 Mbit/s": "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\nbitrate = 2000000\n",
    "1920x1080@30 4 Mbit/s": "[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\nbitrate = 4000000\n",
}


def camera_frames(daemon: DaemonProcess) -> int:
    return daemon.health()["camera"]["frames"]


def measure(daemon: DaemonProcess, counts: list[int], window: float) -> list[tuple[int, float, float, float]]:
    """(viewers, daemon CPU %, slowest viewer's fps, camera fps); the first row is the idle baseline."""
    pid = daemon.proc.pid
    rows = [(0, cpu_percent(pid, window), 0.0, 0.0)]
    pool = ReceiverPool(Whep(daemon.url, daemon.auth))
    try:
        for count in counts:
            pool.add_viewers(count)
            time.sleep(2)  # let every viewer get its keyframe and settle
            m = measure_window(pool, pid, window, lambda: camera_frames(daemon))
            rows.append((count, m.cpu, m.min_fps, m.source_fps))
    finally:
        pool.close()
    return rows


def write_chart(results: dict[str, list[tuple[int, float, float, float]]], window: float) -> Path:
    """``measure``'s rows of each profile as docs/bench/viewers.png: CPU against viewers."""
    profiles = {name: [(count, cpu) for count, cpu, _, _ in rows] for name, rows in results.items()}
    return charts.viewers_cpu(profiles, window, charts.chart_path("viewers"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--counts", default="1,4,8,16")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    print("Daemon CPU (% of one core) by number of viewers; per-viewer = (total - idle) / viewers")
    results = {}
    for name, camera in PROFILES.items():
        with tempfile.TemporaryDirectory() as tmp:
            daemon = start_daemon(LOOPBACK_ONLY + camera, Path(tmp))
            try:
                rows = measure(daemon, counts, args.window)
            finally:
                daemon.stop()
        results[name] = rows
        baseline = rows[0][1]
        print(f"\n{name}: idle (camera only) {baseline:.1f} %")
        print(f"  {'viewers':>7}  {'total %':>8}  {'per viewer %':>12}  {'camera fps':>10}  {'min fps':>10}")
        for count, cpu, fps, camera_fps in rows[1:]:
            print(f"  {count:>7}  {cpu:>8.1f}  {(cpu - baseline) / count:>12.2f}  {camera_fps:>10.1f}  {fps:>10.1f}")
    write_chart(results, args.window)


if __name__ == "__main__":
    main()
