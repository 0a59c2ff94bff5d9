"""WS-Discovery (UDP 3702, multicast 239.255.255.250): how Home Assistant and NVRs find the camera.

The maintained ``WSDiscovery`` library does the protocol: it answers Probe for the
camera's types and scopes, sends Hello when started (and when an address appears) and
Bye when stopped. It runs on threads of its own (it polls its sockets every 0.1 s), so
starting and stopping happen off the event loop.

The library follows every interface's IPv4 addresses (``ifaddr``, every few seconds).
:class:`_Publisher` narrows that to the addresses the HTTP server listens on (one, when
``[server] host`` names one), and announces the XAddrs again when they change: the
library's own ``{ip}`` XAddr template is broken for hosts with IPv6 addresses in 2.1.2.
The two methods it overrides (``_networkAddressAdded``, ``_networkAddressRemoved``) are the
library's private ones, called when an address appears or goes: the Hello test in
``tests/netns/test_onvif_discovery.py`` (only ``[server] host``'s address announced) fails if a
release stops calling them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from wsdiscovery.publishing import ThreadedWSPublishing
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope

from edge.onvif.device import DEVICE_PATH
from edge.onvif.identity import Identity, served_interfaces
from edge.onvif.status import DiscoveryState

log = logging.getLogger(__name__)

NETWORK_VIDEO_TRANSMITTER = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")
DEVICE = QName("http://www.onvif.org/ver10/device/wsdl", "Device", "tds")


class _Publisher(ThreadedWSPublishing):
    """The library's publisher, on the addresses ``allowed`` lets through; re-announces on changes."""

    def __init__(self, allowed: Callable[[str], bool], on_addresses_changed: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allowed = allowed
        self._on_addresses_changed = on_addresses_changed

    def _networkAddressAdded(self, addr: Any) -> None:  # the library's name
        if self._allowed(str(addr)):
            self.addSourceAddr(addr)
            self._on_addresses_changed()

    def _networkAddressRemoved(self, addr: Any) -> None:
        if self._allowed(str(addr)):
            self.removeSourceAddr(addr)
            self._on_addresses_changed()


class Discovery:
    """Announces the device service while started."""

    def __init__(self, identity: Identity, listen_host: str, scheme: str, port: Callable[[], int | None]) -> None:
        self._identity = identity
        self._listen_host = listen_host
        self._scheme = scheme
        self._port = port
        self._publisher: _Publisher | None = None
        self._lock = threading.Lock()  # publishing happens on the loop's executor and the library's thread
        self.state = DiscoveryState.STOPPED
        self.addresses: list[str] = []

    def _addresses(self) -> list[str]:
        return [address for i in served_interfaces(self._listen_host) for address, _ in i.addresses]

    def _allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return ip.version == 4 and address in self._addresses()

    def _publish(self) -> None:
        """(Re)announce the device with the XAddrs of the current addresses."""
        with self._lock:
            publisher = self._publisher
            if publisher is None:
                return
            self.addresses = self._addresses()
            port = self._port()
            xaddrs = [f"{self._scheme}://{address}:{port}{DEVICE_PATH}" for address in self.addresses]
            scopes = [Scope(scope) for scope in self._identity.scopes()]
            publisher.publishService(types=[NETWORK_VIDEO_TRANSMITTER, DEVICE], scopes=scopes, xAddrs=xaddrs)

    def _start(self) -> None:
        publisher = _Publisher(self._allowed, self._publish, uuid_=self._identity.endpoint_reference)
        publisher.start()
        with self._lock:
            self._publisher = publisher
        self._publish()

    def _stop(self) -> None:
        with self._lock:
            publisher, self._publisher = self._publisher, None
        if publisher is None:
            return
        publisher.clearLocalServices()  # Bye: sent before the threads end (they drain their queue)
        publisher.stop()

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._start)
        except OSError as exc:
            self.state = DiscoveryState.FAILED
            log.error("ONVIF: WS-Discovery cannot start (%s): clients must be given the address", exc)
            return
        self.state = DiscoveryState.ANNOUNCING
        log.info("ONVIF: answering WS-Discovery probes on %s", ", ".join(self.addresses) or "no address yet")

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)
        if self.state is DiscoveryState.ANNOUNCING:
            self.state = DiscoveryState.STOPPED
