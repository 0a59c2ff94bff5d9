"""Home Assistant's ONVIF integration finding and adding the camera, with its own libraries.

The daemon runs in a camera namespace with links to probe namespaces, where Home Assistant's
WS-Discovery probe runs (its multicast goes nowhere else), and one to the host, where the test
plays Home Assistant's ONVIF client (onvif-zeep-async, the version HA pins) on the first
address the probe found, routed through the camera's namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import av
import pytest
import requests

from hw.camera.framecode import capture_time_ms_near, read_frame_code, split_frame_code
from testbed.daemon import TEST_TOKEN, DaemonProcess, start_daemon
from testbed.netns.topology import Link, ip
from testbed.onvif import PROFILE_STREAMING, ProbeNamespace, home_assistant_lists, onvif_camera

pytestmark = pytest.mark.timeout(180)

CONFIG = (
    "[camera]\nwidth = 640\nheight = 360\nframerate = 30\nbitrate = 1500000\n"
    "[onvif]\nenabled = true\n"
    "[rtsp]\nenabled = true\nport = 0\n"
    '[webrtc]\ninterfaces = ["lo"]\n'
)


@pytest.fixture
def camera_daemon(netns, tmp_path):
    (link,) = netns.add_links(1)
    probes = [ProbeNamespace(netns, ipv6=True), ProbeNamespace(netns)]
    daemon = start_daemon(CONFIG, tmp_path, prefix=netns.exec_prefix, host="0.0.0.0")
    yield daemon, link, probes
    daemon.stop()
    for probe in probes:
        probe.close()
    assert "Traceback" not in daemon.log(), daemon.log()


@contextlib.contextmanager
def routed_to(probe: ProbeNamespace, link: Link) -> Iterator[None]:
    """The host reaches the camera's address on ``probe``'s link through ``link``."""
    ip("route", "add", f"{probe.camera_address}/32", "via", link.camera_address)
    try:
        yield
    finally:
        ip("route", "del", f"{probe.camera_address}/32", "via", link.camera_address)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def captured_ms(jpeg: bytes) -> int:
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
    _, wrapped = split_frame_code(read_frame_code(frame.to_ndarray(format="gray")))
    return capture_time_ms_near(wrapped, int(time.time() * 1000))


def ffprobe_streams(url: str) -> list[dict]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["streams"]


def with_credentials(uri: str, user: str, password: str) -> str:
    """As Home Assistant's ONVIF camera puts the user and password into the stream URI."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def test_home_assistant_discovers_adds_and_plays_the_camera(camera_daemon):
    """Each prober, on its own link, is offered first the camera's address on that link."""
    daemon, link, probes = camera_daemon
    port = daemon.port
    for probe in probes:
        [found] = probe.probe(timeout=5)
        assert "{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter" in found["types"]
        assert PROFILE_STREAMING in found["scopes"]
        assert "onvif://www.onvif.org/type/audio_encoder" in found["scopes"], "the profile has AAC"
        assert home_assistant_lists(found["scopes"])["hardware"] == "simulated"
        assert found["xaddrs"][0] == f"http://{probe.camera_address}:{port}/onvif/device_service"
        assert found["reachable"], "the first XAddr, the one HA takes, answers from the prober's link"
        assert not any(other.camera_address in xaddr for other in probes for xaddr in found["xaddrs"] if other != probe)
        assert not any(link.camera_address in xaddr for xaddr in found["xaddrs"]), "not another link's address"

    host = urlsplit(found["xaddrs"][0]).hostname or ""
    with routed_to(probes[-1], link):
        asyncio.run(add_as_home_assistant(daemon, host, port))


