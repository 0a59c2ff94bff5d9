"""What a viewer session remembers about ICE generations and recoveries.

:class:`IceGenerations` decides what a WHEP PATCH is (RFC 9725 section 4.3):
trickle or restart is told by the fragment's credentials, not by ``If-Match``
(some players send ``If-Match: *`` on plain trickle), and a restart is
idempotent per remote credentials: the page retries a restart whose answer was
lost (or sends it twice at once, on a fresh connection, when the kept-alive one
hangs), and must get the same answer, not a second restart.

:class:`RecoveryClock` keeps, per session, since when its path has been broken
and how long the last recovery took, for ``/healthz`` and for the deadline
that ends sessions which do not recover.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from dataclasses import dataclass

Credentials = tuple[str, str]  # (ice-ufrag, ice-pwd)

KEEP_GENERATIONS = 8  # older remote credentials than this are forgotten


def new_etag() -> str:
    return f'"{secrets.token_hex(8)}"'


class PatchKind(enum.Enum):
    TRICKLE = "trickle"  # candidates for the current generation
    STALE = "stale"  # candidates of a generation restarted away since: ignored
    RESTART = "restart"  # new remote credentials: a new generation
    REPEAT = "repeat"  # the latest restart again: the same answer
    PRECONDITION_FAILED = "precondition failed"  # If-Match names an ETag we no longer have


@dataclass
class Restart:
    remote: Credentials
    etag_before: str
    etag: str
    answer: asyncio.Future[str]  # the sdpfrag, once our side is gathered


class IceGenerations:
    def __init__(self, remote: Credentials) -> None:
        self.etag = new_etag()
        self._remotes: list[Credentials] = [remote]
        self.latest: Restart | None = None

    @property
    def current(self) -> Credentials:
        return self._remotes[-1]

    def classify(self, remote: Credentials | None, if_match: str | None) -> PatchKind:
        latest = self.latest
        if latest is not None and remote == latest.remote and if_match in (None, "*", latest.etag_before):
            return PatchKind.REPEAT
        if if_match not in (None, "*", self.etag):
            return PatchKind.PRECONDITION_FAILED
        if remote is None or remote == self.current:
            return PatchKind.TRICKLE
        return PatchKind.STALE if remote in self._remotes else PatchKind.RESTART

    def begin(self, remote: Credentials) -> Restart:
        """Record a restart before its answer exists, so that a concurrent retry finds it."""
        restart = Restart(remote, self.etag, new_etag(), asyncio.get_running_loop().create_future())
        self._remotes = [*self._remotes[-(KEEP_GENERATIONS - 1) :], remote]
        self.etag = restart.etag
        self.latest = restart
        return restart

    def abandon(self, restart: Restart) -> None:
        """Undo :meth:`begin` for a restart that failed before it took effect."""
        if self.latest is restart:
            self._remotes.pop()
            self.etag = restart.etag_before
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

    def status(self, now: float) -> dict:
        return {
            "restarts": self.restarts,
            "recoveries": self.recoveries,
            "recovering_for_s": None if self.since is None else round(now - self.since, 2),
            "last_recovery_s": None if self.last_recovery_s is None else round(self.last_recovery_s, 3),
            "last_recovered_s_ago": None if self.last_recovered_at is None else round(now - self.last_recovered_at, 1),
        }
