"""ONVIF's media service (``/onvif/media_service``): a profile per stream of the camera's, with its sound.

Profile ``main`` (listed first: Home Assistant numbers profiles in order) is the camera's
main stream at ``/camera``; ``low``, when the camera makes a low stream, the small one at
``/camera/low``, which an NVR can pick by its token for detection. Each describes what the
RTSP server sends on its path: H.264 (Constrained Baseline) at that stream's size, frame
rate and bitrate, and AAC-LC at 48 kHz mono when there is a microphone and ``[rtsp] audio =
"aac"``. Both share the one video source (and audio source and encoder); each has its own
video encoder configuration. GetStreamUri gives the RTSP URL on the address the client
reached the HTTP server on (not a ``.local`` name, which NVRs often cannot resolve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from edge.media.aac import BITRATE
from edge.onvif.device import media_capabilities_xml
from edge.onvif.endpoint import Call, Handler, Operation
from edge.onvif.soap import TRT, SoapFault, sender_fault
from edge.rtsp.status import RtspState
from hw.camera import CameraSettings, StreamName
from hw.microphone import SAMPLE_RATE

VIDEO_SOURCE_TOKEN = "video_source"
VIDEO_SOURCE_CONFIGURATION_TOKEN = "video_source"
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
    """Where the RTSP server serves: its port and each stream's path, or why it does not."""

    port: int | None
    paths: Mapping[StreamName, str]
    reason: str


def rtsp_from_status(status: Mapping[str, object]) -> Rtsp:
    """From the RTSP service's status (``state``, ``url``, ``low_url``, ``last_error``; ``off`` without RTSP)."""
    if status.get("state") != RtspState.SERVING:
        reason = str(status.get("last_error") or f"RTSP is {status.get('state')}")
        return Rtsp(None, {}, reason)
    url = urlsplit(str(status["url"]))
    paths: dict[StreamName, str] = {"main": url.path}
    if status.get("low_url"):
        paths["low"] = urlsplit(str(status["low_url"])).path
    return Rtsp(url.port, paths, "")


@dataclass(frozen=True)
class Profile:
    """A media profile: one of the camera's streams, with the token of its video encoder configuration."""

    token: StreamName
    name: str
    encoder_token: str
    settings: CameraSettings


def profiles(main: CameraSettings, low: CameraSettings | None) -> list[Profile]:
    """``main`` first, then ``low`` when the camera makes a low stream."""
    listed = [Profile("main", "main", "video_encoder", main)]
    if low is not None:
        listed.append(Profile("low", f"Low ({low.width}x{low.height})", "video_encoder_low", low))
    return listed


