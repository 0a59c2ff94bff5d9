"""The device and media services as onvif-zeep-async (Home Assistant's client) reads them, and the
ONVIF entry of /api/status."""

from __future__ import annotations

import pytest
from zeep.exceptions import Fault

from edge.config import ConfigError, parse_config
from testbed.onvif import onvif_camera


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
    [encoder] = await media.GetVideoEncoderConfigurations()
    assert (encoder.Encoding, encoder.H264.H264Profile) == ("H264", "Baseline")
    [audio] = await media.GetAudioEncoderConfigurations()
    assert (audio.Encoding, audio.SampleRate) == ("AAC", 48)
    profile = await media.GetProfile({"ProfileToken": "main"})
    assert profile.VideoSourceConfiguration.SourceToken == source.token
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
