"""Who may open an RTSP connection: at most ``max_clients`` in all, ``max_clients_per_address`` from one address.

Every connection holds a file descriptor until it is closed, and the process shares its
descriptors with the HTTP server, the viewers and the recordings: RTSP gets at most a
quarter of them (:func:`client_budget`), whatever the settings say.
"""

from __future__ import annotations

import resource
from collections.abc import Iterable
from dataclasses import dataclass

from edge.security.ratelimit import source_of

FD_SHARE = 4  # RTSP connections may hold at most 1/FD_SHARE of the process's file descriptors


def fd_limit() -> int | None:
    """The process's soft limit on open files (systemd's ``LimitNOFILE``); None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def client_budget(max_clients: int, limit: int | None) -> int:
    """``max_clients``, lowered to a quarter of the file descriptor limit when that is smaller."""
    return max_clients if limit is None else max(1, min(max_clients, limit // FD_SHARE))


@dataclass(frozen=True)
class Admission:
    max_clients: int
    per_address: int

    def refusal(self, ip: str, open_ips: Iterable[str]) -> str | None:
        """Why a connection from ``ip`` is refused while ``open_ips`` are connected; None: let it in."""
        keys = [source_of(open_ip) for open_ip in open_ips]
        if len(keys) >= self.max_clients:
            return f"{len(keys)} connections open (rtsp.max_clients)"
        key = source_of(ip)
        if keys.count(key) >= self.per_address:
            return f"{keys.count(key)} connections open from {key} (rtsp.max_clients_per_address)"
        return None
