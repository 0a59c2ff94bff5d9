"""A WHIP server for the publisher's tests: Debian's simple-whip-server in front of Debian's Janus
(VideoRoom plugin, WebSocket transport), both children on loopback (docs/whip.md). On Debian 13,
which has no Janus, Debian 12's is unpacked (``testbed/janus.py``).

- Janus (``testbed/janus.py``) loads only the VideoRoom plugin and the WebSocket transport
  (127.0.0.1, a free port), with one static room (H.264 and Opus, one publisher): a configured
  room is back after a Janus restart, and simple-whip-server never creates rooms.
- Its ICE is kept to one address of the host's own. Janus never gathers on loopback, so by
  default the rig makes a veth pair ``whipXXXX`` with a /32 address, which the kernel routes
  through ``lo`` (root needed), and removes it on :meth:`WhipServer.close`; a test whose camera
  is in a network namespace passes the host side's address of its link instead (as ``host``
  too, for the WHIP server to be reachable from there).
- A publisher on this host needs a host candidate other than loopback: Janus never answers
  checks from 127.0.0.1 (aiortc offering only "lo" stays ``checking``), while aiortc offering
  only the rig's veth (:attr:`WhipServer.interface`) connects.
- simple-whip-server is unpacked from Debian's packages by ``image/lib/whip-server-root.sh``
  (``make test`` does it; ``$EDGE_WHIP_SERVER_ROOT``, default ``<venv>/simple-whip-server``) and
  run with the ``node`` on PATH. Its ``config.js`` is read from beside ``server.js``, so both are
  copied into the rig's directory; a preload keeps its listening socket on one address.
- Endpoints live only in the server's memory: :meth:`WhipServer.create_endpoint` makes one.

Everything is killed and removed on :meth:`WhipServer.close` (idempotent; the context manager
calls it), whatever state the children were left in.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import pytest
import requests

from testbed.janus import JANUS, JANUS_LIBS, JANUS_ROOT, JanusProcess, free_port, write_config
from testbed.netns.topology import ip

WHIP_SERVER_ROOT = Path(os.environ.get("EDGE_WHIP_SERVER_ROOT", Path(sys.prefix) / "simple-whip-server"))
WHIP_SERVER_SRC = Path("usr/share/simple-whip-server/src")  # in the root
REST = "/whip"
DEFAULT_ROOM = 1234

# simple-whip-server listens on every interface and has no option for the host: ``-r ./bind.js``.
BIND_JS = """const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, HOST);
  }
  return listen.apply(this, args);
};
"""
# Its log (the ``debug`` module, on stderr) without each message to and from Janus.
DEBUG = "whip:*,janus:*,-janus:vdebug"
# Logged each time it has a session with Janus again (first start, and after Janus came back).
CONNECTED = "Connected to Janus:"


def _unused_address() -> str:
    """An address in 10.254.0.0/16 that no interface holds and no route but the default covers."""
    taken = [
        ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False)
        for link in json.loads(ip("-4", "-j", "addr"))
        for a in link.get("addr_info", [])
    ]
    taken += [
        ipaddress.IPv4Network(r["dst"], strict=False)
        for r in json.loads(ip("-4", "-j", "route", "show", "table", "all"))
        if r.get("dst", "default") != "default"
    ]
    while True:
        address = ipaddress.IPv4Address(f"10.254.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}")
        if not any(address in network for network in taken):
            return str(address)


class IceInterface:
    """A veth pair, both ends up, with a /32 of the host's on ``name``: Janus's ICE address.

    Packets to that address never leave the host (``ip route get`` says ``local ... dev lo``).
    """

    def __init__(self) -> None:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            pytest.fail("the WHIP rig makes a veth for Janus's ICE: it needs root and iproute2 (run make test as root)")
        self.name = f"whip{secrets.token_hex(2)}"
        self.address = _unused_address()
        ip("link", "add", self.name, "type", "veth", "peer", "name", f"{self.name}p")
        try:
            ip("addr", "add", f"{self.address}/32", "dev", self.name)
            ip("link", "set", f"{self.name}p", "up")
            ip("link", "set", self.name, "up")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Removes both ends (deleting one removes its peer)."""
        subprocess.run(["ip", "link", "del", self.name], capture_output=True, timeout=10)


