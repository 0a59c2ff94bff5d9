"""Who listens on a TCP port (or holds a device open): the socket tables and each process's descriptors.

A listening socket's line in the table gives its inode; a process holds it when one of
``/proc/<pid>/fd/*`` links to ``socket:[<inode>]``. Other users' processes cannot be looked
into without root: then the port is known to be in use, by nobody named.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN, as the tables write a socket's state


@dataclass(frozen=True)
class PortHolder:
    """A process holding a port (or a device: :func:`processes_holding`)."""

    pid: int
    name: str  # the process's command name (``/proc/<pid>/comm``)
    cmdline: tuple[str, ...]  # empty when it cannot be read


@dataclass(frozen=True)
class PortUse:
    """A TCP port something listens on, and the processes seen holding it (none when they cannot be seen)."""

    port: int
    holders: tuple[PortHolder, ...]

    def __str__(self) -> str:
        """``port 8554 is in use (by mediamtx, pid 1234)``, or without the parenthesis when no holder is known."""
        if not self.holders:
            return f"port {self.port} is in use"
        by = ", ".join(f"{holder.name}, pid {holder.pid}" for holder in self.holders)
        return f"port {self.port} is in use (by {by})"


def listening_inodes(port: int, proc: Path = PROC) -> set[str]:
    """The inodes of the sockets listening on TCP ``port``, IPv4 and IPv6, any address."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):  # no IPv6 in this kernel
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                    inodes.add(fields[9])
    return inodes


def _holder(process: Path) -> PortHolder:
    name = cmdline = ""
    with contextlib.suppress(OSError):
        name = (process / "comm").read_text().strip()
        cmdline = (process / "cmdline").read_text()
    return PortHolder(int(process.name), name, tuple(arg for arg in cmdline.split("\0") if arg))


def port_use(port: int, proc: Path = PROC) -> PortUse | None:
    """What listens on TCP ``port``; None when nothing does."""
    inodes = listening_inodes(port, proc)
    if not inodes:
        return None
    return PortUse(port, tuple(processes_holding({f"socket:[{inode}]" for inode in inodes}, proc)))


def processes_holding(links: Collection[str], proc: Path = PROC) -> dict[PortHolder, tuple[str, ...]]:
    """The processes with a descriptor on any of ``links`` (what ``/proc/<pid>/fd/*`` point at: a
    ``socket:[inode]``, a device such as ``/dev/video0``), each with those it holds, in pid order.
    Processes this user may not look into are left out."""
    wanted = set(links)
    held = {}
    for process in sorted(proc.glob("[0-9]*"), key=lambda p: int(p.name)):
        with contextlib.suppress(OSError):  # not ours to read, or gone meanwhile
            found = wanted.intersection(_link(fd) for fd in (process / "fd").iterdir())
            if found:
                held[_holder(process)] = tuple(sorted(found))
    return held


def _link(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed meanwhile
        return ""
