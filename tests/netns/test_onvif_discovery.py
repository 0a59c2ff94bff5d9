"""Home Assistant's ONVIF integration finding and adding the camera, with its own libraries.

The daemon runs in a camera namespace with two links: one to a probe namespace, where Home
Assistant's WS-Discovery probe runs (its multicast goes nowhere else), and one to the host,
where the test plays Home Assistant's ONVIF client (onvif-zeep-async, the version HA pins)
on the address the probe found on that link.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import av
import pytest

from hw.camera.framecode import capture_time_ms_near, read_frame_code, split_frame_code
from testbed.daemon import TEST_TOKEN, DaemonProcess, start_daemon
from testbed.onvif import PROFILE_STREAMING, ProbeNamespace, onvif_camera

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
    probe = ProbeNamespace(netns)
    daemon = start_daemon(CONFIG, tmp_path, prefix=netns.exec_prefix, host="0.0.0.0")
    yield daemon, link, probe
    daemon.stop()
    probe.close()


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
    daemon, link, probe = camera_daemon
    [found] = probe.probe(timeout=5)

    assert "{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter" in found["types"]
    scopes = found["scopes"]
    assert PROFILE_STREAMING in scopes
    assert "onvif://www.onvif.org/hardware/simulated" in scopes
    assert any(scope.startswith("onvif://www.onvif.org/name/") for scope in scopes)
    port = daemon.port
    assert f"http://{probe.camera_address}:{port}/onvif/device_service" in found["xaddrs"]
    xaddr = f"http://{link.camera_address}:{port}/onvif/device_service"
    assert xaddr in found["xaddrs"], "every address of the camera is offered"

    asyncio.run(add_as_home_assistant(daemon, urlsplit(xaddr).hostname or "", port))


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
        assert any(i.Enabled and i.Info.HwAddress for i in interfaces), "HA's unique id is an interface's MAC"

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
