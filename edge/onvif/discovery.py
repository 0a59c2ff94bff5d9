"""WS-Discovery (UDP 3702, multicast 239.255.255.250): how Home Assistant and NVRs find the camera.

The daemon owns the socket, on its event loop; the ``wsdiscovery`` library only builds
and matches messages (:mod:`edge.onvif.wsd_messages`). The library's own networking
(threads polling sockets bound to every address, IPv4 and IPv6) was the alternative, hardened
by overriding its private methods; it was not chosen because what a hostile LAN needs is
in those very parts: which interface and destination a datagram came in on (its sockets do
not ask), a size cap before parsing, a bounded memory of MessageIDs, send errors that are not
fatal to a thread, and knowing when it stopped. Overriding all of them would leave little of
it but private reaches to keep in step with each release.

What the socket does:

- one IPv4 socket, ``IP_MULTICAST_ALL`` off, in the group only on the interfaces the HTTP
  server is reachable on (all, or ``[server] host``'s), ``IP_PKTINFO`` on so each datagram
  says which interface and destination address it came to;
- a datagram is read only when it came in on such an interface, to the group or to that
  interface's own address, from a source on one of its subnets; anything else gets silence;
- the reply goes to the prober with the XAddrs of the subnet it probed from: Home
  Assistant takes the first XAddr, and that one is reachable from where it is;
- reading is bounded so that a flood cannot hold the event loop (which HTTP, RTSP and the
  recorder share): at most :data:`READS_PER_WAKEUP` datagrams a turn; a datagram that is not
  plainly a probe (no Probe action, too many elements) is dropped unparsed, and probes are
  parsed only within a :class:`~edge.onvif.probe_budget.ProbeBudget` (per source and overall),
  which also bounds the ProbeMatches sent to any one address;
- MessageIDs are remembered to answer a probe once (the last :data:`SEEN_MESSAGE_IDS`);
- a send error is logged once per kind and the next datagram is read as usual; if reading
  fails the state becomes ``failed``.

IPv6 is not served: ONVIF clients probe over IPv4, and the XAddrs are IPv4.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from edge.onvif.device import DEVICE_PATH
from edge.onvif.identity import Identity, served_interfaces
from edge.onvif.probe_budget import ProbeBudget
from edge.onvif.status import DiscoveryState
from edge.onvif.wsd_messages import MAX_DATAGRAM, Advertisement, might_be_probe, read_probe
from hw.network_watch import NetworkWatch, open_netwatch

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"
PORT = 3702
IP_PKTINFO = 8  # <linux/in.h>: Python's socket module names neither of these two
IP_MULTICAST_ALL = 49
PKTINFO = struct.Struct("=i4s4s")  # struct in_pktinfo: interface index, local address, header destination
MREQN = struct.Struct("=4s4si")  # struct ip_mreqn: group, interface address, interface index
SEEN_MESSAGE_IDS = 1024
READS_PER_WAKEUP = 32  # datagrams read before the event loop gets its turn back
DROPS_LOG_INTERVAL_S = 60.0
WATCH_DEBOUNCE_S = 0.5
WATCH_POLL_S = 5.0


@dataclass(frozen=True)
class Link:
    """An interface discovery serves: its index and IPv4 networks (each address with its prefix)."""

    name: str
    index: int
    networks: tuple[ipaddress.IPv4Interface, ...]

    def owns(self, address: str) -> bool:
        return any(str(network.ip) == address for network in self.networks)

    def addresses_for(self, source: str) -> list[str]:
        """This interface's addresses on ``source``'s subnet (empty when ``source`` is not on-link)."""
        ip = ipaddress.IPv4Address(source)
        return [str(network.ip) for network in self.networks if ip in network.network]


def served_links(listen_host: str) -> dict[int, Link]:
    links = {}
    for interface in served_interfaces(listen_host):
        try:
            index = socket.if_nametoindex(interface.name)
        except OSError:  # gone since it was listed
            continue
        networks = tuple(ipaddress.IPv4Interface(f"{address}/{prefix}") for address, prefix in interface.addresses)
        links[index] = Link(interface.name, index, networks)
    return links


def open_socket(address: str = "") -> socket.socket:
    """A WS-Discovery socket: on ``address`` (the group: only multicast probes come to it; all: the rest)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind((address, PORT))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def arrival(ancillary: list[tuple[int, int, bytes]]) -> tuple[int, str] | None:
    """The interface index and destination address ``IP_PKTINFO`` gave for a datagram."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= PKTINFO.size:
            index, _local, destination = PKTINFO.unpack_from(data)
            return index, socket.inet_ntoa(destination)
    return None


def _membership_request(link: Link) -> bytes:
    return MREQN.pack(socket.inet_aton(GROUP), bytes(4), link.index)


class Discovery:
    """Answers probes and announces the device service (Hello, Bye) while started."""

    def __init__(
        self, identity: Identity, listen_host: str, scheme: str, port: Callable[[], int | None], instance_id: int
    ) -> None:
        self._listen_host = listen_host
        self._scheme = scheme
        self._port = port
        self._advertisement = Advertisement(identity.endpoint_reference, identity.scopes(), instance_id)
        # Two sockets: a unicast flood (any LAN host can send one) fills only its own one's buffer, and the
        # multicast probes of Home Assistant and NVRs still reach the group's. Answers leave from the first.
        self._sock: socket.socket | None = None
        self._group_sock: socket.socket | None = None
        self._links: dict[int, Link] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._send_errors_logged: set[str] = set()
        self._budget = ProbeBudget()
        self._drops_logged = (0, -DROPS_LOG_INTERVAL_S)  # the count and time when drops were last logged
        self._watch: NetworkWatch | None = None
        self._watching: asyncio.Task[None] | None = None
        self.state = DiscoveryState.STOPPED
        self.addresses: list[str] = []

    def _xaddrs(self, addresses: list[str]) -> list[str]:
        return [f"{self._scheme}://{address}:{self._port()}{DEVICE_PATH}" for address in addresses]

    async def start(self) -> None:
        try:
            self._sock = open_socket()
            self._group_sock = open_socket(GROUP)
        except OSError as exc:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self.state = DiscoveryState.FAILED
            log.error("ONVIF: WS-Discovery cannot start (%s): clients must be given the address", exc)
            return
        self.state = DiscoveryState.ANNOUNCING
        loop = asyncio.get_running_loop()
        loop.add_reader(self._sock.fileno(), self._read, self._sock)
        loop.add_reader(self._group_sock.fileno(), self._read, self._group_sock)
        self._follow_links()
        log.info("ONVIF: answering WS-Discovery probes on %s", ", ".join(self.addresses) or "no address yet")
        self._watch = open_netwatch("netlink", WATCH_DEBOUNCE_S, WATCH_POLL_S)
        if self._watch is not None:
            self._watching = asyncio.create_task(self._follow_changes(self._watch))

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # ended on its own: it said why
                await self._watching
            self._watching = None
        sock, self._sock = self._sock, None
        group, self._group_sock = self._group_sock, None
        if sock is None or group is None:
            return
        asyncio.get_running_loop().remove_reader(sock.fileno())
        asyncio.get_running_loop().remove_reader(group.fileno())
        group.close()
        if self.state is DiscoveryState.ANNOUNCING:
            bye = self._advertisement.bye()
            for link in self._links.values():
                self._multicast(sock, link, bye)
            self.state = DiscoveryState.STOPPED
        sock.close()
        self._links = {}

    async def _follow_changes(self, watch: NetworkWatch) -> None:
        try:
            async for _change in watch.changes():
                self._follow_links()
        except OSError as exc:
            log.warning("ONVIF: WS-Discovery no longer follows address changes (%s)", exc)
        except Exception:  # the rest of discovery, and the Bye at stop, go on regardless
            log.exception("ONVIF: WS-Discovery no longer follows address changes")

    def _follow_links(self) -> None:
        """Join the group on the served interfaces as they are now; Hello on each when the addresses changed."""
        sock, group = self._sock, self._group_sock
        if sock is None or group is None or self.state is not DiscoveryState.ANNOUNCING:
            return
        links = served_links(self._listen_host)
        for index in self._links.keys() - links.keys():
            self._leave(group, self._links[index])
        joined = {index for index in links.keys() - self._links.keys() if self._join(group, links[index])}
        self._links = {index: link for index, link in links.items() if index in self._links or index in joined}
        self.addresses = [str(network.ip) for link in self._links.values() for network in link.networks]
        if self._advertisement.addresses_now(frozenset(self.addresses)):
            for link in self._links.values():
                hello = self._advertisement.hello(self._xaddrs([str(network.ip) for network in link.networks]))
                self._multicast(sock, link, hello)

    def _join(self, sock: socket.socket, link: Link) -> bool:
        """Join the group on ``link``; False (said in the log) when the kernel refuses: it is tried again at the
        next address change."""
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, _membership_request(link))
        except OSError as exc:  # the interface went meanwhile, or too many groups (net.ipv4.igmp_max_memberships)
            log.warning("ONVIF: WS-Discovery cannot listen on %s (%s): probes there go unanswered", link.name, exc)
            return False
        return True

    def _leave(self, sock: socket.socket, link: Link) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, _membership_request(link))
        except OSError as exc:  # the interface is gone, and the membership with it
            log.debug("ONVIF: WS-Discovery leaving the group on %s: %s", link.name, exc)

    def _multicast(self, sock: socket.socket, link: Link, message: bytes) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, MREQN.pack(bytes(4), bytes(4), link.index))
        except OSError as exc:
            self._send_failed(exc)
            return
        self._send(sock, message, (GROUP, PORT))

    def _send(self, sock: socket.socket, message: bytes, to: tuple[str, int]) -> None:
        try:
            sock.sendto(message, to)
        except OSError as exc:
            self._send_failed(exc)

    def _send_failed(self, exc: OSError) -> None:
        kind = type(exc).__name__ + str(exc.errno)
        if kind not in self._send_errors_logged:
            self._send_errors_logged.add(kind)
            log.warning("ONVIF: WS-Discovery could not send (%s); further errors like it are not logged", exc)

    def _read(self, sock: socket.socket) -> None:
        if self._sock is None:
            return
        for _ in range(READS_PER_WAKEUP):
            try:
                data, ancillary, flags, source = sock.recvmsg(MAX_DATAGRAM + 1, socket.CMSG_SPACE(PKTINFO.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                asyncio.get_running_loop().remove_reader(sock.fileno())
                self.state = DiscoveryState.FAILED
                log.error("ONVIF: WS-Discovery stopped: its socket failed (%s)", exc)
                return
            if flags & socket.MSG_TRUNC or len(data) > MAX_DATAGRAM:
                continue
            self._answer(data, arrival(ancillary), source)

    def _answer(self, data: bytes, came: tuple[int, str] | None, source: tuple[str, int]) -> None:
        sock = self._sock
        if came is None or sock is None:
            return
        index, destination = came
        link = self._links.get(index)
        if link is None or not (destination == GROUP or link.owns(destination)):
            return
        addresses = link.addresses_for(source[0])
        if not addresses or not might_be_probe(data):
            return
        if not self._budget.admit(source[0]):
            self._log_drops()
            return
        probe = read_probe(data)
        if probe is None or not self._first_time(probe.getMessageId()) or not self._advertisement.answers(probe):
            return
        self._send(sock, self._advertisement.probe_match(probe, self._xaddrs(addresses)), source)

    def _log_drops(self) -> None:
        count, at = self._drops_logged
        now = time.monotonic()
        if now - at >= DROPS_LOG_INTERVAL_S:
            dropped = self._budget.dropped
            log.warning("ONVIF: WS-Discovery is flooded: %d probes dropped unread since last said", dropped - count)
            self._drops_logged = (dropped, now)

    def _first_time(self, message_id: str) -> bool:
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > SEEN_MESSAGE_IDS:
            self._seen.popitem(last=False)
        return True
