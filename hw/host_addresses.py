"""This machine's addresses as ICE offers them: the one rule for host candidates and the network watch.

The daemon's ICE host candidates (``edge/webrtc/aiortc_ext.py``) and the
network watch's snapshots (``hw/network_watch``) both come from :func:`host_addresses`,
so that a viewer session judging "was my path lost?" compares like with like.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import ifaddr

LOOPBACK = ("127.0.0.1", "::1")


def host_addresses(
    interfaces: Collection[str] = (), *, use_ipv4: bool = True, use_ipv6: bool = True
) -> dict[str, list[str]]:
    """The addresses ICE would offer, by interface name (interfaces with none are left out).

    With ``interfaces`` named: only theirs, loopback included if named. With none:
    every interface, without 127.0.0.1 and ::1, which is aioice 0.13's own
    ``get_host_addresses`` rule. Link-local (scoped) IPv6 is never offered.
    """
    named = bool(interfaces)
    by_interface: dict[str, list[str]] = {}
    for adapter in ifaddr.get_adapters():
        if named and adapter.nice_name not in interfaces:
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address, offered = ip.ip, use_ipv4
            else:
                address, _flowinfo, scope_id = ip.ip
                offered = use_ipv6 and scope_id == 0
            if offered and (named or address not in LOOPBACK):
                by_interface.setdefault(adapter.nice_name, []).append(address)
    return by_interface


@dataclass(frozen=True)
class Ipv4Interface:
    """An interface with IPv4 addresses (loopback left out), as ONVIF's GetNetworkInterfaces lists it."""

    name: str
    hardware_address: str | None  # "dc:a6:32:..." from sysfs; None where there is none
    addresses: tuple[tuple[str, int], ...]  # (address, prefix length)


def ipv4_interfaces(sys_net: Path = Path("/sys/class/net")) -> list[Ipv4Interface]:
    found = []
    for adapter in ifaddr.get_adapters():
        addresses = tuple(
            (ip.ip, ip.network_prefix) for ip in adapter.ips if isinstance(ip.ip, str) and ip.ip not in LOOPBACK
        )
        if not addresses:
            continue
        try:
            mac: str | None = (sys_net / adapter.name / "address").read_text().strip() or None
        except OSError:
            mac = None
        found.append(Ipv4Interface(adapter.nice_name, mac, addresses))
    return found


ONBOARD_NAMES = ("eth0", "wlan0")  # Raspberry Pi OS's names for the board's own Ethernet and Wi-Fi


def hardware_interfaces(sys_net: Path = Path("/sys/class/net")) -> list[tuple[str, str]]:
    """(name, MAC) of each network device that is hardware (``eth0``, ``wlan0``), address or not, the board's
    own first.

    The first one's MAC is what Home Assistant keys the camera on, so a USB adapter plugged in
    later (``enx…``, ``eth1``) must not come before them: first ``eth0`` and ``wlan0`` (the board's,
    on Raspberry Pi OS; on a Pi 3 the Ethernet is itself a USB device, so the bus alone cannot
    tell), then devices not on USB (``end0``: the board's Ethernet where names are predictable,
    a device on the SoC's platform bus), then USB ones, each by name. Remembering the first MAC
    ever seen was the alternative; it would keep a USB adapter that happened to be there at the
    first start first for good.
    """
    found = []
    for path in sys_net.iterdir() if sys_net.is_dir() else ():
        if not (path / "device").exists():
            continue  # virtual: lo, veth, docker0, wg0, tailscale0
        try:
            mac = (path / "address").read_text().strip()
        except OSError:
            continue
        if mac:
            on_usb = "/usb" in str((path / "device").resolve())
            found.append(((path.name not in ONBOARD_NAMES, on_usb, path.name), (path.name, mac)))
    return [interface for _rank, interface in sorted(found)]
