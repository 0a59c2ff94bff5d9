"""What the rigs that run a server process share: a free loopback port for it, and stopping it."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A TCP port free on loopback now (a server started right after takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout``; nothing if it already ended."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
