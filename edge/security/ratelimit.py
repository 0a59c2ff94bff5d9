"""Slowing down token guessing, without locking anyone out.

Wrong tokens are counted per source: an IPv4 address, or an IPv6 /64 (what one home or
one host gets: it could otherwise pick a new address for every guess). An IPv4 client
seen through a dual-stack socket (``::ffff:a.b.c.d``) is its IPv4 address.

:class:`FailureLimiter` counts a source's wrong tokens in a sliding window and says how
long it must wait (RTSP refuses the source meanwhile). :class:`GuessGate`, for HTTP,
refuses no one for their failures: once a source has had its allowance of wrong tokens,
or all sources together the global budget, each further token is checked only at its
turn, at most one a ``source_interval`` per source and one a ``global_interval`` in all,
booked at most ``horizon`` seconds ahead. A token whose turn would come later is refused
unchecked (429, with the seconds to wait). The right token waits its turn like any other,
so guessing stays slow however many addresses guess, and once the guessing stops, the
right token from any source is checked within ``source_interval`` seconds. A source that
gave the right token within ``trust_seconds`` (Home Assistant, an NVR: clients that ask
again and again) is not held to the global turns, only to its own: others' guessing
cannot lock out a client already known to hold the token.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import NamedTuple


def source_of(address: str) -> str:
    """The source a client address counts for: IPv4 as is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # without a link-local zone (fe80::1%eth0)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureLimiter:
    """At most ``max_failures`` wrong tokens per source per ``window`` seconds.

    Bounded in memory: only the ``max_clients`` most recent sources are kept.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 60.0,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> float | None:
        """Seconds before this client's source is under its limit again, or None when it is."""
        failures = self._failures.get(source_of(client))
        if not failures:
            return None
        now = self._clock()
        while failures and now - failures[0] > self.window:
            failures.popleft()
        if len(failures) < self.max_failures:
            return None
        return self.window - (now - failures[0])

    def record_failure(self, client: str) -> None:
        source = source_of(client)
        failures = self._failures.setdefault(source, deque(maxlen=self.max_failures))
        failures.append(self._clock())
        self._failures.move_to_end(source)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def forget(self, client: str) -> None:
        self._failures.pop(source_of(client), None)


class Turn(NamedTuple):
    """When a token may be checked: after ``wait`` seconds, or (``refused``) not now: retry in ``wait``."""

    wait: float
    refused: bool


class GuessGate:
    """When each token is checked: at once, or at its turn once guessing has started (see the module)."""

    def __init__(
        self,
        allowance: int = 5,
        budget: int = 30,
        window: float = 60.0,
        source_interval: float = 1.0,
        global_interval: float = 0.5,
        horizon: float = 1.5,
        max_sources: int = 4096,
        trust_seconds: float = 24 * 3600.0,
        max_trusted: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = FailureLimiter(allowance, window, max_sources, clock)
        self.window = window
        self.source_interval = source_interval
        self.global_interval = global_interval
        self.horizon = horizon
        self._clock = clock
        self._all: deque[float] = deque(maxlen=budget)  # the last `budget` failures from anywhere
        self._next_all = 0.0  # the earliest free turn, all sources together
        self._next: OrderedDict[str, float] = OrderedDict()  # the earliest free turn per source
        self._max_sources = max_sources
        self.trust_seconds = trust_seconds
        self._trusted: OrderedDict[str, float] = OrderedDict()  # source: when it last gave the right token
        self._max_trusted = max_trusted

    def _over_budget(self, now: float) -> bool:
        return len(self._all) == self._all.maxlen and now - self._all[0] <= self.window

    def _trusted_recently(self, source: str, now: float) -> bool:
        at = self._trusted.get(source)
        return at is not None and now - at <= self.trust_seconds

    def book(self, client: str) -> Turn:
        """Take the next turn for a token from ``client`` (nothing is taken when it is refused)."""
        now = self._clock()
        source = source_of(client)
        shared = self._over_budget(now) and not self._trusted_recently(source, now)
        if not shared and self.failures.retry_after(source) is None:
            return Turn(0.0, False)  # nobody is guessing, or only others while this source is trusted
        turn = max(now, self._next.get(source, now))
        if shared:
            turn = max(turn, self._next_all)
        if turn - now > self.horizon:
            return Turn(turn - now - self.horizon, True)
        if shared:
            self._next_all = turn + self.global_interval
        self._next[source] = turn + self.source_interval
        self._next.move_to_end(source)
        while len(self._next) > self._max_sources:
            self._next.popitem(last=False)
        return Turn(turn - now, False)

    async def admit(self, client: str) -> float | None:
        """Wait for the token's turn: None once it may be checked, or the seconds to tell a refused one."""
        turn = self.book(client)
        if turn.refused:
            return turn.wait
        if turn.wait > 0:
            await asyncio.sleep(turn.wait)
        return None

    def record_failure(self, client: str) -> None:
        self.failures.record_failure(client)
        self._all.append(self._clock())

    def record_success(self, client: str) -> None:
        """This client's source gave the right token: trusted past the global turns for ``trust_seconds``."""
        source = source_of(client)
        self._trusted[source] = self._clock()
        self._trusted.move_to_end(source)
        while len(self._trusted) > self._max_trusted:
            self._trusted.popitem(last=False)

    def forget(self, client: str) -> None:
        """Clear this client's source: its failures and its turns."""
        self.failures.forget(client)
        self._next.pop(source_of(client), None)