class MediaService:
    def __init__(self, main: CameraSettings, low: CameraSettings | None, audio: bool, rtsp: Callable[[], Rtsp]) -> None:
        self._source = main
        self._profiles: dict[str, Profile] = {profile.token: profile for profile in profiles(main, low)}
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
        c = self._source
        return (
            f'<{element} token="{VIDEO_SOURCE_CONFIGURATION_TOKEN}">'
            f"<tt:Name>camera</tt:Name><tt:UseCount>{len(self._profiles)}</tt:UseCount>"
            f"<tt:SourceToken>{VIDEO_SOURCE_TOKEN}</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{c.width}" height="{c.height}"/></{element}>'
        )

    def _video_encoder_configuration(self, element: str, profile: Profile) -> str:
        c = profile.settings
        return (
            f'<{element} token="{profile.encoder_token}"><tt:Name>H.264 {profile.token}</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{c.width}</tt:Width><tt:Height>{c.height}</tt:Height></tt:Resolution>"
            "<tt:Quality>5</tt:Quality>"
            f"<tt:RateControl><tt:FrameRateLimit>{c.framerate}</tt:FrameRateLimit>"
            f"<tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{c.bitrate // 1000}</tt:BitrateLimit>"
            "</tt:RateControl>"
            f"<tt:H264><tt:GovLength>{c.gop_frames}</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264>"
            f"{_NO_MULTICAST}</{element}>"
        )

    def _audio_source_configuration(self, element: str) -> str:
        return (
            f'<{element} token="{AUDIO_SOURCE_CONFIGURATION_TOKEN}"><tt:Name>microphone</tt:Name>'
            f"<tt:UseCount>{len(self._profiles)}</tt:UseCount>"
            f"<tt:SourceToken>{AUDIO_SOURCE_TOKEN}</tt:SourceToken></{element}>"
        )

    def _audio_encoder_configuration(self, element: str) -> str:
        return (
            f'<{element} token="{AUDIO_ENCODER_TOKEN}"><tt:Name>AAC</tt:Name>'
            f"<tt:UseCount>{len(self._profiles)}</tt:UseCount><tt:Encoding>AAC</tt:Encoding>"
            f"<tt:Bitrate>{AAC_BITRATE_KBPS}</tt:Bitrate><tt:SampleRate>{AAC_SAMPLE_RATE_KHZ}</tt:SampleRate>"
            f"{_NO_MULTICAST}</{element}>"
        )

    def _profile(self, element: str, profile: Profile) -> str:
        audio_source = self._audio_source_configuration("tt:AudioSourceConfiguration") if self._audio else ""
        audio_encoder = self._audio_encoder_configuration("tt:AudioEncoderConfiguration") if self._audio else ""
        video_encoder = self._video_encoder_configuration("tt:VideoEncoderConfiguration", profile)
        return (
            f'<{element} token="{profile.token}" fixed="true"><tt:Name>{profile.name}</tt:Name>'
            f"{self._video_source_configuration('tt:VideoSourceConfiguration')}{audio_source}"
            f"{video_encoder}{audio_encoder}</{element}>"
        )

    # --- operations -------------------------------------------------------------------------

    async def get_service_capabilities(self, call: Call) -> str:
        return (
            '<trt:GetServiceCapabilitiesResponse><trt:Capabilities SnapshotUri="true" Rotation="false" '
            f'VideoSourceMode="false" OSD="false">{media_capabilities_xml()}</trt:Capabilities>'
            "</trt:GetServiceCapabilitiesResponse>"
        )

    async def get_profiles(self, call: Call) -> str:
        listed = "".join(self._profile("trt:Profiles", profile) for profile in self._profiles.values())
        return f"<trt:GetProfilesResponse>{listed}</trt:GetProfilesResponse>"

    async def get_profile(self, call: Call) -> str:
        profile = self._requested_profile(call)
        return f"<trt:GetProfileResponse>{self._profile('trt:Profile', profile)}</trt:GetProfileResponse>"

    async def get_stream_uri(self, call: Call) -> str:
        profile = self._requested_profile(call)
        rtsp = self._rtsp()
        path = rtsp.paths.get(profile.token)
        if rtsp.port is None or path is None:
            reason = rtsp.reason or f"RTSP does not serve the {profile.token} stream"
            raise SoapFault("env:Receiver", ("ter:Action", "ter:NoSuchService"), f"no RTSP stream: {reason}")
        return _media_uri("GetStreamUriResponse", f"rtsp://{call.host}:{rtsp.port}{path}")

    async def get_snapshot_uri(self, call: Call) -> str:
        self._requested_profile(call)
        return _media_uri("GetSnapshotUriResponse", f"{call.base_url}{SNAPSHOT_PATH}")

    async def get_video_sources(self, call: Call) -> str:
        c = self._source
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
        """Get<Kind>Configurations and Get<Kind>Configuration for each kind of configuration in the profiles."""
        encoders: dict[str, Callable[[str], str]] = {
            profile.encoder_token: partial(self._video_encoder_configuration, profile=profile)
            for profile in self._profiles.values()
        }
        kinds: dict[str, tuple[dict[str, Callable[[str], str]], bool]] = {
            "VideoSource": ({VIDEO_SOURCE_CONFIGURATION_TOKEN: self._video_source_configuration}, False),
            "VideoEncoder": (encoders, False),
            "AudioSource": ({AUDIO_SOURCE_CONFIGURATION_TOKEN: self._audio_source_configuration}, True),
            "AudioEncoder": ({AUDIO_ENCODER_TOKEN: self._audio_encoder_configuration}, True),
        }
        handlers: dict[str, Handler] = {}
        for kind, (builds, needs_audio) in kinds.items():
            handlers[f"Get{kind}Configurations"] = self._all_configurations(kind, builds, needs_audio)
            handlers[f"Get{kind}Configuration"] = self._one_configuration(kind, builds, needs_audio)
        return handlers

    def _all_configurations(self, kind: str, builds: dict[str, Callable[[str], str]], needs_audio: bool) -> Handler:
        async def handler(call: Call) -> str:
            shown = {} if needs_audio and not self._audio else builds
            listed = "".join(build("trt:Configurations") for build in shown.values())
            return f"<trt:Get{kind}ConfigurationsResponse>{listed}</trt:Get{kind}ConfigurationsResponse>"

        return handler

    def _one_configuration(self, kind: str, builds: dict[str, Callable[[str], str]], needs_audio: bool) -> Handler:
        async def handler(call: Call) -> str:
            if needs_audio and not self._audio:
                raise sender_fault("ter:InvalidArgVal", "this camera has no microphone")
            found = call.soap.text(f"{{{TRT}}}ConfigurationToken")
            build = builds.get(str(found))
            if build is None:
                raise SoapFault(
                    "env:Sender", ("ter:InvalidArgVal", "ter:NoConfig"), f"no configuration {str(found)[:60]!r}"
                )
            return (
                f"<trt:Get{kind}ConfigurationResponse>{build('trt:Configuration')}</trt:Get{kind}ConfigurationResponse>"
            )

        return handler

    # --- tokens -------------------------------------------------------------------------------

    def _requested_profile(self, call: Call) -> Profile:
        token = call.soap.text(f"{{{TRT}}}ProfileToken")
        profile = self._profiles.get(str(token))
        if profile is None:
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:NoProfile"),
                f"no profile {str(token)[:60]!r}: there are {', '.join(map(repr, self._profiles))}",
            )
        return profile


def _media_uri(element: str, uri: str) -> str:
    return (
        f"<trt:{element}><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{element}>"
    )
