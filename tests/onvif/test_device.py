"""The device and media services as onvif-zeep-async (Home Assistant's client) reads them, and the
ONVIF entry of /api/status."""

from __future__ import annotations

import socket

import pytest
from zeep.exceptions import Fault

from edge.config import ConfigError, parse_config
from testbed.onvif import ONVIF_CONFIG, onvif_camera


@pytest.fixture
async def camera(onvif_daemon):
    client = onvif_camera("127.0.0.1", onvif_daemon.port, "edge", onvif_daemon.token)
    await client.update_xaddrs()
    yield client
    await client.close()


async def test_the_device_says_what_it_is_and_where_its_services_are(camera, onvif_daemon):
    device = await camera.create_devicemgmt_service()
    base = f"http://127.0.0.1:{onvif_daemon.port}/onvif/"
    services = {s.Namespace: s.XAddr for s in await device.GetServices({"IncludeCapability": True})}
    assert services == {
        "http://www.onvif.org/ver10/device/wsdl": base + "device_service",
        "http://www.onvif.org/ver10/media/wsdl": base + "media_service",
        "http://www.onvif.org/ver10/events/wsdl": base + "events_service",
    }
    scopes = [scope.ScopeItem for scope in await device.GetScopes()]
    assert "onvif://www.onvif.org/Profile/Streaming" in scopes
    hostname = await device.GetHostname()
    assert f"onvif://www.onvif.org/name/{hostname.Name}" in scopes
    info = await device.GetDeviceInformation()
    assert info.FirmwareVersion == onvif_daemon.health()["version"]
    again = await device.GetDeviceInformation()
    assert again.SerialNumber == info.SerialNumber, "the serial number is stable"
    capabilities = await device.GetServiceCapabilities()
    assert (capabilities.Security.UsernameToken, capabilities.Security.HttpDigest) == (True, True)


async def test_media_lists_its_sources_and_encoders(camera):
    media = await camera.create_media_service()
    assert (await media.GetServiceCapabilities()).SnapshotUri is True
    [source] = await media.GetVideoSources()
    assert (source.Resolution.Width, source.Resolution.Height, source.Framerate) == (1280, 720, 30)
    # The main stream's encoder, and the low stream's ([camera.low]'s defaults: 640 wide, 450 kbit/s).
    main, low = await media.GetVideoEncoderConfigurations()
    for encoder in (main, low):
        assert (encoder.Encoding, encoder.H264.H264Profile, encoder.H264.GovLength) == ("H264", "Baseline", 60)
    assert (main.Resolution.Width, main.Resolution.Height, main.RateControl.BitrateLimit) == (1280, 720, 2000)
    assert (low.Resolution.Width, low.Resolution.Height, low.RateControl.BitrateLimit) == (640, 360, 450)
    [audio] = await media.GetAudioEncoderConfigurations()
    assert (audio.Encoding, audio.SampleRate) == ("AAC", 48)
    one = await media.GetVideoEncoderConfiguration({"ConfigurationToken": low.token})
    assert (one.Resolution.Width, one.RateControl.FrameRateLimit) == (640, 30)
    with pytest.raises(Fault, match="no configuration"):
        await media.GetAudioEncoderConfiguration({"ConfigurationToken": "other"})
    for token, encoder in (("main", main), ("low", low)):
        profile = await media.GetProfile({"ProfileToken": token})
        assert profile.VideoSourceConfiguration.SourceToken == source.token
        assert profile.VideoEncoderConfiguration.token == encoder.token
        assert profile.AudioEncoderConfiguration.token == audio.token
    with pytest.raises(Fault, match="no profile"):
        await media.GetProfile({"ProfileToken": "other"})


def test_the_status_says_onvif_serves_and_is_off_by_default(onvif_daemon, module_daemon_factory):
    assert onvif_daemon.health()["onvif"] == {
        "state": "serving",
        "discovery": "off",
        "discovery_addresses": [],
        "subscriptions": 0,
    }
    assert module_daemon_factory("").health()["onvif"] == {"state": "off"}


def test_onvif_without_rtsp_is_a_configuration_error_naming_both():
    with pytest.raises(ConfigError, match=r"onvif\.enabled needs rtsp\.enabled = true"):
        parse_config({"onvif": {"enabled": True}})


async def test_with_opus_for_rtsp_the_profile_has_no_sound(daemon_factory):
    """ONVIF's media service (ver10) has no name for Opus: the profile then offers video only."""
    daemon = daemon_factory(ONVIF_CONFIG.replace("port = 0\n", 'port = 0\naudio = "opus"\n'))
    client = onvif_camera("127.0.0.1", daemon.port, "edge", daemon.token)
    try:
        await client.update_xaddrs()
        media = await client.create_media_service()
        profiles = await media.GetProfiles()
        assert [profile.VideoEncoderConfiguration.Encoding for profile in profiles] == ["H264", "H264"]
        assert [profile.AudioEncoderConfiguration for profile in profiles] == [None, None]
        assert not await media.GetAudioEncoderConfigurations()
    finally:
        await client.close()


async def test_without_a_serving_rtsp_server_get_stream_uri_says_why(daemon_factory):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = daemon_factory(ONVIF_CONFIG.replace("port = 0", f"port = {port}"))
        client = onvif_camera("127.0.0.1", daemon.port, "edge", daemon.token)
        try:
            await client.update_xaddrs()
            media = await client.create_media_service()
            with pytest.raises(Fault, match=f"no RTSP stream: .*{port}"):
                await media.GetStreamUri(
                    {
                        "ProfileToken": "main",
                        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                    }
                )
        finally:
            await client.close()
    assert "ONVIF: there is no RTSP stream to offer clients" in daemon.log()
