"""Minimal systemd ``sd_notify`` support, with no dependencies.

The daemon runs as a ``Type=notify`` service with ``WatchdogSec=``. systemd passes
the address of its notification socket in ``$NOTIFY_SOCKET`` (a filesystem path, or
an abstract socket written with a leading ``@``) and, when the watchdog is on,
``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``). Messages are newline-separated
``KEY=VALUE`` assignments sent as one ``AF_UNIX`` datagram.

Everything here is a no-op returning ``False`` when not started by systemd, so the
daemon can call it unconditionally::

    notify_ready()                       # once the HTTP server listens
    period = watchdog_period()           # None when the watchdog is off
    ...  every `period` seconds: notify_watchdog()
    notify_stopping()                    # when shutting down

See sd_notify(3) and systemd.service(5).
"""

from __future__ import annotations

import os
import socket

__all__ = [
    "notify",
    "notify_ready",
    "notify_reloading",
    "notify_status",
    "notify_stopping",
    "notify_watchdog",
    "watchdog_period",
]


def _socket_address(value: str) -> str | bytes | None:
    """Translate ``$NOTIFY_SOCKET`` into an address for ``socket.sendto``."""
    if value.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of the '@'.
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    # systemd also accepts "vsock:..." addresses (VMs); not used on a Pi.
    return None


def notify(*lines: str) -> bool:
    """Send ``KEY=VALUE`` lines to systemd's notification socket.

    Returns True when the message was sent, False when not running under a
    notify-aware service manager (``$NOTIFY_SOCKET`` unset or unsupported) or when
    sending failed. Never raises for those cases, so callers need no guards.
    """
    if not lines:
        return False
    value = os.environ.get("NOTIFY_SOCKET")
    if not value:
        return False
    address = _socket_address(value)
    if address is None:
        return False
    payload = "\n".join(lines).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(payload, address)
    except OSError:
        return False
    return True


def notify_ready(status: str | None = None) -> bool:
    """Tell systemd that start-up has finished (``READY=1``), with an optional status."""
    lines = ["READY=1"]
    if status is not None:
        lines.append(f"STATUS={_one_line(status)}")
    return notify(*lines)


def notify_reloading() -> bool:
    """Tell systemd that the service is reloading its configuration (``RELOADING=1``)."""
    return notify("RELOADING=1")


def notify_stopping(status: str | None = None) -> bool:
    """Tell systemd that the service is shutting down (``STOPPING=1``)."""
    lines = ["STOPPING=1"]
    if status is not None:
        lines.append(f"STATUS={_one_line(status)}")
    return notify(*lines)


def notify_status(text: str) -> bool:
    """Set the free-form status line shown by ``systemctl status`` (``STATUS=...``)."""
    return notify(f"STATUS={_one_line(text)}")


def notify_watchdog() -> bool:
    """Ping the service watchdog (``WATCHDOG=1``). Call every :func:`watchdog_period` seconds."""
    return notify("WATCHDOG=1")


def watchdog_period() -> float | None:
    """Seconds between watchdog pings, or None when the watchdog is not enabled.

    systemd sets ``$WATCHDOG_USEC`` to the timeout in microseconds (and
    ``$WATCHDOG_PID`` to the process it is meant for). As sd_watchdog_enabled(3)
    recommends, ping at half the timeout. Returns None if the variables are missing,
    malformed, zero, or meant for another process.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    try:
        timeout = int(usec)
    except ValueError:
        return None
    if timeout <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return timeout / 2 / 1_000_000


def _one_line(text: str) -> str:
    """Status values end at a newline: keep them on one line."""
    return " ".join(text.splitlines())
