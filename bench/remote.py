"""A viewer away from home, through TURN, against a viewer on the camera's LAN, in Debian's Chromium.

For each path: time to first frame (the page's ``firstFrameAt``, ms after navigation start, a new
browser context each load), capture-to-display latency (the frame code against
``expectedDisplayTime``, as ``bench/live.py`` measures it), and the daemon's CPU while one viewer
watches, less its CPU with none (the camera alone), over the same length of time. Paths:

- LAN: the daemon in a namespace, Chromium on the host across a veth (``testbed/netns/scenarios.py``);
- TURN over UDP, TCP and TLS: the daemon behind NAT A, Chromium behind NAT B, both symmetric, coturn
  between (``testbed/netns/remote.py``); the page and the daemon are given only that one TURN URL,
  and for TCP and TLS NAT B lets out no UDP at all. The selected pair says whose relay carried the
  media (the daemon's relay means aioice wraps every packet in Python).

Needs root (namespaces) and coturn.

    .venv/bin/python -m bench.remote [--loads 5] [--seconds 10]
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
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.netns.remote import SELECTED_PAIR_JS, RemoteRig
from testbed.netns.scenarios import Rig

FIRST_FRAME_JS = "() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null"

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


def watch(page: Any, pid: int, seconds: float) -> dict[str, Any]:
    """Latency samples and the daemon's CPU (% of a core) while ``page`` watches for ``seconds``; then its CPU
    with no viewer for as long."""
    page.wait_for_timeout(2000)  # past the first seconds' settling
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    samples = page.evaluate(COLLECT_LATENCY_JS, seconds)
    watching = 100 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
    pair = page.evaluate(SELECTED_PAIR_JS)
    page.context.close()  # the page's pagehide ends its session
    time.sleep(2)
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    idle = 100 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
    return {"latency": [s["latency"] for s in samples], "cpu": watching, "idle": idle, "pair": pair}


def lan(playwright: Any, tmp: Path, loads: int, seconds: float) -> dict[str, Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    warm_up_webrtc(browser)
    rig = Rig(browser, tmp)
    try:
        url = f"{rig.forwarder.url}/?token={rig.daemon.token}"

        def open_page() -> Any:
            page = browser.new_context().new_page()
            page.goto(url)
            page.wait_for_function(FIRST_FRAME_JS, timeout=30000)
            return page

        result = {"first": first_frames(open_page, loads)}
        rig.page.context.close()
        result.update(watch(open_page(), rig.daemon.proc.pid, seconds))
        return result
    finally:
        rig.close()
        browser.close()


def turn(playwright: Any, tmp: Path, transport: str, tcp_ports: tuple[int, ...], loads: int, seconds: float) -> dict:
    rig = RemoteRig(playwright, tmp, viewer_tcp_ports=tcp_ports, only_turn=transport)
    try:
        rig.page.context.close()
        result = {"first": first_frames(rig.open_page, loads)}
        result.update(watch(rig.open_page(), rig.daemon.proc.pid, seconds))
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
        f" daemon CPU {result['cpu']:.1f} % watched, {result['idle']:.1f} % idle,"
        f" viewer {result['cpu'] - result['idle']:.1f} %; pair (browser -> camera) {where}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(f"640x360@30, one viewer; first frame: median of {args.loads} loads; latency and CPU over {args.seconds} s")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        report("LAN", lan(p, Path(tmp) / "lan", args.loads, args.seconds))
        for transport, tcp_ports in TURN_PATHS:
            result = turn(p, Path(tmp) / transport, transport, tcp_ports, args.loads, args.seconds)
            report(f"TURN over {transport.upper()}", result)


if __name__ == "__main__":
    main()
