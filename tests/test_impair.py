"""The userspace link (testbed/netns/impair.py) holds traffic to its rate, bounds its queue, and changes
while it runs. Its loop is driven here between UDP sockets on loopback instead of TUN devices (no root,
no namespaces): a sender paces datagrams stamped with their send time, a receiver notes their arrival."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from testbed.netns.impair import QUEUE_S, Impairment, _carry, default_queue_bytes

STAMP = struct.Struct("!Id")  # sequence number, send time (time.monotonic())
SIZE = 1200  # bytes per datagram, as a video packet
DELAY_S = 0.020


def udp_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected UDP sockets on loopback: (the application's, the link's)."""
    a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.bind(("127.0.0.1", 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    a.connect(b.getsockname())
    b.connect(a.getsockname())
    b.setblocking(False)
    return a, b


@dataclass
class Arrival:
    sequence: int
    sent: float
    arrived: float
    size: int


class Link:
    """``_carry`` in a thread between ``host`` (sends) and ``far`` (receives), with its control line."""

    def __init__(self, impairment: Impairment) -> None:
        self.host, host_end = udp_pair()
        self.far, far_end = udp_pair()
        self._ends = (host_end, far_end)
        control_r, self._control = os.pipe()
        replies_r, replies_w = os.pipe()
        self._replies = os.fdopen(replies_r)
        self._thread = threading.Thread(
            target=_carry,
            args=((host_end.fileno(), far_end.fileno()), control_r, os.fdopen(replies_w, "w"), impairment),
            daemon=True,
        )
        self._thread.start()
        self.arrivals: list[Arrival] = []
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._receiver.start()

    def _receive(self) -> None:
        while True:
            data = self.far.recv(65536)
            if not data:
                return
            sequence, sent = STAMP.unpack_from(data)
            self.arrivals.append(Arrival(sequence, sent, time.monotonic(), len(data)))

    def ask(self, line: str) -> str:
        os.write(self._control, line.encode() + b"\n")
        return self._replies.readline().strip()

    def send(self, rate_bps: float, seconds: float, first: int = 0) -> int:
        """Datagrams paced at ``rate_bps`` for ``seconds``; returns the next sequence number."""
        interval = SIZE * 8 / rate_bps
        start = time.monotonic()
        sequence = first
        for n in range(round(seconds / interval)):
            wait = start + n * interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.host.send(STAMP.pack(sequence, time.monotonic()).ljust(SIZE, b"\0"))
            sequence += 1
        return sequence

    def received(self, first: int, end: int) -> list[Arrival]:
        """The arrivals of datagrams ``first`` to ``end - 1``, once every datagram sent has arrived or was
        dropped or lost (the link's own count)."""
        deadline = time.monotonic() + 10
        while True:
            stats = json.loads(self.ask("stats"))["to_camera"]
            if len(self.arrivals) + stats["dropped"] + stats["lost"] == stats["packets"]:
                return [a for a in self.arrivals if first <= a.sequence < end]
            assert time.monotonic() < deadline, f"datagrams unaccounted for: {stats}, {len(self.arrivals)} arrived"
            time.sleep(0.05)  # polling the link's count: it has no event to wait on

    def close(self) -> None:
        os.close(self._control)
        self._thread.join(5)
        self.far.shutdown(socket.SHUT_RDWR)
        for s in (self.host, self.far, *self._ends):
            s.close()


@pytest.fixture
def link_factory() -> Iterator:
    links: list[Link] = []

    def make(impairment: Impairment) -> Link:
        links.append(Link(impairment))
        return links[-1]

    yield make
    for link in links:
        link.close()


def throughput_bps(arrivals: list[Arrival], skip_s: float) -> float:
    """Bits per second out of the link, from ``skip_s`` after the first arrival (the queue filling) to the last."""
    start = arrivals[0].arrived + skip_s
    late = [a for a in arrivals if a.arrived >= start]
    return sum(a.size for a in late[1:]) * 8 / (late[-1].arrived - late[0].arrived)


def test_a_rate_limit_carries_at_its_rate_and_its_queue_bounds_the_delay(link_factory) -> None:
    """Twice the link's rate offered for 4 s: what comes out runs at the rate (within 10 %), the rest is dropped
    at the tail of the queue and counted, and no datagram waits longer than the queue takes to drain."""
    rate = 700_000
    link = link_factory(Impairment(0.0, DELAY_S, rate_bps=rate))
    sent = link.send(2 * rate, 4.0)
    arrivals = link.received(0, sent)
    stats = link.ask("stats")
    out = throughput_bps(arrivals, 0.5)
    delays = [a.arrived - a.sent for a in arrivals]
    queue_s = default_queue_bytes(rate) * 8 / rate
    figures = (
        f"{len(arrivals)} of {sent} datagrams out at {out / 1000:.0f} kbit/s; one-way delay"
        f" {min(delays) * 1000:.0f}-{max(delays) * 1000:.0f} ms; the link's stats {stats}"
    )
    print(figures)
    assert abs(out - rate) <= 0.1 * rate, figures
    assert queue_s == pytest.approx(QUEUE_S, rel=0.01)
    assert min(delays) >= DELAY_S, figures
    assert max(delays) <= DELAY_S + queue_s + 0.1, figures  # 0.1 s: this machine's scheduling, generously
    to_camera = json.loads(stats)["to_camera"]
    assert to_camera["packets"] == sent and to_camera["dropped"] == sent - len(arrivals), figures
    assert 0.35 * sent <= to_camera["dropped"] <= 0.6 * sent, figures  # about half: twice the rate offered
    assert to_camera["queue_max_bytes"] <= default_queue_bytes(rate), figures


def test_the_rate_changes_while_the_link_runs(link_factory) -> None:
    """``rate 5000000`` lets 3 Mbit/s through that 700 kbit/s held back; ``rate 0`` lifts the limit."""
    link = link_factory(Impairment(0.0, DELAY_S, rate_bps=700_000))
    held = link.send(3_000_000, 1.0)
    assert link.ask("rate 5000000") == "ok"
    time.sleep(QUEUE_S)  # what 700 kbit/s queued has left
    wide = link.send(3_000_000, 2.0, first=held)
    assert link.ask("rate 0") == "ok"
    free = link.send(8_000_000, 1.0, first=wide)
    narrow = link.received(0, held)
    widened = link.received(held, wide)
    lifted = link.received(wide, free)
    figures = (
        f"at 700 kbit/s {len(narrow)} of {held} out, at 5 Mbit/s {len(widened)} of {wide - held}"
        f" ({throughput_bps(widened, 0.2) / 1e6:.2f} Mbit/s), unlimited {len(lifted)} of {free - wide}"
    )
    print(figures)
    assert len(narrow) < 0.4 * held, figures
    assert len(widened) >= 0.99 * (wide - held), figures
    assert abs(throughput_bps(widened, 0.2) - 3_000_000) <= 0.1 * 3_000_000, figures
    assert len(lifted) >= 0.99 * (free - wide), figures


def test_without_a_rate_limit_it_delays_and_loses_as_before(link_factory) -> None:
    link = link_factory(Impairment(0.2, DELAY_S))
    sent = link.send(4_000_000, 1.0)
    arrivals = link.received(0, sent)
    lost = sent - len(arrivals)
    assert 0.12 * sent <= lost <= 0.28 * sent, f"{lost} of {sent} lost at 20 %"
    assert min(a.arrived - a.sent for a in arrivals) >= DELAY_S


def test_a_control_line_it_does_not_know_gets_a_one_line_error(link_factory) -> None:
    link = link_factory(Impairment(0.0, DELAY_S, rate_bps=1_000_000))
    assert link.ask("rate fast").startswith("error: not numbers")
    assert link.ask("slower please").startswith("error: unknown command")
    assert link.ask("rate 2000000 50000") == "ok"
    stats = json.loads(link.ask("stats"))
    assert (stats["to_camera"]["rate_bps"], stats["to_camera"]["queue_bytes"]) == (2_000_000, 50_000)
