"""ONVIF's media service (``/onvif/media_service``): one profile, the camera's H.264 stream and its sound.

The profile describes what the RTSP server sends: H.264 (Constrained Baseline) at the
configured size, frame rate and bitrate, and AAC-LC at 48 kHz mono when there is a
microphone and ``[rtsp] audio = "aac"``. GetStreamUri gives the RTSP URL on the address the client reached the
HTTP server on (not a ``.local`` name, which NVRs often cannot resolve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from edge.config import CameraConfig
from edge.media.aac import BITRATE
from edge.onvif.device import media_capabilities_xml
from edge.onvif.endpoint import Call, Handler, Operation
from edge.onvif.soap import TRT, SoapFault, sender_fault
from edge.rtsp.status import RtspState
from hw.microphone import SAMPLE_RATE

PROFILE_TOKEN = "main"
VIDEO_SOURCE_TOKEN = "video_source"
VIDEO_SOURCE_CONFIGURATION_TOKEN = "video_source"
VIDEO_ENCODER_TOKEN = "video_encoder"
AUDIO_SOURCE_TOKEN = "audio_source"
AUDIO_SOURCE_CONFIGURATION_TOKEN = "audio_source"
AUDIO_ENCODER_TOKEN = "audio_encoder"
SNAPSHOT_PATH = "/api/snapshot.jpg"
AAC_SAMPLE_RATE_KHZ = SAMPLE_RATE // 1000
AAC_BITRATE_KBPS = BITRATE // 1000
_NO_MULTICAST = (
    "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>"
    "<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
    "<tt:SessionTimeout>PT60S</tt:SessionTimeout>"
)


@dataclass(frozen=True)
class Rtsp:
    """Where the RTSP server serves: its port and path, or why it does not."""

    port: int | None
    path: str
    reason: str


def rtsp_from_status(status: Mapping[str, object]) -> Rtsp:
    """From the RTSP service's status (``state``, ``url``, ``last_error``; ``off`` without RTSP)."""
    if status.get("state") != RtspState.SERVING:
        reason = str(status.get("last_error") or f"RTSP is {status.get('state')}")
        return Rtsp(None, "", reason)
    url = urlsplit(str(status["url"]))
    return Rtsp(url.port, url.path, "")


