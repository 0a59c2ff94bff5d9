"""Publishing over WHIP: what one publish target costs the daemon, and how fast it recovers.

1. CPU (% of one core, from /proc) of the daemon at 1080p30 4 Mbit/s over a window: idle
   (camera and microphone, nobody watching), publishing to Janus (Debian's ``janus``
   VideoRoom behind ``simple-whip-server``, ``testbed/whip_rig.py``) with no viewer, and
   one WebRTC viewer (an aiortc receiver over WHEP, ``bench/receivers.py``) with no
   publishing, each measured after a settling time; idle is taken in each daemon.
2. Janus killed (SIGKILL) and started again: seconds from Janus running again until the
   daemon publishes again (a new session: the old one died with Janus), ``--runs`` times.
3. Recovery when the Pi's address changes (``testbed/netns/publish.py``): seconds from
   the new address being usable until the target publishes again, and whether that was
   an ICE restart in place or a new session; ``--runs`` times.

Needs root (a veth for Janus's ICE, a network namespace) and Janus (``make bench``).

    .venv/bin/python -m bench.publish [--window 8] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import charts
from bench.procstat import cpu_percent
from bench.receivers import ReceiverPool, Whep, measure_window
from bench.viewers import camera_frames
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon
from testbed.netns.publish import PublishingCamera
from testbed.whip_rig import WhipServer

CAMERA = "[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\nbitrate = 4000000\n"
SETTLE_S = 3.0


def cpu_publishing(window: float) -> tuple[float, float]:
    """(idle, publishing to Janus) CPU % of one daemon."""
    with WhipServer() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.create_endpoint("cam1", token="bench-token-0123456789")
        config = (
            f'[webrtc]\ninterfaces = ["{server.interface}"]\n{CAMERA}'
            f'[[publish]]\nurl = "{url}"\ntoken = "bench-token-0123456789"\nenabled = true\n'
        )
        # The same daemon twice would need publishing switched at run time: idle comes from
        # a twin with the target disabled, started and measured first.
        idle_daemon = start_daemon(config.replace("enabled = true", "enabled = false"), Path(tmp) / "idle")
        try:
            time.sleep(SETTLE_S)
            idle = cpu_percent(idle_daemon.proc.pid, window)
        finally:
            idle_daemon.stop()
        daemon = start_daemon(config, Path(tmp) / "publish")
        try:
            wait_target(daemon, lambda t: t["state"] == "publishing")
            time.sleep(SETTLE_S)
            publishing = cpu_percent(daemon.proc.pid, window)
            status = daemon.health()["publish"][0]
            if status["state"] != "publishing" or status["sessions"] != 1:
                raise RuntimeError(f"publishing was interrupted: {status}")
        finally:
            daemon.stop()
    return idle, publishing


def cpu_one_viewer(window: float) -> tuple[float, float, float]:
    """(idle, one viewer) CPU % of one daemon, and that viewer's fps."""
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(LOOPBACK_ONLY + CAMERA, Path(tmp))
        try:
            time.sleep(SETTLE_S)
            idle = cpu_percent(daemon.proc.pid, window)
            pool = ReceiverPool(Whep(daemon.url, daemon.auth), processes=1)
            try:
                pool.add_viewers(1)
                time.sleep(SETTLE_S)
                m = measure_window(pool, daemon.proc.pid, window, lambda: camera_frames(daemon))
            finally:
                pool.close()
        finally:
            daemon.stop()
    return idle, m.cpu, m.min_fps


def wait_target(daemon: DaemonProcess, predicate, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while not predicate(status := daemon.health()["publish"][0]):
        if time.monotonic() > deadline:
            raise RuntimeError(f"publish target: {status}")
        time.sleep(0.02)
    return status


def janus_restarts(runs: int) -> list[float]:
    """Seconds from Janus running again to publishing again, for each kill."""
    results = []
    with WhipServer() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.create_endpoint("cam1", token="bench-token-0123456789")
        config = (
            f'[webrtc]\ninterfaces = ["{server.interface}"]\n{CAMERA}'
            f'[[publish]]\nurl = "{url}"\ntoken = "bench-token-0123456789"\n'
        )
        daemon = start_daemon(config, Path(tmp))
        try:
            status = wait_target(daemon, lambda t: t["state"] == "publishing")
            for _ in range(runs):
                time.sleep(2)
                server.kill_janus()
                wait_target(daemon, lambda t: t["state"] != "publishing")
                server.start_janus(wait_for_whip_server=False)
                back = time.monotonic()
                sessions = status["sessions"]
                status = wait_target(daemon, lambda t, n=sessions: t["state"] == "publishing" and t["sessions"] > n)
                results.append(time.monotonic() - back)
        finally:
            daemon.stop()
    return results


def recoveries(runs: int) -> list[tuple[float, str]]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            camera = PublishingCamera(Path(tmp))
            try:
                before = camera.wait_publishing()
                time.sleep(2)  # publishing for a while, receiver reports flowing
                after, seconds = camera.recovery(before, camera.change_address())
                how = "ICE restart" if after["ice_restarts"] > before["ice_restarts"] else "new session"
                results.append((seconds, how))
            finally:
                camera.close()
    return results


def write_chart(janus_restarts: list[float], address_changes: list[float]) -> Path:
    """Each run's time to publish again, after a Janus restart and an address change, as docs/bench/publish.png."""
    return charts.recovery_times(
        {
            "Janus killed, started again\n(from Janus running)": janus_restarts,
            "the Pi's address changes\n(from the new one usable)": address_changes,
        },
        None,
        "Publishing over WHIP to Janus: time until the daemon publishes again\n"
        "(1080p30 4 Mbit/s; each run a dot, the median a bar)",
        charts.chart_path("publish"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=8.0, help="seconds per CPU measurement")
    parser.add_argument("--runs", type=int, default=5, help="address changes")
    args = parser.parse_args()

    idle_p, publishing = cpu_publishing(args.window)
    idle_v, viewing, fps = cpu_one_viewer(args.window)
    print("Daemon CPU at 1920x1080@30 4 Mbit/s (% of one core):")
    print(f"  publishing to Janus, no viewer: {publishing:5.1f}  (idle {idle_p:.1f}: +{publishing - idle_p:.2f})")
    print(f"  one WHEP viewer, no publishing: {viewing:5.1f}  (idle {idle_v:.1f}: +{viewing - idle_v:.2f})")
    print(f"  (the viewer received {fps:.0f} fps)")
    ratio = (publishing - idle_p) / (viewing - idle_v) if viewing > idle_v else float("nan")
    print(f"  publish target / viewer: {ratio:.2f}")

    back = janus_restarts(args.runs)
    print(f"\nPublishing again after Janus was killed and started again ({args.runs} runs), from Janus running:")
    print("  " + ", ".join(f"{s:.2f} s" for s in back))
    print(f"  median {statistics.median(back):.2f} s, max {max(back):.2f} s")

    results = recoveries(args.runs)
    seconds = [s for s, _ in results]
    print(f"\nPublishing again after the Pi's address changed ({args.runs} runs), from the new address being usable:")
    print("  " + ", ".join(f"{s:.2f} s ({how})" for s, how in results))
    print(f"  median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s")
    write_chart(back, seconds)


if __name__ == "__main__":
    main()
