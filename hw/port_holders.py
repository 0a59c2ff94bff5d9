"""Who listens on a TCP port: Linux's socket tables (``/proc/net/tcp``, ``tcp6``) and each process's descriptors.

A listening socket's line in the table gives its inode; a process holds it when one of
``/proc/<pid>/fd/*`` links to ``socket:[<inode>]``. Other users' processes cannot be looked
into without root: then the port is known to be in use, by nobody named.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN, as the tables write a socket's state


@dataclass(frozen=True)
class PortHolder:
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
    links = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for process in sorted(proc.glob("[0-9]*"), key=lambda p: int(p.name)):
        with contextlib.suppress(OSError):  # not ours to read, or gone meanwhile
            if any(_link(fd) in links for fd in (process / "fd").iterdir()):
                holders.append(_holder(process))
    return PortUse(port, tuple(holders))


def _link(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed meanwhile
        return ""
