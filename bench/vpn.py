"""Watching through a WireGuard tunnel against directly: first frame, and what userspace WireGuard costs.

The rig of ``tests/netns/test_vpn.py`` (``testbed/netns/vpn_rig.py``): the
daemon in a network namespace, Chromium on the host; through the tunnel the
daemon offers only the tunnel's interface and the page is at the camera's
tunnel address, directly it offers only the veth link and the page is at the
camera's veth address. Runs alternate between the two. In each, two pages in
turn: the first right after the camera's end of the tunnel came up (its first
request waits for WireGuard's handshake), the second on a tunnel already
established. Then ``wireguard-go``'s CPU (both ends, this machine's cores, not
a Pi's) while the second page watches. Needs root (namespaces).

    .venv/bin/python -m bench.vpn [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.procstat import cpu_seconds
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.netns.vpn_rig import VpnRig

WATCH_S = 10


def first_frame_ms(rig: VpnRig, browser, address: str) -> float:
    page = rig.open_page(browser, address)
    try:
        return page.evaluate("window.edgeViewer.firstFrameAt")
    finally:
        page.context.close()


def run_once(browser, tmp_path: Path, through_tunnel: bool) -> dict:
    rig = VpnRig(tmp_path, through_tunnel=through_tunnel)
    try:
        assert rig.tunnel is not None, "made by VpnRig"
        rig.camera_tunnel_up()
        address = rig.tunnel.camera.address if through_tunnel else rig.link.camera_address
        first = first_frame_ms(rig, browser, address)
        page = rig.open_page(browser, address)
        second = page.evaluate("window.edgeViewer.firstFrameAt")
        ends = (rig.tunnel.camera, rig.tunnel.phone)
        cpu_before, bytes_before = sum(cpu_seconds(e.pid) for e in ends), rig.tunnel.phone.received_bytes()
        start = time.monotonic()
        page.wait_for_timeout(WATCH_S * 1000)
        elapsed = time.monotonic() - start
        cpu = sum(cpu_seconds(e.pid) for e in ends) - cpu_before
        mbit_s = (rig.tunnel.phone.received_bytes() - bytes_before) * 8 / elapsed / 1e6
        page.context.close()
    finally:
        rig.close()
    return {"first": first, "second": second, "cpu_percent": 100 * cpu / elapsed, "mbit_s": mbit_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench.vpn needs root (network namespaces): skipped")
        return
    results: dict[str, list[dict]] = {"through the tunnel": [], "direct": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm_up_webrtc(browser)
        for i in range(args.runs):
            for name, through_tunnel in (("through the tunnel", True), ("direct", False)):
                results[name].append(run_once(browser, Path(tmp) / f"{i}-{through_tunnel}", through_tunnel))
        browser.close()
    print(f"First frame after navigation, 640x360@30, medians of {args.runs} runs (min-max), ms:")
    print(f"  {'path':20} {'first page':>18} {'second page':>18}  wireguard-go CPU, tunnel traffic")
    for name, runs in results.items():
        cells = []
        for key in ("first", "second"):
            values = [r[key] for r in runs]
            cells.append(f"{statistics.median(values):5.0f} ({min(values):.0f}-{max(values):.0f})")
        traffic = ""
        if name == "through the tunnel":
            cpu = statistics.median(r["cpu_percent"] for r in runs)
            traffic = f"{cpu:.1f} % of a core, {statistics.median(r['mbit_s'] for r in runs):.2f} Mbit/s"
        print(f"  {name:20} {cells[0]:>18} {cells[1]:>18}  {traffic}")
    print(
        "  first page: right after the camera's end came up; it waits for WireGuard's handshake (the phone's end,\n"
        "  up before, tried one that went unanswered and tries again after 5 s); second page: tunnel established"
    )


if __name__ == "__main__":
    main()
