"""A camera in a network namespace publishing over WHIP to Janus on the host, and its address changing.

The rig's simple-whip-server listens on the link's host-side address and Janus's ICE
uses that address too (``testbed/whip_rig.py``), so everything the camera sends
crosses the link whose address changes. The test reads the daemon's status through
a :class:`Forwarder` that follows the camera's address.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from testbed.daemon import DaemonProcess
from testbed.netns.forwarder import Forwarder
from testbed.netns.scenarios import start_camera_daemon
from testbed.netns.topology import CameraNamespace, Link
from testbed.whip_rig import WhipServer

TOKEN = "whip-token-0123456789"
TARGET = "janus"


class PublishingCamera:
    def __init__(self, tmp_path: Path) -> None:
        self.netns = CameraNamespace()
        self.server: WhipServer | None = None
        self._daemon: DaemonProcess | None = None
        self._forwarder: Forwarder | None = None
        try:
            self.link: Link = self.netns.add_links(1)[0]
            self.server = WhipServer(host=self.link.host_address, ice_address=self.link.host_address)
            url = self.server.create_endpoint("cam1", token=TOKEN)
            publish = f'[[publish]]\nurl = "{url}"\ntoken = "{TOKEN}"\nname = "{TARGET}"\n'
            self._daemon = start_camera_daemon(self.netns, [self.link.camera_if], tmp_path, publish)
            self._forwarder = Forwarder((self.link.camera_address, self._daemon.port))
        except BaseException:
            self.close()
            raise

    @property
    def daemon(self) -> DaemonProcess:
        assert self._daemon is not None, "started in __init__"
        return self._daemon

    def target(self) -> dict:
        assert self._forwarder is not None, "started in __init__"
        status = requests.get(self._forwarder.url + "/api/status", headers=self.daemon.auth, timeout=5).json()
        return next(t for t in status["publish"] if t["name"] == TARGET)

    def wait_for(self, predicate, timeout: float, what: str, poll_s: float = 0.02) -> tuple[dict, float]:
        """The target's status once ``predicate`` holds, and when (``time.monotonic()``)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.target()
            if predicate(status):
                return status, time.monotonic()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {status}")
            time.sleep(poll_s)

    def wait_publishing(self, timeout: float = 30) -> dict:
        return self.wait_for(lambda t: t["state"] == "publishing", timeout, "publishing")[0]

    def change_address(self) -> float:
        """The camera's address changes (old removed, new added, as with a new DHCP lease);
        returns when the new one was usable (``time.monotonic()``)."""
        new = self.link.address(77 if not self.link.camera_address.endswith(".77") else 78)
        self.netns.camera_readdress(self.link, new)
        usable_at = time.monotonic()
        assert self._forwarder is not None
        self._forwarder.target = (new, self.daemon.port)
        return usable_at

    def recovery(self, before: dict, usable_at: float, timeout: float = 15) -> tuple[dict, float]:
        """Seconds from ``usable_at`` until the target publishes again (an ICE restart or a new session
        since ``before``), with its status then."""
        status, at = self.wait_for(
            lambda t: (
                t["state"] == "publishing"
                and (t["ice_restarts"] > before["ice_restarts"] or t["sessions"] > before["sessions"])
            ),
            timeout,
            "publishing again after the address changed",
        )
        return status, at - usable_at

    def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.close()
        if self._daemon is not None:
            self._daemon.stop()
        if self.server is not None:
            self.server.close()
        self.netns.close()
