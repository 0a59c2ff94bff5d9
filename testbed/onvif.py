"""ONVIF clients for the tests, as Home Assistant's ONVIF integration uses them.

- :func:`onvif_camera`: onvif-zeep-async's ``ONVIFCamera`` (the version HA pins), with its
  bundled WSDLs and no cache (as HA makes it).
- :class:`ProbeNamespace`: a network namespace joined to a camera's namespace by a veth pair,
  where :func:`ws_discovery` (HA's config flow's probe, the ``WSDiscovery`` library) runs in a
  subprocess: its multicast stays between the two namespaces.
- :func:`soap` and :func:`username_token`: raw SOAP 1.2 requests, for what no well-behaved
  client sends (replays, stale digests, hostile documents).
- :func:`hostile_probes`: what a hostile LAN sends to WS-Discovery (oversized, entity, IPv6,
  floods, probes to an address discovery is not on), run in a :class:`ProbeNamespace`;
  :func:`flood_probes`: probes at line rate, from one.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from testbed.netns.topology import CameraNamespace, free_subnets, ip, sysctl

ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
SOAP_TYPE = "application/soap+xml; charset=utf-8"
NETWORK_VIDEO_TRANSMITTER = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dp0")
PROFILE_STREAMING = "onvif://www.onvif.org/Profile/Streaming"
# A daemon with ONVIF on; WS-Discovery off: it multicasts, which only tests in namespaces may do.
ONVIF_CONFIG = "[onvif]\nenabled = true\ndiscovery = false\n[rtsp]\nenabled = true\nport = 0\n"


def onvif_camera(host: str, port: int, user: str | None, password: str | None) -> Any:
    """onvif-zeep-async's camera client, made as Home Assistant's ``get_device`` makes it."""
    import onvif
    from onvif import ONVIFCamera

    wsdl = os.path.join(os.path.dirname(onvif.__file__), "wsdl") + "/"
    return ONVIFCamera(host, port, user, password, wsdl, no_cache=True)


def username_token(user: str, password: str, nonce: bytes | None = None, created: str | None = None) -> str:
    """A WS-Security header with a UsernameToken PasswordDigest (the nonce and created given or fresh)."""
    nonce = nonce if nonce is not None else secrets.token_bytes(16)
    created = created or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def soap(body: str, header: str = "") -> bytes:
    """A SOAP 1.2 envelope; ``tds`` and ``trt`` are declared for the body."""
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{ENV}" xmlns:tds="{TDS}" xmlns:trt="{TRT}">'
        f"{head}<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def answers_soap(xaddr: str) -> bool:
    """Whether the device service at ``xaddr`` answers GetSystemDateAndTime (what a client asks first)."""
    request = urllib.request.Request(
        xaddr, data=soap("<tds:GetSystemDateAndTime/>"), headers={"Content-Type": SOAP_TYPE}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200 and b"GetSystemDateAndTimeResponse" in response.read()
    except OSError:
        return False


def ws_discovery(timeout: float) -> list[dict[str, Any]]:
    """Home Assistant's probe (``homeassistant/components/onvif/config_flow.py``: ``wsdiscovery``).

    ``reachable``: whether the first XAddr, the one HA takes, answers from here.
    """
    from wsdiscovery.discovery import ThreadedWSDiscovery
    from wsdiscovery.qname import QName
    from wsdiscovery.scope import Scope

    discovery = ThreadedWSDiscovery(ttl=4, relates_to=True)
    try:
        discovery.start()
        services = discovery.searchServices(
            types=[QName(*NETWORK_VIDEO_TRANSMITTER)], scopes=[Scope(PROFILE_STREAMING)], timeout=timeout
        )
    finally:
        discovery.stop()
    return [
        {
            "epr": service.getEPR(),
            "xaddrs": list(service.getXAddrs()),
            "scopes": [scope.getValue() for scope in service.getScopes()],
            "types": [f"{{{t.getNamespace()}}}{t.getLocalname()}" for t in service.getTypes()],
            "reachable": answers_soap(service.getXAddrs()[0]),
        }
        for service in services
    ]


def home_assistant_lists(scopes: list[str]) -> dict[str, str]:
    """The name and hardware HA's config flow lists a discovered camera by: what follows the scope's last "/", as is
    (``homeassistant/components/onvif/config_flow.py``, ``async_discovery``, in 2026.2.3)."""
    seen = {}
    for scope in scopes:
        for key in ("name", "hardware"):
            if scope.lower().startswith(f"onvif://www.onvif.org/{key}"):
                seen[key] = scope.split("/")[-1]
    return seen


def probe_message(message_id: str | None = None, padding: int = 0) -> bytes:
    """Home Assistant's probe as the ``WSDiscovery`` library writes it; ``padding`` spaces after it."""
    from wsdiscovery.actions import constructProbe, createProbeMessage
    from wsdiscovery.qname import QName
    from wsdiscovery.scope import Scope

    probe = constructProbe([QName(*NETWORK_VIDEO_TRANSMITTER)], [Scope(PROFILE_STREAMING)])
    if message_id is not None:
        probe.setMessageId(message_id)
    return (createProbeMessage(probe) + " " * padding).encode()


