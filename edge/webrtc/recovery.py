"""What a viewer session remembers about ICE generations and recoveries.

:class:`IceGenerations` numbers a session's ICE generations and remembers the
remote credentials of the recent ones and its latest restart: a restart is
idempotent per remote credentials, since the page retries a restart whose
answer was lost (or sends it twice at once, on a fresh connection, when the
kept-alive one hangs), and must get the same answer, not a second restart.
What a WHEP PATCH is, and the ETags derived from the generation numbers, are
the business of signaling, which is on top of this package.

:class:`RecoveryClock` keeps, per session, since when its path has been broken
and how long the last recovery took, for ``/healthz`` and for the deadline
that ends sessions which do not recover.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypedDict

from edge.webrtc.ice_restart import LocalIce

Credentials = tuple[str, str]  # (ice-ufrag, ice-pwd)

KEEP_GENERATIONS = 8  # older remote credentials than this are forgotten


class RecoveryStatus(TypedDict):
    restarts: int
    recoveries: int
    recovering_for_s: float | None
    last_recovery_s: float | None
    last_recovered_s_ago: float | None


@dataclass
class Restart:
    remote: Credentials
    generation_before: int
    generation: int
    answer: asyncio.Future[LocalIce]  # our side, once gathered


class IceGenerations:
    """Generation numbers are never reused within a session, not even after :meth:`abandon`."""

    def __init__(self, remote: Credentials) -> None:
        self.number = 0  # the current generation
        self._last_number = 0
        self._remotes: list[Credentials] = [remote]
        self.latest: Restart | None = None

    @property
    def current(self) -> Credentials:
        return self._remotes[-1]

    def remembers(self, remote: Credentials) -> bool:
        """Whether ``remote`` are the credentials of a recent generation (the current one included)."""
        return remote in self._remotes

    def begin(self, remote: Credentials) -> Restart:
        """Record a restart before its answer exists, so that a concurrent retry finds it."""
        self._last_number += 1
        restart = Restart(remote, self.number, self._last_number, asyncio.get_running_loop().create_future())
        self._remotes = [*self._remotes[-(KEEP_GENERATIONS - 1) :], remote]
        self.number = restart.generation
        self.latest = restart
        return restart

    def abandon(self, restart: Restart) -> None:
        """Undo :meth:`begin` for a restart that failed before it took effect."""
        if self.latest is restart:
            self._remotes.pop()
            self.number = restart.generation_before
            self.latest = None


class RecoveryClock:
    """Since when a session's path has been broken, and how its recoveries went.

    A recovery starts at the first sign of trouble the daemon sees (the network
    change that took the path's address or link away, or the page asking for a
    restart) and ends when a new pair is nominated. A path whose link simply
    comes back needs no recovery, unless a restart is under way: then only the
    new pair ends it.
    """

    def __init__(self) -> None:
        self.since: float | None = None
        self.restart_pending = False
        self.restarts = 0
        self.recoveries = 0
        self.last_recovery_s: float | None = None
        self.last_recovered_at: float | None = None

    def trouble(self, now: float) -> None:
        if self.since is None:
            self.since = now

    def restart_requested(self, now: float) -> None:
        self.trouble(now)
        self.restart_pending = True
        self.restarts += 1

    def path_back(self) -> None:
        if not self.restart_pending:
            self.since = None

    def new_pair(self, now: float) -> None:
        if self.since is not None:
            self.last_recovery_s = now - self.since
            self.last_recovered_at = now
            self.recoveries += 1
        self.since = None
        self.restart_pending = False

    def status(self, now: float) -> RecoveryStatus:
        return {
            "restarts": self.restarts,
            "recoveries": self.recoveries,
            "recovering_for_s": None if self.since is None else round(now - self.since, 2),
            "last_recovery_s": None if self.last_recovery_s is None else round(self.last_recovery_s, 3),
            "last_recovered_s_ago": None if self.last_recovered_at is None else round(now - self.last_recovered_at, 1),
        }
