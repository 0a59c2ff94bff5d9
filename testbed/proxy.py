"""Debian's nginx and Caddy as a reverse proxy with TLS in front of the daemon, at ``/cam/``.

Each runs the configuration the documentation shows (``docs/examples/nginx-cam.conf``,
``docs/examples/Caddyfile``) with its ``@NAME@`` placeholders filled in: a loopback port of
its own, a self-signed certificate the test makes (:class:`Certificate`), an access log in the
rig's folder. The rig's own
part around it (nginx's main context, Caddy's global options) only keeps the server to that
folder: no pid file, log, temporary file or certificate storage of the system's is touched,
nothing listens on port 80 or 443, Caddy's admin endpoint is off.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge.security.tls import make_self_signed
from testbed.certificates import spki_sha256
from testbed.examples import EXAMPLES, fill
from testbed.processes import free_port, stop_process

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
PREFIX = "/cam"


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 (and localhost), made by the test."""

    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> Certificate:
        certificate = cls(directory / "cert.pem", directory / "key.pem")
        make_self_signed(certificate.cert, certificate.key, "home")
        return certificate

    def spki_sha256(self) -> str:
        """Its public key's hash, as Chromium's ``--ignore-certificate-errors-spki-list`` takes it."""
        return spki_sha256(self.cert)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # with its query
    status: int


class Proxy(ABC):
    """One proxy server process in ``directory``: ``url`` is the camera's page through it."""

    name: str

    def __init__(self, directory: Path, camera_port: int, certificate: Certificate) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = free_port()
        self.camera = f"127.0.0.1:{camera_port}"
        self.cert, self.key = certificate.cert, certificate.key
        self.access_log = directory / "access.log"
        self.output = directory / f"{self.name}.out"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The camera's page through the proxy (no token)."""
        return f"https://127.0.0.1:{self.port}{PREFIX}/"

    @abstractmethod
    def command(self) -> list[str]:
        """Writes the configuration (:meth:`site` and the rig's own part) and returns the command that runs it."""

    def site(self, example: str, **values: str) -> Path:
        """The example of ``docs/examples`` filled in for this rig, written beside it."""
        path = self.directory / f"cam-{example}"
        common = {
            "CERT": str(self.cert),
            "KEY": str(self.key),
            "CAMERA": self.camera,
            "ACCESS_LOG": str(self.access_log),
        }
        path.write_text(fill(EXAMPLES / example, {**common, **values}))
        return path

    @abstractmethod
    def requests(self) -> list[LoggedRequest]:
        """Every request the proxy has logged so far, in order."""

    def start(self, timeout: float = 20) -> None:
        with self.output.open("w") as out:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.directory, env=self.environment()
            )
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.output.read_text(errors='replace')}")
            time.sleep(0.05)

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        stop_process(self.proc)


class Nginx(Proxy):
    name = "nginx"

    def command(self) -> list[str]:
        server = self.site("nginx-cam.conf", LISTEN=f"127.0.0.1:{self.port}", SERVER_NAME="127.0.0.1")
        temp = self.directory / "temp"
        temp.mkdir(exist_ok=True)
        # Workers run as whoever runs the test (root: else nginx's "nobody", which cannot enter
        # the test's folder); nginx ignores the line when not started by root.
        main = self.directory / "nginx.conf"
        main.write_text(
            f"daemon off;\nuser {getpass.getuser()};\nworker_processes 1;\npid {self.directory / 'nginx.pid'};\n"
            f"error_log {self.directory / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {temp / kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + f"    include {server};\n}}\n"
        )
        return [NGINX, "-p", str(self.directory), "-e", str(self.directory / "error.log"), "-c", str(main)]

    def requests(self) -> list[LoggedRequest]:
        """From nginx's combined format: ``... "GET /cam/ HTTP/1.1" 200 ...``."""
        found = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            match = re.search(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) ', line)
            if match:
                found.append(LoggedRequest(match[1], match[2], int(match[3])))
        return found


class Caddy(Proxy):
    name = "caddy"

    def command(self) -> list[str]:
        site = self.site("Caddyfile", SITE=f"127.0.0.1:{self.port}")
        main = self.directory / "Caddyfile"
        main.write_text(
            "{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n"
            f"\tstorage file_system {self.directory / 'storage'}\n}}\n\nimport {site}\n"
        )
        return [CADDY, "run", "--adapter", "caddyfile", "--config", str(main)]

    def environment(self) -> dict[str, str]:
        # Caddy's own files (autosave, certificates) go here, not to the user's home.
        return {**os.environ, "XDG_CONFIG_HOME": str(self.directory), "XDG_DATA_HOME": str(self.directory)}

    def requests(self) -> list[LoggedRequest]:
        """From Caddy's JSON access log: one object per line."""
        found = []
        for line in self.access_log.read_text(errors="replace").splitlines():
            entry = json.loads(line)
            request = entry["request"]
            found.append(LoggedRequest(request["method"], request["uri"], int(entry["status"])))
        return found


@contextmanager
def running(proxy: Proxy) -> Iterator[Proxy]:
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


__all__ = ["PREFIX", "Caddy", "Certificate", "LoggedRequest", "Nginx", "Proxy", "running"]
