"""The daemon in the camera's namespace, watched by Chromium on the host through a WireGuard tunnel.

Shared by ``tests/netns/test_vpn.py`` (which asserts) and ``bench/vpn.py``
(which measures). The daemon offers candidates on the tunnel's interface only
(``[webrtc] interfaces``), so media can only go through the tunnel. It starts
before the camera's end of the tunnel exists, as a Pi that boots before its VPN
is up; :meth:`VpnRig.camera_tunnel_up` brings it up. The phone's end (the
host's) is up from the start.
"""

from __future__ import annotations

from pathlib import Path

import requests

from testbed.daemon import DaemonProcess
from testbed.netns.scenarios import load_until_playing, start_camera_daemon
from testbed.netns.topology import CameraNamespace
from testbed.netns.vpn import WireGuardTunnel


class VpnRig:
    def __init__(self, tmp_path: Path, through_tunnel: bool = True) -> None:
        """``through_tunnel`` False: the daemon offers the veth link instead, the direct path to compare with."""
        self.netns = CameraNamespace()
        self.tunnel: WireGuardTunnel | None = None
        self._daemon: DaemonProcess | None = None
        try:
            (self.link,) = self.netns.add_links(1)
            self.tunnel = WireGuardTunnel(self.netns, self.link, tmp_path / "wireguard")
            self.tunnel.phone.up()
            offered = self.tunnel.camera.interface if through_tunnel else self.link.camera_if
            self._daemon = start_camera_daemon(self.netns, [offered], tmp_path / "daemon")
            self.netns.wait_until_host_settled()
        except BaseException:
            self.close()
            raise

    @property
    def daemon(self) -> DaemonProcess:
        assert self._daemon is not None, "started in __init__"
        return self._daemon

    def camera_tunnel_up(self) -> None:
        assert self.tunnel is not None, "made in __init__"
        self.tunnel.camera.up()

    def status(self) -> dict:
        """``/api/status``, asked over the veth link (which works whether the tunnel is up or not)."""
        response = requests.get(
            f"http://{self.link.camera_address}:{self.daemon.port}/api/status", headers=self.daemon.auth, timeout=5
        )
        response.raise_for_status()
        return response.json()

    def open_page(self, browser, address: str):
        """A new browser profile on the page at ``http://<address>:<port>/``, once it plays."""
        context = browser.new_context()
        page = context.new_page()
        try:
            load_until_playing(page, f"http://{address}:{self.daemon.port}/?token={self.daemon.token}")
        except BaseException:
            context.close()
            raise
        return page

    def close(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()
        if self.tunnel is not None:
            self.tunnel.close()
        self.netns.close()
