"""The network watch interface: the daemon's own addresses and links, and when they change.

A snapshot lists, per interface, whether its link is up and the addresses ICE
would offer on it: :func:`hw.host_addresses.host_addresses`, the rule our ICE host
candidates come from (only the configured interfaces if any, loopback only if
named, no link-local IPv6; otherwise aioice's own default). A watch yields a
:class:`NetworkChange` whenever a new snapshot differs from the previous one.
Backends differ only in what makes them look again: netlink events
(``netlink``) or the clock alone (``poll``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from hw.clock import monotonic_s
from hw.host_addresses import host_addresses

SYS_CLASS_NET = Path("/sys/class/net")


class NetworkWatchStatus(TypedDict):
    backend: str
    changes: int
    last_change: str | None
    last_change_age_s: float | None


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


def read_snapshot(interfaces: Collection[str] = ()) -> Snapshot:
    """The interfaces that have addresses to offer (of ``interfaces``, if any are named), as they are now."""
    return {
        name: Interface(_link_up(name), frozenset(addresses)) for name, addresses in host_addresses(interfaces).items()
    }


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

    def __init__(self, poll_interval: float, interfaces: Iterable[str] = ()) -> None:
        """``interfaces``: those ICE offers candidates on (none named: all, as ICE then does)."""
        self.poll_interval = poll_interval
        self.interfaces = tuple(interfaces)
        self.ready = asyncio.Event()  # set once listening, with the first snapshot taken
        self.changes_seen = 0
        self.last_change: NetworkChange | None = None

    async def changes(self) -> AsyncIterator[NetworkChange]:
        async with self._listening():
            loop = asyncio.get_running_loop()
            current = await loop.run_in_executor(None, read_snapshot, self.interfaces)
            self.ready.set()
            while True:
                await self._wait_for_news(self.poll_interval)
                snapshot = await loop.run_in_executor(None, read_snapshot, self.interfaces)
                change = NetworkChange(current, snapshot, monotonic_s())
                current = snapshot
                if change.changed:
                    self.changes_seen += 1
                    self.last_change = change
                    yield change

    def _listening(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Around the watch: opens and closes the backend's source of events."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    async def _wait_for_news(self, timeout: float) -> None:
        """Return when it is worth reading a new snapshot, or after ``timeout`` seconds."""

    def status(self) -> NetworkWatchStatus:
        last = self.last_change
        return {
            "backend": self.name,
            "changes": self.changes_seen,
            "last_change": last.describe() if last else None,
            "last_change_age_s": round(monotonic_s() - last.at, 1) if last else None,
        }


def open_netwatch(
    backend: str, debounce: float, poll_interval: float, interfaces: Iterable[str] = ()
) -> NetworkWatch | None:
    """A watch by backend name: ``"netlink"``, ``"poll"`` or ``"off"`` (None), of ``interfaces`` (none named: all)."""
    if backend == "off":
        return None
    if backend == "netlink":
        from hw.network_watch.netlink import NetlinkWatch

        return NetlinkWatch(debounce, poll_interval, interfaces)
    if backend == "poll":
        from hw.network_watch.poll import PollWatch

        return PollWatch(poll_interval, interfaces)
    raise ValueError(f"unknown network watch backend {backend!r}")