def test_a_hostile_lan_gets_silence_and_home_assistant_still_finds_the_camera(camera_daemon):
    """Oversized, entity, IPv6 and flooding probes and probes to an address discovery is not on."""
    daemon, link, probes = camera_daemon
    probe = probes[0]  # the one with IPv6 on
    [found] = probe.probe(timeout=5)  # discovery is up
    rss_before = rss_kib(daemon.proc.pid)

    answered = probe.hostile_probes(other=link.camera_address)

    assert answered["oversized"] == [], "a datagram over 4 KiB is not read"
    assert answered["entities"] == [], "a probe with a DTD is not read"
    assert answered["not_allowed_address"] == [], "a probe to another link's address of the camera gets silence"
    assert answered["ipv6"] == [], "IPv6 is not served"
    assert len(set(answered["flood"])) <= 10, "2,000 probes from one host at once: a few answered, the rest dropped"
    assert len(answered["flood"]) == len(set(answered["flood"])), "each answered once"
    assert answered["flood_repeated"] == [], "a probe sent again is not answered again"
    assert answered["largest_answer"] < 3 * answered["flood_probe_size"], "no amplification beyond a ProbeMatch"
    grown_kib = rss_kib(daemon.proc.pid) - rss_before
    assert grown_kib < 20_000, f"2,000 probes grew the daemon by {grown_kib} KiB"

    [after] = probe.probe(timeout=5)
    assert after["xaddrs"][0] == found["xaddrs"][0] and after["reachable"]
    onvif = daemon_status(daemon, link)["onvif"]
    assert onvif["discovery"] == "announcing"
    assert set(onvif["discovery_addresses"]) == {link.camera_address, *(p.camera_address for p in probes)}


def healthz_latencies(url: str, until: float) -> list[float]:
    """Seconds each ``/healthz`` took, asked one after another until ``until`` (monotonic)."""
    latencies = []
    with requests.Session() as session:
        while time.monotonic() < until:
            started = time.monotonic()
            assert session.get(url, timeout=30).status_code == 200
            latencies.append(time.monotonic() - started)
    return latencies


