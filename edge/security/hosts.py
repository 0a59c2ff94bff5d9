"""The camera's own names and addresses, and its own origins: what a request's ``Host`` and ``Origin`` may be.

A browser sends the name it was given in ``Host`` and its page's origin in ``Origin``.
DNS rebinding makes a name the attacker owns point at the camera, so ``Host`` names
it; a request made by another site's page carries that site's ``Origin``. The camera's
names are its hostname, ``<hostname>.local``, ``localhost``, every address of its
network interfaces, and the hosts the configuration adds (a reverse proxy's name).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from hw.host_addresses import host_addresses

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host (lower case, IPv6 without brackets), port


def normal_host(host: str) -> str:
    """A host name as compared here: lower case, without a final dot or IPv6 brackets."""
    return host.strip().lower().removesuffix(".").removeprefix("[").removesuffix("]")


def split_host(header: str, scheme: str) -> tuple[str, int] | None:
    """``Host`` (``name``, ``name:port``, ``[v6]:port``) as (host, port); None when it is not one."""
    try:
        parts = urlsplit(f"//{header.strip()}")
        port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return normal_host(parts.hostname), port


def parse_origin(value: str) -> Origin | None:
    """``scheme://host[:port]`` as an :data:`Origin`; None for ``null`` or anything else."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return parts.scheme, normal_host(parts.hostname), port


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# An unknown address makes the interfaces be read again, at most this often: a client
# naming made-up addresses cannot make every request enumerate the interfaces.
RESCAN_S = 2.0


def _interface_addresses() -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of this machine's interfaces, as ICE sees them (hw/host_addresses.py)."""
    addresses = (_ip(address) for found in host_addresses().values() for address in found)
    return frozenset(ip for ip in addresses if ip is not None)


class CameraNames:
    """Whether a host is one of the camera's names or addresses.

    The interface addresses change with the network: they are read again when an
    address is asked about that the last reading did not have (at most every
    ``RESCAN_S``), so a new address is known at its first request.
    """

    def __init__(self, extra_hosts: Iterable[str] = ()) -> None:
        self._extra = frozenset(normal_host(h) for h in extra_hosts)
        self._addresses = _interface_addresses()
        self._scanned = time.monotonic()

    def _names(self) -> set[str]:
        hostname = normal_host(socket.gethostname())
        short = hostname.split(".", 1)[0]
        return {"localhost", hostname, f"{short}.local"}

    def is_own(self, host: str) -> bool:
        host = normal_host(host)
        if host in self._extra or host in self._names():
            return True
        ip = _ip(host.split("%", 1)[0])  # a zone (fe80::1%eth0) names the interface, not the address
        if ip is None:
            return False
        if ip.is_loopback or ip in self._addresses:
            return True
        if time.monotonic() - self._scanned < RESCAN_S:
            return False
        self._addresses = _interface_addresses()
        self._scanned = time.monotonic()
        return ip in self._addresses