def entity_probe() -> bytes:
    """A probe whose MessageID is a billion laughs: ten levels of ten entities, 10 GB once expanded."""
    levels = ['<!ENTITY l0 "ha">'] + [f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10)]
    declaration, rest = probe_message("urn:uuid:&l9;").decode().split("\n", 1)
    return f"{declaration}\n<!DOCTYPE s:Envelope [{''.join(levels)}]>\n{rest}".encode()


class Prober:
    """A UDP socket sending probes and reading the answers' RelatesTo, in order."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(("", 0))
        self.largest_answer = 0

    def send(self, payload: bytes, to: str) -> None:
        self._sock.sendto(payload, (to, 3702))

    def answered_before(self, sentinel_to: str, timeout: float = 120, sentinel: bytes | None = None) -> list[str]:
        """The MessageIDs answered before a well-formed probe (``sentinel``, or a new one) sent now to
        ``sentinel_to`` is answered.

        The camera reads datagrams in order, so anything it answers that came before the
        sentinel is answered before the sentinel is. The sentinel is sent again every half
        second until answered: the camera may have dropped it unread for the prober's budget
        (once read, it is answered once).
        """
        from wsdiscovery.message import parseSOAPMessage

        sentinel = sentinel or probe_message(uuid.uuid4().urn)
        sentinel_id = _message_id(sentinel)
        deadline = time.monotonic() + timeout
        answered: list[str] = []
        resend_at = 0.0
        while True:
            now = time.monotonic()
            if now >= resend_at:
                self.send(sentinel, sentinel_to)
                resend_at = now + 0.5
            self._sock.settimeout(max(0.01, min(resend_at, deadline) - now))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                continue
            self.largest_answer = max(self.largest_answer, len(data))
            relates_to = parseSOAPMessage(data, "camera").getRelatesTo()  # the camera's answer: trusted here
            if relates_to == sentinel_id:
                return answered
            answered.append(relates_to)


def _message_id(probe: bytes) -> str:
    from wsdiscovery.message import parseSOAPMessage

    return str(parseSOAPMessage(probe, "prober").getMessageId())


def hostile_probes(camera: str, other: str, camera6: str, interface6: str) -> dict[str, Any]:
    """What the camera at ``camera`` answers to a hostile LAN, each kind followed by a well-formed probe.

    ``other`` is an address of the camera that discovery is not on; ``camera6`` its IPv6 address on
    ``interface6``, this side's interface. Returns the MessageIDs answered for each kind.
    """
    prober = Prober()
    answered: dict[str, Any] = {}
    oversized = probe_message("urn:uuid:oversized", padding=5000)
    prober.send(oversized, camera)
    answered["oversized"] = prober.answered_before(camera)
    prober.send(entity_probe(), camera)
    answered["entities"] = prober.answered_before(camera)
    prober.send(probe_message("urn:uuid:not-allowed"), other)
    answered["not_allowed_address"] = prober.answered_before(camera)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as six:
        six.sendto(probe_message("urn:uuid:ipv6-unicast"), (camera6, 3702))
        index = socket.if_nametoindex(interface6)
        six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        six.sendto(probe_message("urn:uuid:ipv6-multicast"), ("ff02::c", 3702, 0, index))
        answered["ipv6"] = prober.answered_before(camera)
    flood = [f"urn:uuid:{uuid.uuid4()}" for _ in range(2000)]
    for message_id in flood:
        prober.send(probe_message(message_id), camera)
    answered["flood"] = prober.answered_before(camera)
    repeated = probe_message(f"urn:uuid:{uuid.uuid4()}")
    prober.answered_before(camera, sentinel=repeated)
    for _ in range(3):
        prober.send(repeated, camera)
    answered["flood_repeated"] = prober.answered_before(camera)
    answered["largest_answer"] = prober.largest_answer
    answered["flood_probe_size"] = len(probe_message(flood[0]))
    return answered


def flood_probes(camera: str, seconds: float) -> dict[str, int]:
    """Send probes to ``camera`` as fast as this process can for ``seconds``: by turns a well-formed probe
    padded to 4 KiB and one of 700 empty elements (the costliest to parse); each with a new MessageID."""
    probe = probe_message("urn:uuid:%08d").decode()
    padded = probe.replace("</s:Envelope>", " " * (4000 - len(probe)) + "</s:Envelope>")
    elements = probe.replace("</s:Body>", "<d:X>" + "<a/>" * 700 + "</d:X></s:Body>")
    templates = [padded, elements]
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in range(100):
                with contextlib.suppress(OSError):  # ENOBUFS: the link is full
                    sock.sendto((templates[sent % 2] % sent).encode(), (camera, 3702))
                    sent += 1
    return {"sent": sent}


class Announcements:
    """A WS-Discovery listener in a subprocess: its Hello and Bye messages, waited for one by one."""

    def __init__(self, command: list[str]) -> None:
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._heard: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next(lambda message: "listening" in message, 30)

    def _read(self) -> None:
        assert self._proc.stdout is not None  # stdout=PIPE
        for line in self._proc.stdout:
            self._heard.put(json.loads(line))

    def next(self, wanted: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The next message ``wanted`` says yes to (others are passed over), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._heard.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no such WS-Discovery message within {timeout} s") from None
            if wanted(message):
                return message

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


class ProbeNamespace:
    """A namespace linked only to ``camera``'s: the LAN a probing client is on."""

    def __init__(self, camera: CameraNamespace, ipv6: bool = False) -> None:
        """``ipv6``: IPv6 on, and fd00::1 here and :attr:`camera_address6` at the camera's end."""
        tag = secrets.token_hex(3)
        self.name = f"eo{tag}"
        self._camera = camera
        self.camera_interface = f"eoc{tag}"  # in the camera's namespace
        subnet = free_subnets(1)[0]
        self.address = str(subnet.network_address + 1)
        self.camera_address = str(subnet.network_address + 2)
        self.interface = f"eop{tag}"
        self.camera_address6 = "fd00::2"
        ip("netns", "add", self.name)
        try:
            if not ipv6:
                sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=self.name)
            ip("link", "set", "lo", "up", ns=self.name)
            ip("link", "add", self.interface, "netns", self.name, "type", "veth", "peer", "name", self.camera_interface)
            ip("link", "set", self.camera_interface, "netns", camera.name)
            ip("addr", "add", f"{self.address}/24", "dev", self.interface, ns=self.name)
            ip("addr", "add", f"{self.camera_address}/24", "dev", self.camera_interface, ns=camera.name)
            if ipv6:
                ip("-6", "addr", "add", "fd00::1/64", "dev", self.interface, "nodad", ns=self.name)
                ip(
                    "-6",
                    "addr",
                    "add",
                    f"{self.camera_address6}/64",
                    "dev",
                    self.camera_interface,
                    "nodad",
                    ns=camera.name,
                )
            ip("link", "set", self.interface, "up", ns=self.name)
            ip("link", "set", self.camera_interface, "up", ns=camera.name)
        except BaseException:
            self.close()
            raise

    def _run(self, *args: str, timeout: float) -> Any:
        command = ["ip", "netns", "exec", self.name, sys.executable, "-m", "testbed.onvif", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"testbed.onvif {' '.join(args)} failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout)

    def probe(self, timeout: float = 5) -> list[dict[str, Any]]:
        """What Home Assistant's probe finds from here (run in this namespace: its multicast stays here)."""
        return self._run("--timeout", str(timeout), timeout=timeout + 30)

    def hostile_probes(self, other: str) -> dict[str, Any]:
        """:func:`hostile_probes` from here; ``other``: a camera address discovery is not on (routed via the camera)."""
        ip("route", "replace", f"{other}/32", "via", self.camera_address, ns=self.name)
        args = ("--hostile", self.camera_address, other, self.camera_address6, self.interface)
        return self._run(*args, timeout=600)

    def flood(self, seconds: float) -> subprocess.Popen[str]:
        """:func:`flood_probes` from here, for ``seconds``, started and not waited for (it prints what it sent)."""
        command = ["ip", "netns", "exec", self.name, sys.executable, "-m", "testbed.onvif"]
        return subprocess.Popen(
            [*command, "--flood", self.camera_address, str(seconds)], stdout=subprocess.PIPE, text=True
        )

    def listener(self) -> Announcements:
        """Hello and Bye messages heard here, from now on."""
        command = ["ip", "netns", "exec", self.name, sys.executable, "-m", "testbed.onvif", "--listen", self.address]
        return Announcements(command)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10, check=False)


