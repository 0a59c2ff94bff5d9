"""A TURN server that does not answer costs LAN viewers nothing, and only authorised clients learn of it.

The daemon runs in a camera namespace (``testbed/netns/topology.py``) with Chromium on the host as a
viewer on its LAN. Its TURN server's address is routed into a dead end (``dead_end_route``): packets
to it vanish, nothing is refused, as with a server that is down or a firewall that drops.
"""

from __future__ import annotations

import statistics

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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


def first_frame_ms(browser, url: str) -> float:
    """The page's first frame, ms after navigation started (the page's own ``firstFrameAt``)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        try:
            page.wait_for_function("() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null", timeout=20000)
        except PlaywrightTimeout:
            state = page.evaluate("({state: window.edgeViewer.state, lastError: window.edgeViewer.lastError})")
            raise AssertionError(f"{url}: no first frame within 20 s: {state}") from None
        return page.evaluate("window.edgeViewer.firstFrameAt")
    finally:
        context.close()


def test_a_turn_server_that_does_not_answer_does_not_delay_a_lan_viewers_first_frame(chromium, lan):
    urls, daemons = lan
    pages = {name: f"{url}/?token={daemons[name].token}" for name, url in urls.items()}
    for page in pages.values():  # once each unmeasured: the host's new link, the page's cache
        first_frame_ms(chromium, page)
    times: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(RUNS):  # interleaved: the machine's load falls on both alike
        for name, page in pages.items():
            times[name].append(first_frame_ms(chromium, page))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"first frame, median of {RUNS}: {NO_TURN} {medians[NO_TURN]:.0f} ms, {TURN_DOWN} {medians[TURN_DOWN]:.0f} ms"
        f" (runs: {times})"
    )
    assert medians[TURN_DOWN] - medians[NO_TURN] <= LIMIT_MS, times


def test_only_an_authorised_client_is_told_the_ice_servers(lan):
    urls, daemons = lan
    url = f"{urls[TURN_DOWN]}/whep"

    def ice_server_links(response: requests.Response) -> list[str]:
        return [link for link in response.headers.get("Link", "").split(",") if 'rel="ice-server"' in link]

    assert ice_server_links(requests.options(url, timeout=10)) == []
    refused = requests.post(url, data="v=0\r\n", headers={"Content-Type": "application/sdp"}, timeout=10)
    assert refused.status_code == 401 and ice_server_links(refused) == []
    authorised = requests.options(url, headers=daemons[TURN_DOWN].auth, timeout=10)
    assert any("<turn:" in link for link in ice_server_links(authorised)), authorised.headers
