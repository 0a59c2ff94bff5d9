"""Debian's Janus (1.1.2) as a child with a generated configuration, for ``bench/janus.py`` (the
streaming plugin over HTTP) and the WHIP rig (``testbed/whip_rig.py``: VideoRoom over WebSockets).

Debian 12's ``janus`` package when installed; else (Debian 13 has none) Debian 12's, unpacked by
``image/lib/janus-root.sh`` (``make test`` does it; ``$EDGE_JANUS_ROOT``, default
``<venv>/janus``) and run with its own libraries first on ``LD_LIBRARY_PATH`` (docs/whip.md).

Only the plugins and transports asked for are loaded (linked from Debian's), their configuration
files are the caller's, and there is no STUN/TURN server: ICE is kept to one address, and mDNS
candidates are ignored. Janus 1.1.2 never gathers on a loopback interface (``ice.c``), and
``ice_enforce_list = "lo"`` makes libnice fall back to every interface (docs/whip.md), so that
address is one of the host's own, which the kernel routes through ``lo`` all the same.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

JANUS_ROOT = Path(os.environ.get("EDGE_JANUS_ROOT", Path(sys.prefix) / "janus"))
# Debian's package (on PATH) when installed, else the unpacked one when complete.
_UNPACKED = shutil.which("janus") is None and (JANUS_ROOT / ".complete").exists()
_PREFIX = JANUS_ROOT if _UNPACKED else Path("/")
JANUS = str(JANUS_ROOT / "usr/bin/janus") if _UNPACKED else shutil.which("janus") or "/usr/bin/janus"
# The plugins and transports directories are under <prefix>/usr/lib/<triplet>/janus.
JANUS_LIBS = next((p.parent for p in (_PREFIX / "usr/lib").glob("*/janus/plugins")), None)
# The unpacked janus finds Debian 12's libraries it came with first (the others are the system's).
JANUS_ENV = {"LD_LIBRARY_PATH": str(JANUS_LIBS.parent)} if _UNPACKED and JANUS_LIBS is not None else {}
# janus.js of the same release (libjs-janus-gateway), for testbed/janus_viewer.py.
JANUS_JS = _PREFIX / "usr/share/javascript/janus-gateway/janus.js"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing uses on 127.0.0.1 now (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    directory: Path, plugins: Sequence[str], transports: Sequence[str], ice_address: str, server_name: str
) -> None:
    """``janus.jcfg`` in ``directory``, loading only ``plugins`` and ``transports`` (Debian's, by file name)."""
    if JANUS_LIBS is None:
        raise RuntimeError(f"Janus is not installed: make test-deps installs it (or unpacks it into {JANUS_ROOT})")
    for kind, names in (("plugins", plugins), ("transports", transports)):
        (directory / kind).mkdir()
        for name in names:
            (directory / kind / name).symlink_to(JANUS_LIBS / kind / name)
    (directory / "empty").mkdir()
    (directory / "janus.jcfg").write_text(f"""general: {{
    configs_folder = "{directory}"
    plugins_folder = "{directory}/plugins"
    transports_folder = "{directory}/transports"
    events_folder = "{directory}/empty"
    loggers_folder = "{directory}/empty"
    debug_level = 4
    debug_timestamps = true
    debug_colors = false
    server_name = "{server_name}"
    session_timeout = 60
}}
certificates: {{
}}
media: {{
    ipv6 = false
    rtp_port_range = "20000-40000"
}}
nat: {{
    ice_enforce_list = "{ice_address}"
    ignore_mdns = true
    full_trickle = false
}}
plugins: {{
}}
transports: {{
}}
events: {{
    broadcast = false
}}
loggers: {{
}}
""")


class JanusProcess:
    """Janus run on the configuration in ``directory``; ``port`` is a TCP port of one of its transports.

    It can be started again after it stopped or was killed (same configuration, same ports); its
    output, of every run, is appended to ``janus.log`` there.
    """

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "janus.log"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("Janus was never started")
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 20) -> None:
        """Returns once the transport on ``port`` has started (Janus loads its plugins before its transports).

        Its log line, not a connection, tells: another process could hold the port.
        """
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("Janus is already running")
        # "Websockets server started (port N)...", "HTTP webserver started (port N, /janus path listener)..."
        ready = f"started (port {self.port}"
        before = self.log().count(ready)
        with self.log_path.open("a") as log:
            args = [JANUS, "-F", str(self.directory), "-P", str(self.directory / "plugins")]
            env = {**os.environ, **JANUS_ENV}
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while self.log().count(ready) == before:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"Janus did not start its transport on port {self.port}:\n" + self.log()[-3000:])
            time.sleep(0.02)

    def send_signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and reaped."""
        if self.proc is not None:
            self.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Janus closes its PeerConnections: DTLS alerts), SIGKILL after ``timeout``."""
        if self.proc is None:
            return
        self.send_signal(signal.SIGCONT)  # a frozen Janus would not act on SIGTERM
        self.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