def listen(address: str) -> None:
    """Print a JSON line for each Hello and Bye heard on ``address``'s interface (after a first
    ``{"listening": true}``), until killed: with the AppSequence's InstanceId and the MetadataVersion."""
    from wsdiscovery.actions import NS_ACTION_BYE, NS_ACTION_HELLO
    from wsdiscovery.message import parseSOAPMessage

    def say(**what: Any) -> None:
        print(json.dumps(what), flush=True)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", 3702))
    group = socket.inet_aton("239.255.255.250") + socket.inet_aton(address)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
    say(listening=True)
    while True:
        message = parseSOAPMessage(sock.recv(65536), "camera")  # the camera's: trusted here
        if message is None:
            continue
        instance = message.getInstanceId()
        if message.getAction() == NS_ACTION_HELLO:
            xaddrs, version = message.getXAddrs(), message.getMetadataVersion()
            say(hello=message.getEPR(), xaddrs=xaddrs, instance_id=instance, metadata_version=version)
        elif message.getAction() == NS_ACTION_BYE:
            say(bye=message.getEPR(), instance_id=instance)


def main() -> None:
    parser = argparse.ArgumentParser(description="WS-Discovery for ONVIF cameras, as Home Assistant's")
    parser.add_argument("--timeout", type=float, default=5, help="how long the probe waits for answers")
    parser.add_argument("--listen", metavar="ADDRESS", help="print Hello and Bye heard on ADDRESS's interface instead")
    parser.add_argument(
        "--hostile", nargs=4, metavar=("CAMERA", "OTHER", "CAMERA6", "INTERFACE6"), help="send hostile probes instead"
    )
    parser.add_argument("--flood", nargs=2, metavar=("CAMERA", "SECONDS"), help="flood CAMERA with probes instead")
    args = parser.parse_args()
    if args.listen:
        listen(args.listen)
    elif args.flood:
        print(json.dumps(flood_probes(args.flood[0], float(args.flood[1]))))
    elif args.hostile:
        print(json.dumps(hostile_probes(*args.hostile)))
    else:
        print(json.dumps(ws_discovery(args.timeout)))


if __name__ == "__main__":
    main()
