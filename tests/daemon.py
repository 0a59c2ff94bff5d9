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


@dataclass
class DaemonProcess:
    proc: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict:
        return requests.get(self.url + "/healthz", timeout=5).json()

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


def start_daemon(config_text: str, tmp_path: Path, *extra_args: str, env: dict | None = None,
                 simulate: bool = True, timeout: float = 30) -> DaemonProcess:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "edge.toml"
    config.write_text(config_text)
    args = [EDGE, "run", "--config", str(config), "--port", "0", "--host", "127.0.0.1"]
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
    return DaemonProcess(proc, port[0], lines)
