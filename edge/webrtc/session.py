"""One viewer: an aiortc peer connection sending the hubs' packets as they are."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Callable

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription, candidate_from_sdp

from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.webrtc import aiortc_ext
from edge.webrtc.tracks import ViewerTrack

log = logging.getLogger(__name__)


def rtc_configuration(ice_servers: tuple[dict, ...]) -> RTCConfiguration:
    """Always explicit: ``RTCConfiguration()`` alone would use a public STUN server."""
    return RTCConfiguration(iceServers=[RTCIceServer(**server) for server in ice_servers])


class ViewerSession:
    def __init__(
        self,
        video: VideoHub,
        audio: AudioHub | None,
        ice_servers: tuple[dict, ...],
        on_closed: Callable[["ViewerSession"], None],
    ) -> None:
        self.id = secrets.token_urlsafe(16)
        self.etag = f'"{secrets.token_hex(8)}"'
        self.created_at = time.monotonic()
        self.connected_at: float | None = None
        self._video = video
        self._audio = audio
        self._on_closed = on_closed
        self._closed = False
        self._background: set[asyncio.Task] = set()
        self.remote_ice: tuple[str, str] | None = None
        self.pc = RTCPeerConnection(rtc_configuration(ice_servers))
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.video_track = ViewerTrack("video", video)
        self.audio_track = ViewerTrack("audio", audio) if audio else None

    @property
    def state(self) -> str:
        return self.pc.connectionState

    async def answer(self, offer_sdp: str, profile_level_id: str) -> str:
        """Set up sending transceivers, then take the offer and return our answer SDP.

        The transceivers and their codec preferences must exist before
        ``setRemoteDescription``: that is where aiortc picks the codecs.
        """
        video_sender = self.pc.addTrack(self.video_track)
        aiortc_ext.on_keyframe_request(video_sender, self._video.request_keyframe)
        self._transceiver_of(video_sender).setCodecPreferences(aiortc_ext.h264_preferences(profile_level_id))
        if self.audio_track is not None:
            audio_sender = self.pc.addTrack(self.audio_track)
            self._transceiver_of(audio_sender).setCodecPreferences(aiortc_ext.opus_preferences())
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        remote_ice = SessionDescription.parse(offer_sdp).media[0].ice
        self.remote_ice = (remote_ice.usernameFragment, remote_ice.password)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def _transceiver_of(self, sender):
        return next(t for t in self.pc.getTransceivers() if t.sender is sender)

    def add_remote_candidates(self, candidates: list[str], end: bool) -> None:
        """Trickled candidates, added in the background (aioice may take its time).

        A browser's ``.local`` (mDNS) candidates are skipped: resolving them
        means multicast queries that can take seconds, and they are not needed,
        since the browser always reaches our plain-address candidates and we
        learn its address from its checks (peer-reflexive).
        """
        for line in candidates:
            candidate = candidate_from_sdp(line)
            if candidate.ip.endswith(".local"):
                continue
            candidate.sdpMLineIndex = 0  # max-bundle: every candidate belongs to the one transport
            self._spawn(self.pc.addIceCandidate(candidate))
        if end:
            self._spawn(self.pc.addIceCandidate(None))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("session %s: ignored remote candidate: %s", self.id[:8], task.exception())

    async def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.info("session %s: %s", self.id[:8], state)
        if state == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
        elif state in ("failed", "closed"):
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._background):
            task.cancel()
        self._on_closed(self)
        await self.pc.close()
        self.video_track.stop()
        if self.audio_track is not None:
            self.audio_track.stop()

    def status(self) -> dict:
        return {
            "id": self.id[:8],
            "state": self.state,
            "age_s": round(time.monotonic() - self.created_at, 1),
            "video_frames_sent": self.video_track.packets_sent,
        }
