"""A WireGuard tunnel between the camera's namespace and the host, as a phone away from home has one.

The camera's namespace (``CameraNamespace``) is linked to the host by a veth
pair: that link stands in for the internet between the Pi's home and the phone.
Over it runs a WireGuard tunnel, one end in the camera's namespace (the Pi's
``wg0``), the other on the host (the phone's), where Chromium runs. Each end is
a ``wireguard-go`` interface (this kernel has no WireGuard module; userspace
WireGuard is the same protocol), configured with ``wg`` from the wg-quick files
in ``docs/examples/`` with their ``${...}`` placeholders filled: keys made by
``wg genkey`` and ``wg pubkey``, addresses in a subnet the host does not use,
the phone's ``Endpoint`` the camera's veth address. The docs show exactly what
is tested. The rig does what ``wg-quick up`` does with those files (``wg
setconf`` with ``wg-quick strip``, the ``Address``, the link up) without
touching anything else of the host.

Everything is named after the namespace's unique tag and removed in
:meth:`WireGuardTunnel.close`; packets only go through the veth pair and the
tunnel made here.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

from testbed.netns.topology import CameraNamespace, Link, free_subnets, ip

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "docs" / "examples"
CAMERA_EXAMPLE = EXAMPLES / "wireguard-camera.conf"
PHONE_EXAMPLE = EXAMPLES / "wireguard-phone.conf"
UAPI_DIR = Path("/var/run/wireguard")  # where wireguard-go puts the socket wg talks to
START_TIMEOUT_S = 10


def wg(*args: str, ns: str | None = None, stdin: str | None = None) -> str:
    command = [*(("ip", "netns", "exec", ns) if ns else ()), "wg", *args]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result.stdout.strip()


@dataclass(frozen=True)
class KeyPair:
    private: str
    public: str

    @classmethod
    def generate(cls) -> KeyPair:
        private = wg("genkey")
        return cls(private, wg("pubkey", stdin=private))


class WireGuardEnd:
    """One end of the tunnel: a ``wireguard-go`` interface in namespace ``ns`` (None: the host's).

    :meth:`up` does what ``wg-quick up`` would with ``config`` (a wg-quick file);
    :meth:`close` ends wireguard-go, which takes its interface along.
    """

    def __init__(self, interface: str, ns: str | None, config: Path) -> None:
        self.interface = interface
        self.ns = ns
        self.config = config
        self.address, self._prefix_length = _address(config.read_text())
        self._process: subprocess.Popen[bytes] | None = None

    def up(self) -> None:
        prefix = ("ip", "netns", "exec", self.ns) if self.ns else ()
        self._process = subprocess.Popen(
            [*prefix, "wireguard-go", "--foreground", self.interface],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_for_socket()
        stripped = subprocess.run(
            ["wg-quick", "strip", str(self.config)], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        wg("setconf", self.interface, "/dev/stdin", ns=self.ns, stdin=stripped)
        ip("addr", "add", f"{self.address}/{self._prefix_length}", "dev", self.interface, ns=self.ns)
        ip("link", "set", self.interface, "up", ns=self.ns)

    def _wait_for_socket(self) -> None:
        """wireguard-go makes its interface, then the socket ``wg`` configures it through."""
        socket = UAPI_DIR / f"{self.interface}.sock"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not socket.exists():
            assert self._process is not None, "started by up()"
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"wireguard-go did not make {self.interface} (exit code {self._process.poll()})")
            time.sleep(0.01)

    @property
    def pid(self) -> int:
        assert self._process is not None, "started by up()"
        return self._process.pid

    def received_bytes(self) -> int:
        """What came out of the tunnel at this end (``wg show transfer``: after decryption)."""
        (line,) = wg("show", self.interface, "transfer", ns=self.ns).splitlines()
        return int(line.split()[1])

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _address(config: str) -> tuple[str, int]:
    """The ``Address`` of a wg-quick file: the address and its prefix length."""
    match = re.search(r"^Address\s*=\s*([0-9.]+)/([0-9]+)", config, re.MULTILINE)
    if match is None:
        raise ValueError("a wg-quick file without an IPv4 Address")
    return match.group(1), int(match.group(2))


class WireGuardTunnel:
    """The camera's end (``camera``, in its namespace) and the phone's (``phone``, the host's), not yet up.

    ``link`` carries the tunnel's packets: the phone dials the camera's address on it.
    Each end is brought up on its own (``camera.up()``, ``phone.up()``), in either order.
    """

    def __init__(self, netns: CameraNamespace, link: Link, directory: Path) -> None:
        (subnet,) = free_subnets(1)
        camera_keys, phone_keys = KeyPair.generate(), KeyPair.generate()
        values = {
            "CAMERA_TUNNEL_IP": str(subnet.network_address + 1),
            "PHONE_TUNNEL_IP": str(subnet.network_address + 2),
            "CAMERA_PRIVATE_KEY": camera_keys.private,
            "CAMERA_PUBLIC_KEY": camera_keys.public,
            "PHONE_PRIVATE_KEY": phone_keys.private,
            "PHONE_PUBLIC_KEY": phone_keys.public,
            "HOME_ADDRESS": link.camera_address,
        }
        directory.mkdir(parents=True, exist_ok=True)
        ends = []
        for example, interface, ns in (
            (CAMERA_EXAMPLE, f"ecw{netns.tag}", netns.name),
            (PHONE_EXAMPLE, f"ecp{netns.tag}", None),
        ):
            config = directory / f"{interface}.conf"  # wg-quick names the interface after the file
            config.touch(mode=0o600)
            config.write_text(Template(example.read_text()).substitute(values))
            ends.append(WireGuardEnd(interface, ns, config))
        self.camera, self.phone = ends

    def close(self) -> None:
        self.phone.close()
        self.camera.close()
