"""Debian's coturn (``turnserver``) in a network namespace, configured from docs/examples/turnserver.conf.

The rig fills in the example's ``@NAME@`` placeholders, so the documented configuration is the one the tests run:
TURN over UDP and TCP on 3478 and over TLS on 443 (a certificate made here, for the server's IP
address), REST credentials (``use-auth-secret``), which :meth:`Coturn.credentials` mints with the daemon's
own function.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

from edge.security.tls import make_self_signed
from edge.webrtc.ice_servers import rest_credentials
from testbed.examples import EXAMPLES, fill
from testbed.processes import stop_process

TURNSERVER = "/usr/bin/turnserver"
REALM = "edge.test"
# The sockets it listens on once ready (coturn logs them only when verbose): (ss's netid, port).
LISTENING = {("udp", 3478), ("tcp", 3478), ("tcp", 443)}


class Coturn:
    """``turnserver`` listening on ``address`` inside ``netns``; :meth:`stop` ends it."""

    def __init__(self, netns: str, address: str, directory: Path, timeout: float = 15) -> None:
        self.address = address
        self.secret = secrets.token_hex(16)
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file, key_file = directory / "turn-cert.pem", directory / "turn-key.pem"
        make_self_signed(self.cert_file, key_file, "turn", addresses=(address,))
        self.log_file = directory / "turnserver.log"
        self.config_file = directory / "turnserver.conf"
        values = {
            "PUBLIC_IP": address,
            "CERT_FILE": str(self.cert_file),
            "KEY_FILE": str(key_file),
            "SECRET": self.secret,
            "REALM": REALM,
            "LOG_FILE": str(self.log_file),
        }
        self.config_file.write_text(fill(EXAMPLES / "turnserver.conf", values))
        self._netns = netns
        # --verbose: the log says why a request was refused; its pid file and database stay in directory.
        self.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                netns,
                TURNSERVER,
                "-c",
                str(self.config_file),
                "--verbose",
                "--pidfile",
                str(directory / "turnserver.pid"),
                "--userdb",
                str(directory / "turndb"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_listening(timeout)

    @property
    def urls_by_transport(self) -> dict[str, str]:
        """Every way to reach it, as ``[webrtc] ice_servers`` and RTCIceServer take them, by how."""
        return {
            "udp": f"turn:{self.address}:3478?transport=udp",
            "tcp": f"turn:{self.address}:3478?transport=tcp",
            "tls": f"turns:{self.address}:443?transport=tcp",
        }

    @property
    def urls(self) -> list[str]:
        return list(self.urls_by_transport.values())

    def credentials(self, lifetime_s: float = 3600) -> tuple[str, str]:
        return rest_credentials(self.secret, int(time.time() + lifetime_s))

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._listening() >= LISTENING:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"turnserver did not start listening:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def _listening(self) -> set[tuple[str, int]]:
        command = ["ip", "netns", "exec", self._netns, "ss", "-Hlntu"]
        lines = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.splitlines()
        return {(line.split()[0], int(line.split()[4].rsplit(":", 1)[1])) for line in lines}

    def stop(self) -> None:
        stop_process(self.proc)
