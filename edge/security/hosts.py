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
from collections.abc import Iterable
from urllib.parse import urlsplit

import ifaddr

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


def _interface_addresses() -> frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            parsed = _ip(address)
            if parsed is not None:
                found.add(parsed)
    return frozenset(found)


class CameraNames:
    """Whether a host is one of the camera's names or addresses.

    The interface addresses change with the network: they are read again whenever an
    address is asked about that the last reading did not have, so a new address is
    known at its first request.
    """

    def __init__(self, extra_hosts: Iterable[str] = ()) -> None:
        self._extra = frozenset(normal_host(h) for h in extra_hosts)
        self._addresses = _interface_addresses()

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
        self._addresses = _interface_addresses()
        return ip in self._addresses
