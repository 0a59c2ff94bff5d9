"""A TURN server that does not answer costs LAN viewers nothing, and the daemon says it does not answer.

The daemon runs in a camera namespace (``testbed/netns/topology.py``) with Chromium on the host as a
viewer on its LAN. Its TURN server's address is routed into a dead end (``dead_end_route``): packets
to it vanish, nothing is refused, as with a server that is down or a firewall that drops.
"""

from __future__ import annotations

import statistics

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

from testbed.daemon import DaemonProcess, start_daemon
from testbed.netns.internet import dead_end_route
from testbed.netns.scenarios import CAMERA
from testbed.netns.topology import CameraNamespace, _free_subnets

NO_TURN, TURN_DOWN = "no TURN", "TURN down"
RUNS = 5
LIMIT_MS = 100


@pytest.fixture
def lan(tmp_path):
    """Two daemons side by side in one namespace, one with no TURN server and one whose TURN server does not
    answer: ({name: base URL}, {name: daemon})."""
    netns = CameraNamespace()
    daemons: dict[str, DaemonProcess] = {}
    try:
        link = netns.add_links(1)[0]
        dead = str(_free_subnets(1)[0].network_address + 1)
        dead_end_route(netns.name, f"ecd{netns.tag}", f"{dead}/32")
        base = f'{CAMERA}[webrtc]\ninterfaces = ["{link.camera_if}"]\n'
        turn = (
            f'ice_servers = [{{ urls = ["turn:{dead}:3478?transport=udp"], username = "1:edge", credential = "x" }}]\n'
        )
        for name, config in ((NO_TURN, base), (TURN_DOWN, base + turn)):
            daemons[name] = start_daemon(config, tmp_path / name, prefix=netns.exec_prefix, host="0.0.0.0")
        yield {name: f"http://{link.camera_address}:{daemon.port}" for name, daemon in daemons.items()}, daemons
    finally:
        for daemon in daemons.values():
            daemon.stop()
        netns.close()


def first_frame_ms(browser, url: str, attempts: int = 3) -> float:
    """The page's first frame, ms after navigation started (the page's own ``firstFrameAt``).

    A load spoilt by a change of the host's network (other tests make links; Chromium then aborts
    loads under way: ERR_NETWORK_CHANGED) is made again: only a clean start is measured.
    """
    for attempt in range(attempts):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(
                "() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null"
                " && window.edgeViewer.sessionsStarted === 1",
                timeout=20000,
            )
            return page.evaluate("window.edgeViewer.firstFrameAt")
        except PlaywrightError:  # a timeout too
            if attempt == attempts - 1:
                raise
        finally:
            context.close()
    raise AssertionError("unreachable: the last attempt raises")


def test_a_turn_server_that_does_not_answer_does_not_delay_a_lan_viewers_first_frame(chromium, lan):
    urls, daemons = lan
    pages = {name: f"{url}/?token={daemons[name].token}" for name, url in urls.items()}
    for page in pages.values():  # once each unmeasured: the host's new link, the page's cache
        first_frame_ms(chromium, page)
    times: dict[str, list[float]] = {name: [] for name in pages}
    order = list(pages)
    for _ in range(RUNS):  # interleaved, each first in turn: the machine's load falls on both alike
        for name in order:
            times[name].append(first_frame_ms(chromium, pages[name]))
        order.reverse()
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"first frame, median of {RUNS}: {NO_TURN} {medians[NO_TURN]:.0f} ms, {TURN_DOWN} {medians[TURN_DOWN]:.0f} ms"
        f" (runs: {times})"
    )
    assert medians[TURN_DOWN] - medians[NO_TURN] <= LIMIT_MS, times
    turn = requests.get(f"{urls[TURN_DOWN]}/api/status", headers=daemons[TURN_DOWN].auth, timeout=10).json()["turn"]
    assert turn["state"] == "unreachable", turn
