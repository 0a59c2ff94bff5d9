"""A small internet in network namespaces: a TURN server's address, a camera and a viewer each behind a NAT.

::

    camera ── NAT A ──┐                   ┌── NAT B ── viewer
    (LAN A)   (WAN A) └── internet (P) ──┘ (WAN B)   (LAN B)
                              │
                            host (the test process: the daemon's API through NAT A, coturn at P)

Each NAT is an iptables MASQUERADE with ``--random-fully`` in a router namespace of its own: a
symmetric NAT (a new public port for every destination), which drops whatever comes in
unsolicited. Nothing routes between the private networks, so a viewer's media can only come
through a TURN relay at the public address ``P`` (in the internet namespace). NAT A forwards TCP
port :data:`HTTP_PORT` to the camera, and nothing else: that is how the viewer (and the test,
through the host's link to the internet) reaches the page.

The internet's default route is a dead end (:func:`dead_end_route`): coturn, when it has no
route for a private candidate a peer asks it to send to, drops the whole allocation; a
route swallows those packets as the real internet does.

Names are unique per instance (a role letter + 6 hex digits), subnets are /24s the host does
not use, and :meth:`Internet.close` removes everything and returns once the host's link is gone.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
import time
from dataclasses import dataclass

from testbed.netns.topology import free_subnets, ip, sysctl

HTTP_PORT = 8080


def iptables(ns: str, *args: str) -> None:
    command = ["ip", "netns", "exec", ns, "iptables", "-w", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")


def dead_end_route(ns: str, name: str, destination: str) -> str:
    """Route ``destination`` in ``ns`` to where packets vanish without an error, as on the real internet.

    A veth pair with both ends in ``ns`` and a gateway whose (made-up) MAC address is set for good:
    sending succeeds, the other end drops the frames (not its address), and no ARP failure ever
    reports the destination unreachable. (This kernel has no ``dummy`` interfaces.) Returns the
    interface the route goes out of.
    """
    ip("link", "add", name, "type", "veth", "peer", "name", f"{name}x", ns=ns)
    for interface in (name, f"{name}x"):
        ip("link", "set", interface, "up", ns=ns)
    gateway = "192.0.2.1"  # TEST-NET-1: reached only through this interface, in this namespace
    ip("neigh", "replace", gateway, "lladdr", "02:00:00:00:00:01", "dev", name, "nud", "permanent", ns=ns)
    ip("route", "add", destination, "via", gateway, "dev", name, "onlink", ns=ns)
    return name


@dataclass
class Nat:
    """A router namespace: ``lan`` towards its private network, ``wan`` towards the internet."""

    ns: str
    lan_if: str
    wan_if: str
    lan: ipaddress.IPv4Network
    wan: ipaddress.IPv4Network
    wan_address: str = ""  # set once the link is made; changes with viewer_readdress

    @property
    def lan_address(self) -> str:
        return str(self.lan.network_address + 1)

    @property
    def private_address(self) -> str:
        """The address of the one machine behind it."""
        return str(self.lan.network_address + 2)


class Internet:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.internet = f"ti{tag}"
        self.camera = f"tc{tag}"
        self.viewer = f"tv{tag}"
        self._namespaces = [self.internet, self.camera, self.viewer, f"ta{tag}", f"tb{tag}"]
        self._host_if = f"tih{tag}"
        window, public, wan_a, wan_b, lan_a, lan_b = free_subnets(6)
        self.public_address = str(public.network_address + 1)
        self.nat_a = Nat(f"ta{tag}", f"tal{tag}", f"taw{tag}", lan_a, wan_a)
        self.nat_b = Nat(f"tb{tag}", f"tbl{tag}", f"tbw{tag}", lan_b, wan_b)
        self.camera_if = f"tcl{tag}"
        try:
            for ns in self._namespaces:
                ip("netns", "add", ns)
                # IPv4 only: an IPv6 address settling after Chromium started in the viewer's namespace
                # is a network change there, on which it aborts the page's loads (ERR_NETWORK_CHANGED).
                sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
                ip("link", "set", "lo", "up", ns=ns)
            self._make_internet(tag, window)
            for nat, inside, inside_if in ((self.nat_a, self.camera, self.camera_if), (self.nat_b, self.viewer, None)):
                self._make_nat(nat, tag, inside, inside_if or f"tvl{tag}")
            self._forward_http_to_camera()
        except BaseException:
            self.close()
            raise

    @property
    def camera_address(self) -> str:
        return self.nat_a.private_address

    @property
    def camera_url(self) -> str:
        """The page, as the viewer (or the host) reaches it: NAT A's public address, port forwarded."""
        return f"http://{self.nat_a.wan_address}:{HTTP_PORT}"

    def exec_prefix(self, ns: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", ns)

    def _make_internet(self, tag: str, window: ipaddress.IPv4Network) -> None:
        """The internet namespace: the public address, a dead-end default route, a link to the host."""
        sysctl("net.ipv4.ip_forward=1", ns=self.internet)
        dead_end = dead_end_route(self.internet, f"tip{tag}", "default")
        ip("addr", "add", f"{self.public_address}/32", "dev", dead_end, ns=self.internet)
        host_address, internet_address = str(window.network_address + 1), str(window.network_address + 2)
        ip("link", "add", self._host_if, "type", "veth", "peer", "name", f"tiw{tag}", "netns", self.internet)
        # No IPv6 on it: its address settling later would be one more host network change, on which
        # browsers on the host (other tests') abort their loads.
        sysctl(f"net.ipv6.conf.{self._host_if}.disable_ipv6=1")
        ip("addr", "add", f"{host_address}/24", "dev", self._host_if)
        ip("addr", "add", f"{internet_address}/24", "dev", f"tiw{tag}", ns=self.internet)
        ip("link", "set", self._host_if, "up")
        ip("link", "set", f"tiw{tag}", "up", ns=self.internet)
        # The host reaches the TURN server and NAT A's forwarded port; nothing else goes this way.
        ip("route", "add", f"{self.public_address}/32", "via", internet_address)
        ip("route", "add", str(self.nat_a.wan), "via", internet_address)

    def _make_nat(self, nat: Nat, tag: str, inside: str, inside_if: str) -> None:
        internet_side = f"{nat.wan_if}i"
        ip(
            "link",
            "add",
            nat.wan_if,
            "netns",
            nat.ns,
            "type",
            "veth",
            "peer",
            "name",
            internet_side,
            "netns",
            self.internet,
        )
        ip("addr", "add", f"{nat.wan.network_address + 1}/24", "dev", internet_side, ns=self.internet)
        ip("link", "set", internet_side, "up", ns=self.internet)
        nat.wan_address = str(nat.wan.network_address + 2)
        ip("addr", "add", f"{nat.wan_address}/24", "dev", nat.wan_if, ns=nat.ns)
        ip("link", "set", nat.wan_if, "up", ns=nat.ns)
        ip("route", "add", "default", "via", str(nat.wan.network_address + 1), ns=nat.ns)

        ip("link", "add", nat.lan_if, "netns", nat.ns, "type", "veth", "peer", "name", inside_if, "netns", inside)
        ip("addr", "add", f"{nat.lan_address}/24", "dev", nat.lan_if, ns=nat.ns)
        ip("link", "set", nat.lan_if, "up", ns=nat.ns)
        ip("addr", "add", f"{nat.private_address}/24", "dev", inside_if, ns=inside)
        ip("link", "set", inside_if, "up", ns=inside)
        ip("route", "add", "default", "via", nat.lan_address, ns=inside)

        sysctl("net.ipv4.ip_forward=1", ns=nat.ns)
        iptables(nat.ns, "-t", "nat", "-A", "POSTROUTING", "-o", nat.wan_if, "-j", "MASQUERADE", "--random-fully")
        iptables(nat.ns, "-P", "FORWARD", "DROP")
        iptables(nat.ns, "-A", "FORWARD", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
        iptables(nat.ns, "-A", "FORWARD", "-i", nat.lan_if, "-o", nat.wan_if, "-j", "ACCEPT")

    def _forward_http_to_camera(self) -> None:
        nat = self.nat_a
        destination = f"{nat.private_address}:{HTTP_PORT}"
        iptables(nat.ns, "-t", "nat", "-A", "PREROUTING", "-i", nat.wan_if, "-p", "tcp", "--dport", str(HTTP_PORT),
                 "-j", "DNAT", "--to-destination", destination)  # fmt: skip
        iptables(nat.ns, "-A", "FORWARD", "-i", nat.wan_if, "-o", nat.lan_if, "-p", "tcp", "-d", nat.private_address,
                 "--dport", str(HTTP_PORT), "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT")  # fmt: skip

    # --- the changes the tests make ----------------------------------------------------

    def add_lan_viewer(self) -> str:
        """A namespace on the camera's side of NAT A (another subnet of the same home, routed, not NATed):
        a viewer at home. Returns its name; the camera is at :attr:`camera_address` from there."""
        nat, tag = self.nat_a, self.internet[2:]
        ns, subnet = f"tl{tag}", free_subnets(1)[0]
        ip("netns", "add", ns)
        self._namespaces.append(ns)
        ip("link", "set", "lo", "up", ns=ns)
        router_if, viewer_if = f"tax{tag}", f"tlv{tag}"
        ip("link", "add", router_if, "netns", nat.ns, "type", "veth", "peer", "name", viewer_if, "netns", ns)
        ip("addr", "add", f"{subnet.network_address + 1}/24", "dev", router_if, ns=nat.ns)
        ip("addr", "add", f"{subnet.network_address + 2}/24", "dev", viewer_if, ns=ns)
        ip("link", "set", router_if, "up", ns=nat.ns)
        ip("link", "set", viewer_if, "up", ns=ns)
        ip("route", "add", "default", "via", str(subnet.network_address + 1), ns=ns)
        for inbound, outbound in ((router_if, nat.lan_if), (nat.lan_if, router_if)):
            iptables(nat.ns, "-A", "FORWARD", "-i", inbound, "-o", outbound, "-j", "ACCEPT")
        return ns

    def viewer_tcp_only(self, turn_ports: tuple[int, ...]) -> None:
        """NAT B lets out only TCP to these ports of the TURN server and to the camera's page: no UDP at all."""
        nat = self.nat_b
        iptables(nat.ns, "-D", "FORWARD", "-i", nat.lan_if, "-o", nat.wan_if, "-j", "ACCEPT")
        allowed = [(self.public_address, port) for port in turn_ports] + [(self.nat_a.wan_address, HTTP_PORT)]
        for address, port in allowed:
            iptables(nat.ns, "-A", "FORWARD", "-i", nat.lan_if, "-o", nat.wan_if, "-p", "tcp", "-d", address,
                     "--dport", str(port), "-j", "ACCEPT")  # fmt: skip

    def viewer_readdress(self, host: int = 99) -> str:
        """NAT B's public address changes (a phone moving from Wi-Fi to mobile data): the old address
        goes, the new one comes, and NAT B forgets every mapping it had (its connection tracking table
        flushed). Returns the new address, usable on return."""
        nat = self.nat_b
        new = str(nat.wan.network_address + host)
        ip("addr", "del", f"{nat.wan_address}/24", "dev", nat.wan_if, ns=nat.ns)
        ip("addr", "add", f"{new}/24", "dev", nat.wan_if, ns=nat.ns)
        ip("route", "replace", "default", "via", str(nat.wan.network_address + 1), ns=nat.ns)
        subprocess.run(["ip", "netns", "exec", nat.ns, "conntrack", "-F"], capture_output=True, timeout=10, check=True)
        nat.wan_address = new
        return new

    def close(self) -> None:
        for ns in self._namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while subprocess.run(["ip", "link", "show", self._host_if], capture_output=True, timeout=10).returncode == 0:
            if time.monotonic() > deadline:
                subprocess.run(["ip", "link", "del", self._host_if], capture_output=True, timeout=10)
                break
            time.sleep(0.05)
