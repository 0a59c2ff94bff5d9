"""The network watch interface: the daemon's own addresses and links, and when they change.

A snapshot lists, per interface, whether its link is up and the addresses ICE
would offer on it (IPv4 but 127.0.0.1, global IPv6; the same rule as aioice's
gathering), read with ``ifaddr`` like aioice does. A watch yields a
:class:`NetworkChange` whenever a new snapshot differs from the previous one.
Backends differ only in what makes them look again: netlink events
(``netlink``) or the clock alone (``poll``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import ifaddr

SYS_CLASS_NET = Path("/sys/class/net")


@dataclass(frozen=True, slots=True)
class Interface:
    up: bool
    addresses: frozenset[str]


Snapshot = dict[str, Interface]  # by interface name


@dataclass(frozen=True, slots=True)
class NetworkChange:
    """Two snapshots, before and after; ``at`` is the monotonic time of the second."""

    before: Snapshot
    after: Snapshot
    at: float

    def restricted_to(self, names: Iterable[str]) -> NetworkChange:
        """Only the named interfaces (all of them when ``names`` is empty)."""
        wanted = set(names)
        if not wanted:
            return self
        return NetworkChange(
            {n: i for n, i in self.before.items() if n in wanted},
            {n: i for n, i in self.after.items() if n in wanted},
            self.at,
        )

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def addresses_changed(self) -> bool:
        """Addresses came or went (not merely a link going down or up)."""
        return all_addresses(self.before) != all_addresses(self.after)

    def lost(self, address: str) -> bool:
        """Whether the change took ``address``, or the link it is on, away (unknown addresses never are)."""
        return address in all_addresses(self.before) and address not in usable_addresses(self.after)

    def usable(self, address: str) -> bool:
        """Whether ``address`` is configured on an interface whose link is up, after the change."""
        return address in usable_addresses(self.after)

    def describe(self) -> str:
        before, after = all_addresses(self.before), all_addresses(self.after)
        parts = [f"+{a}" for a in sorted(after - before)] + [f"-{a}" for a in sorted(before - after)]
        for name in sorted(set(self.before) & set(self.after)):
            if self.before[name].up != self.after[name].up:
                parts.append(f"{name} {'up' if self.after[name].up else 'down'}")
        return ", ".join(parts) or "no change"


def all_addresses(snapshot: Snapshot) -> frozenset[str]:
    return frozenset(a for i in snapshot.values() for a in i.addresses)


def usable_addresses(snapshot: Snapshot) -> frozenset[str]:
    return frozenset(a for i in snapshot.values() if i.up for a in i.addresses)


def read_snapshot() -> Snapshot:
    """The interfaces that have addresses to offer, as they are now."""
    snapshot: Snapshot = {}
    for adapter in ifaddr.get_adapters():
        name = adapter.nice_name
        addresses = set()
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                if not ip.ip.startswith("127."):
                    addresses.add(ip.ip)
            elif ip.ip[2] == 0 and ip.ip[0] != "::1":  # no link-local (scoped) IPv6
                addresses.add(ip.ip[0])
        if addresses:  # loopback, and links with nothing to offer, do not matter to ICE
            snapshot[name] = Interface(_link_up(name), frozenset(addresses))
    return snapshot


def _link_up(name: str) -> bool:
    """Operational state; "unknown" is what drivers without carrier detection report."""
    try:
        state = (SYS_CLASS_NET / name / "operstate").read_text().strip()
    except OSError:
        return True  # not Linux, or gone meanwhile: judge by its addresses alone
    return state in ("up", "unknown")


class NetworkWatch(abc.ABC):
    """Yields a :class:`NetworkChange` each time the snapshot differs from the last one.

    ``changes()`` looks again whenever :meth:`_wait_for_news` returns: when the
    backend has heard of something, or after ``poll_interval`` seconds at the
    latest, the safety net for anything missed.
    """

    name: str

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self.ready = asyncio.Event()  # set once listening, with the first snapshot taken
        self.changes_seen = 0
        self.last_change: NetworkChange | None = None

    async def changes(self) -> AsyncIterator[NetworkChange]:
        async with self._listening():
            loop = asyncio.get_running_loop()
            current = await loop.run_in_executor(None, read_snapshot)
            self.ready.set()
            while True:
                await self._wait_for_news(self.poll_interval)
                snapshot = await loop.run_in_executor(None, read_snapshot)
                change = NetworkChange(current, snapshot, time.monotonic())
                current = snapshot
                if change.changed:
                    self.changes_seen += 1
                    self.last_change = change
                    yield change

    def _listening(self) -> contextlib.AbstractAsyncContextManager:
        """Around the watch: opens and closes the backend's source of events."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    async def _wait_for_news(self, timeout: float) -> None:
        """Return when it is worth reading a new snapshot, or after ``timeout`` seconds."""

    def status(self) -> dict:
        last = self.last_change
        return {
            "backend": self.name,
            "changes": self.changes_seen,
            "last_change": last.describe() if last else None,
            "last_change_age_s": round(time.monotonic() - last.at, 1) if last else None,
        }


def open_netwatch(backend: str, debounce: float, poll_interval: float) -> NetworkWatch | None:
    """A watch by backend name: ``"netlink"``, ``"poll"`` or ``"off"`` (None)."""
    if backend == "off":
        return None
    if backend == "netlink":
        from hw.netwatch.netlink import NetlinkWatch

        return NetlinkWatch(debounce, poll_interval)
    if backend == "poll":
        from hw.netwatch.poll import PollWatch

        return PollWatch(poll_interval)
    raise ValueError(f"unknown network watch backend {backend!r}")