def test_a_probe_flood_at_line_rate_neither_stalls_the_daemon_nor_hides_the_camera(camera_daemon):
    """One LAN host sends probes as fast as it can (the costliest to parse among them): the daemon's event loop,
    which HTTP, RTSP, the recorder and systemd's watchdog share, keeps answering; HA on another host finds the
    camera during the flood, and on the flooder's host after it."""
    daemon, link, (flooder, other) = camera_daemon
    [found] = flooder.probe(timeout=5)
    url = f"http://{link.camera_address}:{daemon.port}/healthz"
    healthz_latencies(url, time.monotonic() + 1)  # connected and warm

    flood = flooder.flood(seconds=12)
    try:
        flood_started = time.monotonic()
        during = healthz_latencies(url, flood_started + 5)
        [found_during] = other.probe(timeout=5)
        during += healthz_latencies(url, flood_started + 10)
    finally:
        sent = json.loads(flood.communicate(timeout=60)[0])["sent"]
    [found_after] = flooder.probe(timeout=5)

    assert sent > 10_000, f"a flood: {sent} probes in 12 s"
    worst, median = max(during), sorted(during)[len(during) // 2]
    assert worst < 0.5, f"/healthz took up to {worst:.2f} s during a flood of {sent} probes (median {median:.3f} s)"
    assert found_during["xaddrs"][0] == f"http://{other.camera_address}:{daemon.port}/onvif/device_service"
    assert found_after["xaddrs"] == found["xaddrs"] and found_after["reachable"]
    assert "WS-Discovery is flooded" in daemon.log()


def daemon_status(daemon: DaemonProcess, link: Link) -> dict:
    url = f"http://{link.camera_address}:{daemon.port}/api/status"
    return requests.get(url, headers=daemon.auth, timeout=10).json()


async def add_as_home_assistant(daemon: DaemonProcess, host: str, port: int) -> None:
    """What HA's config flow and its ONVIF device do with what the probe found."""
    camera = onvif_camera(host, port, "edge", TEST_TOKEN)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        assert (info.Manufacturer, info.Model) == ("edge", "simulated")
        assert info.SerialNumber
        interfaces = await device.GetNetworkInterfaces()
        enabled = [interface for interface in interfaces if interface.Enabled]
        assert enabled[0].Info.HwAddress, "the config entry's unique id: the first enabled interface's MAC"
        assert enabled[-1].Info.HwAddress, "the device's MAC in HA's registry: the last enabled interface's"

        media = await camera.create_media_service()
        [profile] = await media.GetProfiles()
        encoder = profile.VideoEncoderConfiguration
        assert (encoder.Encoding, encoder.Resolution.Width, encoder.Resolution.Height) == ("H264", 640, 360)
        assert (encoder.RateControl.FrameRateLimit, encoder.RateControl.BitrateLimit) == (30, 1500)
        assert profile.AudioEncoderConfiguration.Encoding == "AAC"

        asked_ms = time.time() * 1000
        jpeg = await camera.get_snapshot(profile.token)  # HTTP Digest, as HA's camera entity fetches it
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        delay_ms = captured_ms(jpeg) - asked_ms
        assert -1000 < delay_ms < 1000, f"the snapshot was captured {delay_ms:.0f} ms after it was asked for"

        request = media.create_type("GetStreamUri")
        request.ProfileToken = profile.token
        request.StreamSetup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        stream_uri = (await media.GetStreamUri(request)).Uri
        assert urlsplit(stream_uri).hostname == host, "the stream is on the address HA reached the camera on"
        streams = await asyncio.to_thread(ffprobe_streams, with_credentials(stream_uri, "edge", TEST_TOKEN))
        video = next(s for s in streams if s["codec_type"] == "video")
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", 640, 360)
        audio = next(s for s in streams if s["codec_type"] == "audio")
        assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    finally:
        await camera.close()


def test_hello_on_start_bye_on_stop_and_only_on_the_interface_of_server_host(netns, tmp_path):
    """With ``[server] host`` one address, the camera is announced there only."""
    (link,) = netns.add_links(1)
    probe = ProbeNamespace(netns)
    listener = probe.listener()
    daemon = None
    try:
        daemon = start_daemon(CONFIG, tmp_path, prefix=netns.exec_prefix, host=probe.camera_address)
        hello = listener.next(lambda message: "hello" in message, 30)
        assert hello["xaddrs"] == [f"http://{probe.camera_address}:{daemon.port}/onvif/device_service"]
        [found] = probe.probe(timeout=5)
        assert found["xaddrs"] == hello["xaddrs"], f"not offered on {link.camera_address}"
        assert found["epr"] == hello["hello"]
        assert daemon.stop() == 0
        bye = listener.next(lambda message: "bye" in message, 30)
        assert bye["bye"] == hello["hello"]
    finally:
        if daemon is not None:
            daemon.stop()
        listener.close()
        probe.close()


def test_a_new_address_is_announced_by_the_same_instance_with_a_new_metadata_version(netns, tmp_path):
    probe = ProbeNamespace(netns)
    listener = probe.listener()
    daemon = None
    try:
        daemon = start_daemon(CONFIG, tmp_path, prefix=netns.exec_prefix, host="0.0.0.0")
        first = listener.next(lambda message: "hello" in message, 30)
        xaddr = f"http://{probe.camera_address}:{daemon.port}/onvif/device_service"
        assert first["xaddrs"] == [xaddr], "only the address on the listener's link"
        added = probe.camera_address.rsplit(".", 1)[0] + ".3"
        ip("addr", "add", f"{added}/24", "dev", probe.camera_interface, ns=netns.name)
        again = listener.next(lambda message: "hello" in message, 30)
        assert again["xaddrs"] == [xaddr, f"http://{added}:{daemon.port}/onvif/device_service"]
        assert again["instance_id"] == first["instance_id"], "InstanceId changes only when the daemon restarts"
        assert int(again["metadata_version"]) == int(first["metadata_version"]) + 1
        assert daemon.stop() == 0
        bye = listener.next(lambda message: "bye" in message, 30)
        assert (bye["bye"], bye["instance_id"]) == (first["hello"], first["instance_id"])
        assert "Traceback" not in daemon.log(), daemon.log()
    finally:
        if daemon is not None:
            daemon.stop()
        listener.close()
        probe.close()