class MediaService:
    def __init__(self, camera: CameraConfig, audio: bool, rtsp: Callable[[], Rtsp]) -> None:
        self._camera = camera
        self._audio = audio
        self._rtsp = rtsp

    def operations(self) -> dict[tuple[str, str], Operation]:
        handlers: dict[str, Handler] = {
            "GetServiceCapabilities": self.get_service_capabilities,
            "GetProfiles": self.get_profiles,
            "GetProfile": self.get_profile,
            "GetStreamUri": self.get_stream_uri,
            "GetSnapshotUri": self.get_snapshot_uri,
            "GetVideoSources": self.get_video_sources,
            "GetAudioSources": self.get_audio_sources,
            **self._configuration_operations(),
        }
        return {(TRT, name): Operation(handler, f"{TRT}/{name}Response") for name, handler in handlers.items()}

    # --- the parts of the profile ---------------------------------------------------------

    def _video_source_configuration(self, element: str) -> str:
        c = self._camera
        return (
            f'<{element} token="{VIDEO_SOURCE_CONFIGURATION_TOKEN}">'
            "<tt:Name>camera</tt:Name><tt:UseCount>1</tt:UseCount>"
            f"<tt:SourceToken>{VIDEO_SOURCE_TOKEN}</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{c.width}" height="{c.height}"/></{element}>'
        )

    def _video_encoder_configuration(self, element: str) -> str:
        c = self._camera
        gov = max(1, round(c.keyframe_interval * c.framerate))
        return (
            f'<{element} token="{VIDEO_ENCODER_TOKEN}"><tt:Name>H.264</tt:Name><tt:UseCount>1</tt:UseCount>'
            "<tt:Encoding>H264</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{c.width}</tt:Width><tt:Height>{c.height}</tt:Height></tt:Resolution>"
            "<tt:Quality>5</tt:Quality>"
            f"<tt:RateControl><tt:FrameRateLimit>{c.framerate}</tt:FrameRateLimit>"
            f"<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{c.bitrate // 1000}</tt:BitrateLimit>"
            "</tt:RateControl>"
            f"<tt:H264><tt:GovLength>{gov}</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264>"
            f"{_NO_MULTICAST}</{element}>"
        )

    def _audio_source_configuration(self, element: str) -> str:
        return (
            f'<{element} token="{AUDIO_SOURCE_CONFIGURATION_TOKEN}"><tt:Name>microphone</tt:Name>'
            f"<tt:UseCount>1</tt:UseCount><tt:SourceToken>{AUDIO_SOURCE_TOKEN}</tt:SourceToken></{element}>"
        )

    def _audio_encoder_configuration(self, element: str) -> str:
        return (
            f'<{element} token="{AUDIO_ENCODER_TOKEN}"><tt:Name>AAC</tt:Name><tt:UseCount>1</tt:UseCount>'
            f"<tt:Encoding>AAC</tt:Encoding><tt:Bitrate>{AAC_BITRATE_KBPS}</tt:Bitrate>"
            f"<tt:SampleRate>{AAC_SAMPLE_RATE_KHZ}</tt:SampleRate>{_NO_MULTICAST}</{element}>"
        )

    def _profile(self, element: str) -> str:
        audio_source = self._audio_source_configuration("tt:AudioSourceConfiguration") if self._audio else ""
        audio_encoder = self._audio_encoder_configuration("tt:AudioEncoderConfiguration") if self._audio else ""
        return (
            f'<{element} token="{PROFILE_TOKEN}" fixed="true"><tt:Name>main</tt:Name>'
            f"{self._video_source_configuration('tt:VideoSourceConfiguration')}{audio_source}"
            f"{self._video_encoder_configuration('tt:VideoEncoderConfiguration')}{audio_encoder}</{element}>"
        )

    # --- operations -------------------------------------------------------------------------

    async def get_service_capabilities(self, call: Call) -> str:
        return (
            '<trt:GetServiceCapabilitiesResponse><trt:Capabilities SnapshotUri="true" Rotation="false" '
            f'VideoSourceMode="false" OSD="false">{media_capabilities_xml()}</trt:Capabilities>'
            "</trt:GetServiceCapabilitiesResponse>"
        )

    async def get_profiles(self, call: Call) -> str:
        return f"<trt:GetProfilesResponse>{self._profile('trt:Profiles')}</trt:GetProfilesResponse>"

    async def get_profile(self, call: Call) -> str:
        self._check_profile(call)
        return f"<trt:GetProfileResponse>{self._profile('trt:Profile')}</trt:GetProfileResponse>"

    async def get_stream_uri(self, call: Call) -> str:
        self._check_profile(call)
        rtsp = self._rtsp()
        if rtsp.port is None:
            raise SoapFault("env:Receiver", ("ter:Action", "ter:NoSuchService"), f"no RTSP stream: {rtsp.reason}")
        return _media_uri("GetStreamUriResponse", f"rtsp://{call.host}:{rtsp.port}{rtsp.path}")

    async def get_snapshot_uri(self, call: Call) -> str:
        self._check_profile(call)
        return _media_uri("GetSnapshotUriResponse", f"{call.base_url}{SNAPSHOT_PATH}")

    async def get_video_sources(self, call: Call) -> str:
        c = self._camera
        return (
            f'<trt:GetVideoSourcesResponse><trt:VideoSources token="{VIDEO_SOURCE_TOKEN}">'
            f"<tt:Framerate>{c.framerate}</tt:Framerate>"
            f"<tt:Resolution><tt:Width>{c.width}</tt:Width><tt:Height>{c.height}</tt:Height></tt:Resolution>"
            "</trt:VideoSources></trt:GetVideoSourcesResponse>"
        )

    async def get_audio_sources(self, call: Call) -> str:
        listed = (
            f'<trt:AudioSources token="{AUDIO_SOURCE_TOKEN}"><tt:Channels>1</tt:Channels></trt:AudioSources>'
            if self._audio
            else ""
        )
        return f"<trt:GetAudioSourcesResponse>{listed}</trt:GetAudioSourcesResponse>"

    def _configuration_operations(self) -> dict[str, Handler]:
        """Get<Kind>Configurations and Get<Kind>Configuration for each kind of configuration in the profile."""
        kinds: dict[str, tuple[Callable[[str], str], str, bool]] = {
            "VideoSource": (self._video_source_configuration, VIDEO_SOURCE_CONFIGURATION_TOKEN, False),
            "VideoEncoder": (self._video_encoder_configuration, VIDEO_ENCODER_TOKEN, False),
            "AudioSource": (self._audio_source_configuration, AUDIO_SOURCE_CONFIGURATION_TOKEN, True),
            "AudioEncoder": (self._audio_encoder_configuration, AUDIO_ENCODER_TOKEN, True),
        }
        handlers: dict[str, Handler] = {}
        for kind, (build, token, needs_audio) in kinds.items():
            handlers[f"Get{kind}Configurations"] = self._all_configurations(kind, build, needs_audio)
            handlers[f"Get{kind}Configuration"] = self._one_configuration(kind, build, token, needs_audio)
        return handlers

    def _all_configurations(self, kind: str, build: Callable[[str], str], needs_audio: bool) -> Handler:
        async def handler(call: Call) -> str:
            listed = "" if needs_audio and not self._audio else build("trt:Configurations")
            return f"<trt:Get{kind}ConfigurationsResponse>{listed}</trt:Get{kind}ConfigurationsResponse>"

        return handler

    def _one_configuration(self, kind: str, build: Callable[[str], str], token: str, needs_audio: bool) -> Handler:
        async def handler(call: Call) -> str:
            if needs_audio and not self._audio:
                raise sender_fault("ter:InvalidArgVal", "this camera has no microphone")
            found = call.soap.text(f"{{{TRT}}}ConfigurationToken")
            if found != token:
                raise SoapFault(
                    "env:Sender", ("ter:InvalidArgVal", "ter:NoConfig"), f"no configuration {str(found)[:60]!r}"
                )
            return (
                f"<trt:Get{kind}ConfigurationResponse>{build('trt:Configuration')}</trt:Get{kind}ConfigurationResponse>"
            )

        return handler

    # --- tokens -------------------------------------------------------------------------------

    def _check_profile(self, call: Call) -> None:
        token = call.soap.text(f"{{{TRT}}}ProfileToken")
        if token != PROFILE_TOKEN:
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:NoProfile"),
                f"no profile {str(token)[:60]!r}: the one is {PROFILE_TOKEN!r}",
            )


def _media_uri(element: str, uri: str) -> str:
    return (
        f"<trt:{element}><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{element}>"
    )