def _check_installed() -> None:
    if not Path(JANUS).exists() or JANUS_LIBS is None:
        pytest.fail(f"Janus is not installed: make test-deps installs it (or unpacks it into {JANUS_ROOT})")
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: apt-get install nodejs (make test installs it)")
    if not (WHIP_SERVER_ROOT / ".complete").exists():
        pytest.fail(
            f"simple-whip-server is not unpacked in {WHIP_SERVER_ROOT}: make test-deps does it"
            f" (bash image/lib/whip-server-root.sh {WHIP_SERVER_ROOT})"
        )


def _janus_configs(directory: Path, ws_port: int, ice_address: str, room: int) -> None:
    write_config(directory, ["libjanus_videoroom.so"], ["libjanus_websockets.so"], ice_address, "whip-rig")
    (directory / "janus.transport.websockets.jcfg").write_text(f"""general: {{
    json = "plain"
    ws = true
    ws_port = {ws_port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
""")
    (directory / "janus.plugin.videoroom.jcfg").write_text(f"""general: {{
}}
room-{room}: {{
    description = "whip test room"
    publishers = 1
    bitrate = 4000000
    fir_freq = 2
    audiocodec = "opus"
    videocodec = "h264"
}}
""")


class WhipServer:
    """simple-whip-server and Janus, started at once; see the module's docstring.

    ``ice_address``: Janus's only ICE address (default: a veth made here, root needed).
    ``host``: the address simple-whip-server listens on (Janus's WebSocket stays on 127.0.0.1).
    ``directory``: where configurations and logs go, kept afterwards (default: a temporary
    directory, removed on close). ``timeout``: for each start.
    """

    def __init__(
        self,
        *,
        ice_address: str | None = None,
        host: str = "127.0.0.1",
        room: int = DEFAULT_ROOM,
        directory: Path | None = None,
        timeout: float = 20,
    ) -> None:
        _check_installed()
        self.room = room
        self.host = host
        self.timeout = timeout
        self._temporary = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="whip-rig-")) if directory is None else directory
        self.ws_port, self.port = free_port(), free_port()
        self.janus = JanusProcess(self.directory / "janus", self.ws_port)
        self._interface: IceInterface | None = None
        self.interface: str | None = None  # the veth's name, when the rig made one: for a publisher's host candidates
        self._node: subprocess.Popen | None = None
        self._closed = False
        try:
            if ice_address is None:
                self._interface = IceInterface()
                self.interface, ice_address = self._interface.name, self._interface.address
            self.ice_address = ice_address
            self.janus.directory.mkdir(parents=True)
            _janus_configs(self.janus.directory, self.ws_port, ice_address, room)
            self.janus.start(timeout)
            self._start_whip_server()
        except BaseException:
            self.close()
            raise

    @property
    def janus_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def url(self) -> str:
        """The REST base: ``/create``, ``/endpoint/<id>`` (WHIP), ``/resource/<id>`` (a session)."""
        return f"http://{self.host}:{self.port}{REST}"

    @property
    def _whip_log_path(self) -> Path:
        return self.directory / "whip-server" / "whip-server.log"

    def _start_whip_server(self) -> None:
        work = self.directory / "whip-server"
        work.mkdir()
        for name in ("server.js", "whip-janus.js"):
            shutil.copy(WHIP_SERVER_ROOT / WHIP_SERVER_SRC / name, work / name)
        config = {
            "janus": {"address": self.janus_ws_url},
            "port": self.port,
            "rest": REST,
            "allowTrickle": True,
            "strictETags": False,
            "iceServers": [],
        }
        (work / "config.js").write_text(f"module.exports = {json.dumps(config)};\n")
        (work / "bind.js").write_text(BIND_JS.replace("HOST", json.dumps(self.host)))
        modules = [WHIP_SERVER_ROOT / "usr/share/nodejs", *WHIP_SERVER_ROOT.glob("usr/lib/*/nodejs")]
        env = {**os.environ, "NODE_PATH": ":".join(map(str, modules)), "DEBUG": DEBUG, "FORCE_COLOR": "0"}
        with self._whip_log_path.open("w") as log:
            node = shutil.which("node") or "node"
            args = [node, "-r", "./bind.js", "server.js"]
            self._node = subprocess.Popen(args, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while self._node.poll() is None and time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthcheck", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass  # it listens only once it has a session with Janus
            time.sleep(0.05)
        raise RuntimeError(
            f"simple-whip-server did not answer within {self.timeout} s:\n{self.whip_log()[-3000:]}"
            f"\nJanus:\n{self.janus_log()[-2000:]}"
        )

    def create_endpoint(self, endpoint_id: str, room: int | None = None, token: str | None = None) -> str:
        """A WHIP endpoint publishing into ``room`` (default: the rig's), with a Bearer ``token`` if given.

        Returns its URL, ``<url>/endpoint/<endpoint_id>``; its sessions' ``Location`` is always
        ``/whip/resource/<endpoint_id>``.
        """
        body: dict[str, str | int] = {"id": endpoint_id, "room": self.room if room is None else room}
        if token is not None:
            body["token"] = token
        response = requests.post(f"{self.url}/create", json=body, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"POST {REST}/create {body}: {response.status_code} {response.text}")
        return f"{self.url}/endpoint/{endpoint_id}"

    # --- failures the publisher must survive (docs/whip.md) ---------------------------------

    def kill_janus(self) -> None:
        """SIGKILL: no DTLS alert, the publisher is not told. simple-whip-server keeps its endpoints
        (their sessions end) and answers POSTs with 503 until Janus is back."""
        self.janus.kill()

    def start_janus(self, wait_for_whip_server: bool = True) -> None:
        """Janus again, with the same configuration and ports; by default, returns only once
        simple-whip-server has a session with it again (it retries every 2 s)."""
        connected = self.whip_log().count(CONNECTED)
        self.janus.start(self.timeout)
        if not wait_for_whip_server:
            return
        deadline = time.monotonic() + self.timeout
        while self.whip_log().count(CONNECTED) == connected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"simple-whip-server did not reconnect to Janus:\n{self.whip_log()[-3000:]}")
            time.sleep(0.05)

    def freeze_janus(self) -> None:
        """SIGSTOP: POSTs to simple-whip-server then hang for good (it has no timeout towards Janus)."""
        self.janus.send_signal(signal.SIGSTOP)

    def thaw_janus(self) -> None:
        self.janus.send_signal(signal.SIGCONT)

    def freeze_whip_server(self) -> None:
        """SIGSTOP: TCP connections are accepted (by the kernel), and never answered."""
        self._signal_node(signal.SIGSTOP)

    def thaw_whip_server(self) -> None:
        self._signal_node(signal.SIGCONT)

    def _signal_node(self, sig: int) -> None:
        if self._node is not None and self._node.poll() is None:
            self._node.send_signal(sig)

    # --- for failure messages ---------------------------------------------------------------

    def janus_log(self) -> str:
        """Janus's output, of every start."""
        return self.janus.log()

    def whip_log(self) -> str:
        """simple-whip-server's output: its ``debug`` log, ISO timestamps."""
        path = self._whip_log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._node is not None and self._node.poll() is None:
            self._node.kill()  # works on a frozen process too
            self._node.wait()
        self.janus.stop(timeout=5)
        if self._interface is not None:
            self._interface.close()
        if self._temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> WhipServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
