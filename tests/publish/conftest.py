"""What the publish tests share: the WHIP rig (Janus behind simple-whip-server) and a daemon publishing to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from testbed.clips import wait_for
from testbed.daemon import DaemonProcess
from testbed.whip_rig import WhipServer

CAMERA = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\nkeyframe_interval = 1\n"
TOKEN = "whip-token-0123456789"


@pytest.fixture
def rig() -> Iterator[WhipServer]:
    """The rig, with one endpoint ``cam1`` (one publisher at a time) that takes ``TOKEN``."""
    with WhipServer() as server:
        server.create_endpoint("cam1", token=TOKEN)
        yield server


def publishing_daemon(
    daemon_factory, rig: WhipServer, token: str = TOKEN, extra: str = "", state_from: DaemonProcess | None = None
) -> DaemonProcess:
    """A daemon publishing to the rig's endpoint with ``token`` (``state_from``: a restart of that daemon)."""
    config = (
        # Janus (libnice) ignores loopback peers: the camera offers the rig's own address.
        f'[webrtc]\ninterfaces = ["{rig.interface}"]\n{CAMERA}'
        f'[[publish]]\nurl = "{rig.url}/endpoint/cam1"\ntoken = "{token}"\nname = "janus"\n{extra}'
    )
    return daemon_factory(config, loopback_only=False, state_from=state_from)


def target(daemon: DaemonProcess, name: str = "janus") -> dict:
    return next(t for t in daemon.health()["publish"] if t["name"] == name)


def wait_for_target(daemon: DaemonProcess, predicate, timeout: float, what: str, name: str = "janus") -> dict:
    return wait_for(lambda: target(daemon, name), predicate, timeout, what)


def open_page_settled(chromium, url: str, attempts: int = 3):
    """Our page, loaded until its scripts run. The rig's veth is a network change to Chromium,
    which then aborts loads under way (ERR_NETWORK_CHANGED): a module may be lost, and the page
    would sit there without its scripts."""
    page = chromium.new_context().new_page()
    for attempt in range(attempts):
        page.goto(url)
        try:
            page.wait_for_function("() => window.edgeViewer !== undefined", timeout=5000)
            return page
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
    return page
