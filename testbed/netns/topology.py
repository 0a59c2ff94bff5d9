"""A camera in a network namespace, linked to the host by veth pairs.

Every name is unique per instance (``ec`` + 6 hex digits: interface names stay
under 15 characters), subnets are picked among those the host does not use,
and :meth:`CameraNamespace.close` removes everything that was made (the tests
call it from a finalizer). Traffic only ever goes to addresses made here.

In the namespace, ``promote_secondaries`` is on (as systemd sets it on
Raspberry Pi OS): removing an address must not take the others of its subnet
along. Strict ``rp_filter`` keeps links apart: a packet for the first link's
address that comes in on the second is dropped, as two separate networks
would do. There is no default route: replies can only go to the links' subnets.
"""

from __future__ import annotations

import ipaddress
import json
import random
import secrets
import subprocess
import time
from dataclasses import dataclass

from testbed.netns.impair import ImpairedLinkProcess, Impairment


def ip(*args: str, ns: str | None = None) -> str:
    command = ["ip", *(("-n", ns) if ns else ()), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result.stdout


def sysctl(*settings: str, ns: str | None = None) -> None:
    """``key=value`` settings, written to /proc/sys (inside ``ns`` if given; no procps needed)."""
    script = "; ".join(
        f"echo {value} > /proc/sys/{key.replace('.', '/')}" for key, value in (s.split("=") for s in settings)
    )
    prefix = ["ip", "netns", "exec", ns] if ns else []
    subprocess.run([*prefix, "sh", "-ec", script], check=True, timeout=10)


def free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    """/24s in 10.0.0.0/8 that no host address or route is in."""
    used = ip("-4", "addr") + ip("-4", "route")
    subnets: list[ipaddress.IPv4Network] = []
    while len(subnets) < count:
        net = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if str(net.network_address).removesuffix("0") not in used and net not in subnets:
            subnets.append(net)
    return subnets


def _has_tentative_address(interface: str) -> bool:
    """Whether an IPv6 address of ``interface`` (in the host's namespace) is still being checked for duplicates."""
    shown = json.loads(ip("-6", "-j", "addr", "show", "dev", interface))
    return any(address.get("tentative") for link in shown for address in link["addr_info"])


@dataclass
class Link:
    """One veth pair: ``host`` side in the root namespace, ``camera`` side in the camera's."""

    host_if: str
    camera_if: str
    subnet: ipaddress.IPv4Network
    host_address: str
    camera_address: str

    def address(self, n: int) -> str:
        return str(self.subnet.network_address + n)


class CameraNamespace:
    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.name = f"ec{self.tag}"
        self.links: list[Link] = []
        self._host_ifs: list[str] = []
        self._impaired: dict[str, ImpairedLinkProcess] = {}  # by host_if
        ip("netns", "add", self.name)
        try:
            sysctl(
                "net.ipv4.conf.all.promote_secondaries=1",
                "net.ipv4.conf.default.promote_secondaries=1",
                "net.ipv4.conf.all.rp_filter=1",
                "net.ipv4.conf.default.rp_filter=1",
                ns=self.name,
            )
            ip("link", "set", "lo", "up", ns=self.name)
        except BaseException:
            self.close()
            raise

    @property
    def exec_prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)

    def _new_link(self, subnet: ipaddress.IPv4Network) -> Link:
        n = len(self.links)
        host, camera = str(subnet.network_address + 1), str(subnet.network_address + 2)
        return Link(f"ech{self.tag}{n}", f"ecc{self.tag}{n}", subnet, host, camera)

    def add_links(self, count: int) -> list[Link]:
        for subnet in free_subnets(count):
            link = self._new_link(subnet)
            ip("link", "add", link.host_if, "type", "veth", "peer", "name", link.camera_if, "netns", self.name)
            self._host_ifs.append(link.host_if)
            sysctl(f"net.ipv4.conf.{link.host_if}.promote_secondaries=1", f"net.ipv4.conf.{link.host_if}.rp_filter=1")
            self._bring_up(link)
        return self.links[-count:]

    def add_impaired_link(self, impairment: Impairment) -> Link:
        """A link that delays and loses packets (``testbed/netns/impair.py``): TUN devices, not veths."""
        link = self._new_link(*free_subnets(1))
        self._impaired[link.host_if] = ImpairedLinkProcess(link.host_if, link.camera_if, self.name, impairment)
        self._host_ifs.append(link.host_if)
        sysctl(f"net.ipv4.conf.{link.host_if}.rp_filter=1")
        self._bring_up(link)
        return link

    def _bring_up(self, link: Link) -> None:
        """Address both ends of a new link, set them up, and keep it."""
        ip("addr", "add", f"{link.host_address}/24", "dev", link.host_if)
        ip("addr", "add", f"{link.camera_address}/24", "dev", link.camera_if, ns=self.name)
        ip("link", "set", link.host_if, "up")
        ip("link", "set", link.camera_if, "up", ns=self.name)
        self.links.append(link)

    def wait_until_host_settled(self, timeout: float = 10) -> None:
        """Until the host's ends of the links have finished IPv6 duplicate address detection.

        A second or two after a link comes up, its link-local address stops being
        tentative: a host network change of its own, on which Chromium aborts the
        loads under way (ERR_NETWORK_CHANGED).
        """
        deadline = time.monotonic() + timeout
        for name in self._host_ifs:
            while _has_tentative_address(name):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}'s IPv6 address still tentative after {timeout} s")
                time.sleep(0.05)

    def link_lateness(self, link: Link) -> dict[str, float]:
        """How late the impaired ``link`` let packets out, for want of CPU (``ImpairedLinkProcess.lateness``)."""
        return self._impaired[link.host_if].lateness()

    def link_stats(self, link: Link) -> dict:
        """The impaired ``link``'s lateness and each direction's counts (``ImpairedLinkProcess.stats``)."""
        return self._impaired[link.host_if].stats()

    def set_link_rate(self, link: Link, rate_bps: float | None) -> None:
        """The impaired ``link``'s rate limit from now on, each way (None: lifted), its queue sized to it."""
        self._impaired[link.host_if].set_rate(rate_bps)

    def packet_counts(self, link: Link) -> dict[str, int]:
        """The kernel's packet counters at both ends of ``link``.

        ``host_tx`` went into the link from the host's side, ``camera_rx`` came out on the camera's:
        the difference is what the link dropped (or still holds).
        """
        counts = {}
        for end, interface, ns in (("host", link.host_if, None), ("camera", link.camera_if, self.name)):
            (info,) = json.loads(ip("-s", "-j", "link", "show", interface, ns=ns))
            counts[f"{end}_tx"] = info["stats64"]["tx"]["packets"]
            counts[f"{end}_rx"] = info["stats64"]["rx"]["packets"]
        return counts

    # --- the changes the scenarios make ------------------------------------------

    def camera_link(self, link: Link, up: bool) -> None:
        ip("link", "set", link.camera_if, "up" if up else "down", ns=self.name)

    def camera_readdress(self, link: Link, new: str) -> None:
        """The camera's address on ``link`` changes, as with a new DHCP lease: old removed, new added."""
        ip("addr", "del", f"{link.camera_address}/24", "dev", link.camera_if, ns=self.name)
        ip("addr", "add", f"{new}/24", "dev", link.camera_if, ns=self.name)
        link.camera_address = new

    def add_address(self, link: Link, address: str) -> None:
        """The camera gains an address on ``link`` (and keeps the one it had)."""
        ip("addr", "add", f"{address}/24", "dev", link.camera_if, ns=self.name)

    def remove_link(self, link: Link) -> None:
        """The link goes away (a USB adapter unplugged, a connection torn down): both ends vanish."""
        ip("link", "del", link.camera_if, ns=self.name)
        self.links.remove(link)

    def host_readdress(self, link: Link, new: str) -> None:
        """The viewer's own address on ``link`` changes: old removed, new added."""
        ip("addr", "del", f"{link.host_address}/24", "dev", link.host_if)
        ip("addr", "add", f"{new}/24", "dev", link.host_if)
        link.host_address = new

    def close(self) -> None:
        """Removes everything, and returns once the host's side is gone too.

        The kernel dismantles a deleted namespace in the background; waiting
        keeps that host network change (browsers abort loads on one) out of
        whatever comes next.
        """
        for process in self._impaired.values():
            process.close()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        for name in self._host_ifs:
            while subprocess.run(["ip", "link", "show", name], capture_output=True, timeout=10).returncode == 0:
                if time.monotonic() > deadline:
                    subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=10)
                    break
                time.sleep(0.05)
