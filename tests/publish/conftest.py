"""What the publish tests share: the WHIP rig (Janus behind simple-whip-server) and a daemon publishing to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.clips import wait_for
from testbed.daemon import DaemonProcess
from testbed.whip_rig import WhipServer

CAMERA = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\nkeyframe_interval = 1\n"
TOKEN = "whip-token-0123456789"


@pytest.fixture
def rig() -> Iterator[WhipServer]:
    with WhipServer() as server:
        yield server


def publishing_daemon(daemon_factory, rig: WhipServer, token: str = TOKEN, extra: str = "") -> DaemonProcess:
    """A daemon publishing to a new endpoint of the rig (which takes ``TOKEN``), with ``token``."""
    url = rig.create_endpoint("cam1", token=TOKEN)
    config = (
        # Janus (libnice) ignores loopback peers: the camera offers the rig's own address.
        f'[webrtc]\ninterfaces = ["{rig.interface}"]\n{CAMERA}'
        f'[[publish]]\nurl = "{url}"\ntoken = "{token}"\nname = "janus"\n{extra}'
    )
    return daemon_factory(config, loopback_only=False)


def target(daemon: DaemonProcess, name: str = "janus") -> dict:
    return next(t for t in daemon.health()["publish"] if t["name"] == name)


def wait_for_target(daemon: DaemonProcess, predicate, timeout: float, what: str, name: str = "janus") -> dict:
    return wait_for(lambda: target(daemon, name), predicate, timeout, what)
