"""A profile per stream of the camera's, as Home Assistant's ONVIF integration reads them
(``homeassistant/components/onvif/device.py``: ``async_get_profiles``, then ``async_get_stream_uri``
per profile), and what each profile's stream URI plays (ffprobe)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from zeep.exceptions import Fault

from testbed.onvif import ONVIF_CONFIG, onvif_camera
from tests.test_rtsp import ffprobe

STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


async def home_assistant_profiles(client: Any) -> list[tuple[str, str, int, int, str]]:
    """(token, name, width, height, stream URI) of each H.264 profile, in the order Home Assistant numbers them."""
    media = await client.create_media_service()
    found = []
    for profile in await media.GetProfiles():
        encoder = profile.VideoEncoderConfiguration
        if not encoder or encoder.Encoding != "H264":
            continue
        uri = await media.GetStreamUri({"ProfileToken": profile.token, "StreamSetup": STREAM_SETUP})
        found.append((profile.token, profile.Name, encoder.Resolution.Width, encoder.Resolution.Height, uri.Uri))
    return found


def video_size(uri: str, token: str) -> tuple[int, int]:
    """What ffprobe finds at ``uri``, logged in as Home Assistant does (the credentials put into the URI)."""
    result = ffprobe(uri.replace("rtsp://", f"rtsp://edge:{token}@", 1), "-v", "error", "-rtsp_transport", "tcp")
    assert result.returncode == 0, result.stderr[-3000:]
    [video] = [s for s in json.loads(result.stdout)["streams"] if s["codec_type"] == "video"]
    return video["width"], video["height"]


async def test_home_assistant_gets_main_then_low_and_the_low_uri_plays_the_small_stream(onvif_daemon):
    client = onvif_camera("127.0.0.1", onvif_daemon.port, "edge", onvif_daemon.token)
    try:
        await client.update_xaddrs()
        profiles = await home_assistant_profiles(client)
    finally:
        await client.close()
    rtsp = f"rtsp://127.0.0.1:{onvif_daemon.health()['rtsp']['url'].rsplit(':', 1)[1]}"
    assert profiles == [
        ("main", "main", 1280, 720, rtsp),
        ("low", "Low (640x360)", 640, 360, rtsp + "/low"),
    ]
    assert video_size(profiles[1][4], onvif_daemon.token) == (640, 360)


async def test_without_a_low_stream_one_profile_and_no_camera_low(daemon_factory):
    daemon = daemon_factory(ONVIF_CONFIG + "[camera]\nwidth = 640\nheight = 360\n")
    client = onvif_camera("127.0.0.1", daemon.port, "edge", daemon.token)
    try:
        await client.update_xaddrs()
        [(token, _, width, height, uri)] = await home_assistant_profiles(client)
        media = await client.create_media_service()
        with pytest.raises(Fault, match="no profile 'low'"):
            await media.GetStreamUri({"ProfileToken": "low", "StreamSetup": STREAM_SETUP})
    finally:
        await client.close()
    assert (token, width, height) == ("main", 640, 360)
    assert uri.endswith("/camera") and daemon.health()["rtsp"]["low_url"] is None
    result = ffprobe(uri.replace("rtsp://", f"rtsp://edge:{daemon.token}@", 1) + "/low", "-v", "error")
    assert "404 Not Found" in result.stderr, result.stderr
