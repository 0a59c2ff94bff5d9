"""One WHIP session's peer connection: the hubs' H.264 and Opus as they are, sent as the offerer.

The same parts as a viewer's session (``edge.webrtc``): a track per hub with
its own bounded queue and keyframe gating, a ``FastRtpSender`` with the
payloads every viewer shares, the camera's exact H.264 profile, and an ICE
agent that can restart in place, here as the offerer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aioice import Candidate
from aiortc import RTCBundlePolicy, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.sdp import SessionDescription

from edge.config import IceServer
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.webrtc.configuration import rtc_configuration
from edge.webrtc.ice_restart import IceAgent, ice_transport
from edge.webrtc.payloads import Payloads
from edge.webrtc.peer_state import ENDED, PeerConnectionState
from edge.webrtc.rtp_sender import FastRtpSender
from edge.webrtc.sdp_fragments import format_sdpfrag, parse_sdpfrag
from edge.webrtc.tracks import HubTrack
from edge.webrtc.transceivers import PROFILE_WAIT_S, send_audio, send_video

log = logging.getLogger(__name__)


class PublishSession:
    def __init__(
        self,
        video: VideoHub,
        audio: AudioHub | None,
        payloads: Payloads,
        ice_servers: tuple[IceServer, ...],
        on_event: Callable[[], None],
    ) -> None:
        """``on_event`` is called when :attr:`connected`, :attr:`ended` or :attr:`new_path` is set."""
        # One transport for both media (what IceAgent restarts).
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers, RTCBundlePolicy.MAX_BUNDLE))
        self._video = video
        self._audio = audio
        self._payloads = payloads
        self.senders: dict[str, FastRtpSender] = {}
        self.tracks: list[HubTrack] = []
        self.ice: IceAgent | None = None
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()  # the connection failed or closed
        self.new_path = asyncio.Event()  # a pair was nominated after the first (an ICE restart completed)
        self.connected_at: float | None = None
        self._on_event = on_event
        self._first_media: tuple[str, str] = ("video", "0")
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def offer(self) -> str:
        """Our offer, with every candidate (aiortc gathers before the offer is complete)."""
        profile = await self._video.wait_for_profile(PROFILE_WAIT_S)
        video = HubTrack("video", self._video)
        self.senders["video"] = send_video(
            self.pc, self._add_track(video), video, self._payloads, profile, self._video.request_keyframe
        )
        if self._audio is not None:
            audio = HubTrack("audio", self._audio)
            self.senders["audio"] = send_audio(self.pc, self._add_track(audio), audio, self._payloads)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        first = SessionDescription.parse(self.pc.localDescription.sdp).media[0]
        self._first_media = (first.kind, first.rtp.muxId or "0")
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self.ice = IceAgent(ice_transport(self.pc), self._on_new_path)

    async def restart_fragment(self) -> str:
        """A new ICE generation of ours, as the PATCH body that tells the server (RFC 9725 section 4.3.2)."""
        assert self.ice is not None, "accept() first"
        self.new_path.clear()
        local = await self.ice.restart_as_offerer()
        return format_sdpfrag(local.ufrag, local.pwd, local.candidates, *self._first_media)

    async def restart_answered(self, fragment: str) -> None:
        """The server's side of the restart: checks start now; :attr:`new_path` is set when one succeeds."""
        assert self.ice is not None, "accept() first"
        frag = parse_sdpfrag(fragment)
        if frag.credentials is None:
            raise ValueError("the server's restart answer has no ice-ufrag/ice-pwd")
        await self.ice.answered(*frag.credentials, [Candidate.from_sdp(c) for c in frag.candidates])

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self.ice.local_address if self.ice is not None else None

    @property
    def last_report_at(self) -> float | None:
        """When the server last sent RTCP about any of our streams."""
        times = [s.last_rtcp_at for s in self.senders.values() if s.last_rtcp_at is not None]
        return max(times, default=None)

    @property
    def bytes_sent(self) -> int:
        return sum(sender.bytes_sent for sender in self.senders.values())

    async def close(self) -> None:
        await self.pc.close()
        for track in self.tracks:
            track.stop()
        self.ended.set()

    def _add_track(self, track: HubTrack) -> RTCRtpSender:
        self.tracks.append(track)
        return self.pc.addTransceiver(track, direction="sendonly").sender

    def _on_new_path(self, local: tuple[str, int]) -> None:
        self._video.request_keyframe()  # the server lost frames while the path was down
        self.new_path.set()
        self._on_event()

    async def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == PeerConnectionState.CONNECTED and self.connected_at is None:
            self.connected_at = time.monotonic()
            self.connected.set()
        elif state in ENDED:
            self.ended.set()
        self._on_event()
