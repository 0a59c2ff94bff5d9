"""What a snapshot costs: the daemon's CPU while dashboards poll ``/api/snapshot.jpg``.

Windows alternate between idle (camera running, nobody asking) and polling (one
request every ``--interval`` seconds, as a dashboard does; each finds the cache older
than a second, so each costs one IDR, one decode and one JPEG). The extra CPU is
compared within the run, as a ratio, on a shared machine; also the time a request takes.

    .venv/bin/python -m bench.snapshot [--window 8] [--rounds 2] [--interval 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.procstat import cpu_percent
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon

CAMERA = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\nbitrate = 2000000\nkeyframe_interval = 2\n"


def poll(daemon: DaemonProcess, interval: float, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        started = time.monotonic()
        response = daemon.request("GET", "/api/snapshot.jpg")
        response.raise_for_status()
        latencies.append(time.monotonic() - started)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=8, help="seconds per measuring window")
    parser.add_argument("--rounds", type=int, default=2, help="idle/polling pairs")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between requests while polling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(LOOPBACK_ONLY + CAMERA, Path(tmp))
        try:
            daemon.request("GET", "/api/snapshot.jpg").raise_for_status()  # warm: first decoder, first JPEG
            decodes_before = daemon.health()["snapshots"]["decodes"]
            idle: list[float] = []
            polling: list[float] = []
            latencies: list[float] = []
            for _ in range(args.rounds):
                idle.append(cpu_percent(daemon.proc.pid, args.window))
                stop = threading.Event()
                poller = threading.Thread(target=poll, args=(daemon, args.interval, stop, latencies))
                poller.start()
                polling.append(cpu_percent(daemon.proc.pid, args.window))
                stop.set()
                poller.join()
            decodes = daemon.health()["snapshots"]["decodes"] - decodes_before
        finally:
            daemon.stop()
    extra = statistics.median(p - i for i, p in zip(idle, polling, strict=True))
    print(f"Snapshots of 1280x720@30 (simulated camera), one request every {args.interval:g} s:")
    print(
        f"  daemon CPU idle {statistics.median(idle):.1f} %, polling {statistics.median(polling):.1f} % of a core "
        f"(ratio {statistics.median(polling) / statistics.median(idle):.3f}; extra {extra:+.1f} %)"
    )
    extra_cpu_s = extra / 100 * args.window * args.rounds
    print(
        f"  extra per decode: {extra_cpu_s / max(decodes, 1) * 1000:.0f} ms of CPU (IDR + decode + JPEG; "
        f"{decodes} decodes for {len(latencies)} requests, the rest served from the one-second cache)"
    )
    print(f"  request time: median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
