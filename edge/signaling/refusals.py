"""Refused offers (a 4xx or 503 to ``POST /whep``): counted, and logged without flooding the log.

A browser that cannot play the camera (no H.264, say) or a viewer over the
limit is worth a warning: the owner sees which browser, and why. A page or a
script that keeps trying must not fill the log, so each client address gets at
most one warning line per minute; the ones not logged are counted and named in
that address's next warning. The status JSON counts every refusal by reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from hw.clock import monotonic_s

log = logging.getLogger(__name__)

WINDOW_S = 60.0
MAX_USER_AGENT_CHARS = 200
MAX_REASON_CHARS = 300
MAX_ADDRESSES = 1024  # remembered at once; older ones are forgotten first


class RefusedOffersStatus(TypedDict):
    total: int
    by_reason: dict[str, int]
    not_logged: int


@dataclass
class _Address:
    logged_at: float  # when its last warning was written
    not_logged: int = 0  # refusals since then


def one_line(text: str | None, limit: int) -> str:
    """``text`` made safe for one log line: control characters as spaces, at most ``limit`` characters."""
    if not text:
        return "-"
    flat = "".join(c if c.isprintable() else " " for c in text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class RefusedOffers:
    """Counts refused offers by reason; warns once per client address per minute."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = monotonic_s) -> None:
        self._window_s = window_s
        self._clock = clock
        self._addresses: dict[str, _Address] = {}
        self._by_reason: Counter[str] = Counter()
        self._not_logged = 0

    def refused(self, address: str | None, status: int, code: str, reason: str, user_agent: str | None) -> None:
        """Count one refusal; write a warning unless this address had one within the window."""
        self._by_reason[code] += 1
        now = self._clock()
        address = address or "unknown"
        seen = self._addresses.get(address)
        if seen is not None and now - seen.logged_at < self._window_s:
            seen.not_logged += 1
            self._not_logged += 1
            return
        earlier = ""
        if seen is not None and seen.not_logged:
            earlier = f"; {seen.not_logged} more from this address after the last warning were not logged"
        log.warning(
            "refused an offer from %s: %d %s: %s (User-Agent: %s)%s",
            address,
            status,
            code,
            one_line(reason, MAX_REASON_CHARS),
            one_line(user_agent, MAX_USER_AGENT_CHARS),
            earlier,
        )
        self._addresses.pop(address, None)
        self._addresses[address] = _Address(now)  # the newest last: dicts keep insertion order
        self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        """Addresses out of their window with nothing unlogged need no memory; at most MAX_ADDRESSES stay."""
        done = [a for a, s in self._addresses.items() if now - s.logged_at >= self._window_s and not s.not_logged]
        for address in done:
            del self._addresses[address]
        while len(self._addresses) > MAX_ADDRESSES:
            del self._addresses[next(iter(self._addresses))]  # the longest ago warned

    def status(self) -> RefusedOffersStatus:
        """For ``/api/status``: how many offers were refused, by reason, and how many went unlogged."""
        return {
            "total": sum(self._by_reason.values()),
            "by_reason": dict(self._by_reason),
            "not_logged": self._not_logged,
        }
