"""A viewer away from home, through TURN, against a viewer on the camera's LAN, in Debian's Chromium.

For each path: time to first frame (the page's ``firstFrameAt``, ms after navigation start, a new
browser context each load), capture-to-display latency (the frame code against
``expectedDisplayTime``, as ``bench/live.py`` measures it), and the daemon's CPU while a few pages
watch, less its CPU with none (the camera alone) over the same length of time, per viewer. Paths:

- at home: Chromium on the camera's side of NAT A (another subnet, routed), opening the camera's own
  address; the daemon has its TURN server as in the others, and the direct pair wins;
- TURN over UDP, TCP and TLS: the daemon behind NAT A, Chromium behind NAT B, both symmetric, coturn
  between; the page and the daemon are given only that one TURN URL, and for TCP and TLS NAT B lets
  out no UDP at all.

All in the same rig (``testbed/netns/remote.py``), Chromium in a namespace each time. The selected
pair says whose relay carried the media (the daemon's relay means aioice wraps every packet in Python).

Needs root (namespaces) and coturn.

    .venv/bin/python -m bench.remote [--loads 5] [--seconds 10] [--viewers 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.live import COLLECT_LATENCY_JS, percentile
from bench.procstat import cpu_seconds
from testbed.browser import SELECTED_PAIR_JS
from testbed.netns.remote import RemoteRig

# (how the page and the daemon reach the TURN server, the TCP ports NAT B lets out to it: none, UDP is open)
TURN_PATHS = (("udp", ()), ("tcp", (3478,)), ("tls", (443,)))


def first_frames(open_page, loads: int) -> list[float]:
    """``firstFrameAt`` of ``loads`` page loads, each in a new browser context."""
    times = []
    for _ in range(loads):
        page = open_page()
        times.append(page.evaluate("window.edgeViewer.firstFrameAt"))
        page.context.close()
    return times


def watch(pages: list[Any], pid: int, seconds: float) -> dict[str, Any]:
    """Latency samples (the first page's) and the daemon's CPU (% of a core) while ``pages`` watch for
    ``seconds``; then its CPU with no viewer for as long."""
    pages[0].wait_for_timeout(2000)  # past the first seconds' settling
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    samples = pages[0].evaluate(COLLECT_LATENCY_JS, seconds)
    watching = 100 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
    pair = pages[0].evaluate(SELECTED_PAIR_JS)
    for page in pages:
        page.context.close()  # the page's pagehide ends its session
    time.sleep(2)
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    idle = 100 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
    latency = [s["latency"] for s in samples]
    return {"latency": latency, "cpu": watching, "idle": idle, "viewers": len(pages), "pair": pair}


def measure(args: argparse.Namespace, playwright: Any, tmp: Path, **options: Any) -> dict[str, Any]:
    rig = RemoteRig(playwright, tmp, **options)
    try:
        rig.page.context.close()
        result = {"first": first_frames(rig.open_page, args.loads)}
        pages = [rig.open_page() for _ in range(args.viewers)]
        result.update(watch(pages, rig.daemon.proc.pid, args.seconds))
        return result
    finally:
        rig.close()


def report(name: str, result: dict[str, Any]) -> None:
    firsts, latency = result["first"], result["latency"]
    pair = result["pair"]
    where = f"{pair['local']['type']}/{pair['local']['relayProtocol'] or pair['local']['protocol']}" if pair else "?"
    where += f" -> {pair['remote']['type']}" if pair else ""
    print(
        f"  {name}: first frame median {statistics.median(firsts):.0f} ms (max {max(firsts):.0f});"
        f" latency p50 {percentile(latency, 50):.0f} ms, p95 {percentile(latency, 95):.0f} ms;"
        f" daemon CPU {result['cpu']:.1f} % with {result['viewers']} viewers, {result['idle']:.1f} % with none,"
        f" {(result['cpu'] - result['idle']) / result['viewers']:.1f} % per viewer; pair (browser -> camera) {where}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--viewers", type=int, default=3, help="pages watching at once while CPU is measured")
    args = parser.parse_args()
    print(
        f"640x360@30; first frame: median of {args.loads} loads, one at a time;"
        f" latency (one page) and the daemon's CPU over {args.seconds:.0f} s with {args.viewers} pages watching"
    )
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        report("at home (LAN)", measure(args, p, Path(tmp) / "home", at_home=True))
        for transport, tcp_ports in TURN_PATHS:
            result = measure(args, p, Path(tmp) / transport, viewer_tcp_ports=tcp_ports, only_turn=transport)
            report(f"TURN over {transport.upper()}", result)


if __name__ == "__main__":
    main()
