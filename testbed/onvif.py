"""ONVIF clients for the tests, as Home Assistant's ONVIF integration uses them.

- :func:`onvif_camera`: onvif-zeep-async's ``ONVIFCamera`` (the version HA pins), with its
  bundled WSDLs and no cache (as HA makes it).
- :class:`ProbeNamespace`: a network namespace joined to a camera's namespace by a veth pair,
  where :func:`ws_discovery` (HA's config flow's probe, the ``WSDiscovery`` library) runs in a
  subprocess: its multicast stays between the two namespaces.
- :func:`soap` and :func:`username_token`: raw SOAP 1.2 requests, for what no well-behaved
  client sends (replays, stale digests, hostile documents).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from testbed.netns.topology import CameraNamespace, free_subnets, ip, sysctl

ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
SOAP_TYPE = "application/soap+xml; charset=utf-8"
NETWORK_VIDEO_TRANSMITTER = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dp0")
PROFILE_STREAMING = "onvif://www.onvif.org/Profile/Streaming"


def onvif_camera(host: str, port: int, user: str | None, password: str | None) -> Any:
    """onvif-zeep-async's camera client, made as Home Assistant's ``get_device`` makes it."""
    import onvif
    from onvif import ONVIFCamera

    wsdl = os.path.join(os.path.dirname(onvif.__file__), "wsdl") + "/"
    return ONVIFCamera(host, port, user, password, wsdl, no_cache=True)


def username_token(user: str, password: str, nonce: bytes | None = None, created: str | None = None) -> str:
    """A WS-Security header with a UsernameToken PasswordDigest (the nonce and created given or fresh)."""
    nonce = nonce if nonce is not None else secrets.token_bytes(16)
    created = created or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def soap(body: str, header: str = "") -> bytes:
    """A SOAP 1.2 envelope; ``tds`` and ``trt`` are declared for the body."""
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{ENV}" xmlns:tds="{TDS}" xmlns:trt="{TRT}">'
        f"{head}<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def ws_discovery(timeout: float) -> list[dict[str, Any]]:
    """Home Assistant's probe (``homeassistant/components/onvif/config_flow.py``: ``wsdiscovery``)."""
    from wsdiscovery.discovery import ThreadedWSDiscovery
    from wsdiscovery.qname import QName
    from wsdiscovery.scope import Scope

    discovery = ThreadedWSDiscovery(ttl=4, relates_to=True)
    try:
        discovery.start()
        services = discovery.searchServices(
            types=[QName(*NETWORK_VIDEO_TRANSMITTER)], scopes=[Scope(PROFILE_STREAMING)], timeout=timeout
        )
    finally:
        discovery.stop()
    return [
        {
            "epr": service.getEPR(),
            "xaddrs": list(service.getXAddrs()),
            "scopes": [scope.getValue() for scope in service.getScopes()],
            "types": [f"{{{t.getNamespace()}}}{t.getLocalname()}" for t in service.getTypes()],
        }
        for service in services
    ]


class ProbeNamespace:
    """A namespace linked only to ``camera``'s: the LAN a probing client is on."""

    def __init__(self, camera: CameraNamespace) -> None:
        tag = secrets.token_hex(3)
        self.name = f"eo{tag}"
        self._camera = camera
        self._camera_if = f"eoc{tag}"
        subnet = free_subnets(1)[0]
        self.address = str(subnet.network_address + 1)
        self.camera_address = str(subnet.network_address + 2)
        ip("netns", "add", self.name)
        try:
            sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=self.name)
            ip("link", "set", "lo", "up", ns=self.name)
            ip("link", "add", f"eop{tag}", "netns", self.name, "type", "veth", "peer", "name", self._camera_if)
            ip("link", "set", self._camera_if, "netns", camera.name)
            ip("addr", "add", f"{self.address}/24", "dev", f"eop{tag}", ns=self.name)
            ip("addr", "add", f"{self.camera_address}/24", "dev", self._camera_if, ns=camera.name)
            ip("link", "set", f"eop{tag}", "up", ns=self.name)
            ip("link", "set", self._camera_if, "up", ns=camera.name)
        except BaseException:
            self.close()
            raise

    def probe(self, timeout: float = 5) -> list[dict[str, Any]]:
        """What Home Assistant's probe finds from here (run in this namespace: its multicast stays here)."""
        command = ["ip", "netns", "exec", self.name, sys.executable, "-m", "testbed.onvif", "--timeout", str(timeout)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"the probe failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description="WS-Discovery probe for ONVIF cameras, as Home Assistant's")
    parser.add_argument("--timeout", type=float, default=5)
    print(json.dumps(ws_discovery(parser.parse_args().timeout)))


if __name__ == "__main__":
    main()
