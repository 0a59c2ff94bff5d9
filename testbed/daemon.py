"""Run the real daemon (the ``edge`` console script) as a subprocess for tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import requests

EDGE = str(Path(sys.executable).with_name("edge"))

# Tests keep all WebRTC traffic on loopback: the daemon offers only "lo".
LOOPBACK_ONLY = '[webrtc]\ninterfaces = ["lo"]\n'
# Access control is on in tests as it is by default; tests know the token.
TEST_TOKEN = "test-token-0123456789abcdef"


@dataclass
class DaemonProcess:
    proc: subprocess.Popen
    port: int
    directory: Path
    lines: list[str] = field(default_factory=list)

    token: str = TEST_TOKEN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def page_url(self) -> str:
        """The page, logging in with the token (as the URL the daemon prints)."""
        return f"{self.url}/?token={self.token}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """An authenticated request to the daemon's API."""
        kwargs.setdefault("timeout", 10)
        kwargs["headers"] = {**self.auth, **kwargs.get("headers", {})}
        return requests.request(method, self.url + path, **kwargs)

    def health(self) -> dict:
        """The daemon's full status (``/api/status``; ``/healthz`` is the public summary)."""
        return self.request("GET", "/api/status", timeout=5).json()

    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_daemon(
    config_text: str,
    tmp_path: Path,
    *extra_args: str,
    env: dict | None = None,
    simulate: bool = True,
    timeout: float = 30,
    prefix: tuple[str, ...] = (),
    host: str = "127.0.0.1",
) -> DaemonProcess:
    """``prefix`` runs it through another command, e.g. ``("ip", "netns", "exec", name)``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "edge.toml"
    if "[auth]" not in config_text:
        config_text += f'[auth]\ntoken = "{TEST_TOKEN}"\n'
    config.write_text(config_text)
    args = [*prefix, EDGE, "run", "--config", str(config), "--port", "0", "--host", host]
    if simulate:
        args.append("--simulate")
    proc = subprocess.Popen(
        [*args, *extra_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "state"), **(env or {})},
    )
    lines: list[str] = []
    ready = threading.Event()
    port: list[int] = []

    def drain() -> None:
        assert proc.stderr is not None  # stderr=PIPE
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"listening on port (\d+)", line)
            if match:
                port.append(int(match.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(timeout) or not port:
        proc.kill()
        raise RuntimeError("daemon did not start:\n" + "".join(lines))
    return DaemonProcess(proc, port[0], tmp_path, lines)
