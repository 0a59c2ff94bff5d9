"""One viewer: an aiortc peer connection sending the hubs' packets as they are.

The session also keeps the viewer's path alive across network changes: it
restarts ICE in place when the page asks (WHEP PATCH, see ``ice_restart``),
tells the page at once when the camera's network changed (a message on the
page's data channel, which travels the media path and so arrives exactly when
that path still works, e.g. a new interface came up), and ends itself when a
broken path is not replaced within ``restart_timeout`` seconds.

Its video is the camera's main or low stream, as the viewer chose or, in
``auto``, as its link carries (``quality``): the policy hears the sender's link
feedback and, while it probes (or has a keyframe to ask for), ticks on a timer of its own; the track then
switches at the other stream's next keyframe, and the page is told.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from typing import Any, TypedDict

from aiortc import RTCConfiguration, RTCDataChannel, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription, candidate_from_sdp

from edge.media.audio import AudioHub
from edge.media.supervisor import SourceState
from edge.media.video import VideoHub
from edge.webrtc.aiortc_ext import bound_gathering
from edge.webrtc.ice_restart import IceAgent, LocalIce, ice_transport
from edge.webrtc.payloads import Payloads
from edge.webrtc.peer_state import ENDED, PeerConnectionState
from edge.webrtc.quality import PROBE_MAX_CHUNK_S, QualityMode, QualityPolicy, QualityStatus, quality_mode
from edge.webrtc.recovery import IceGenerations, RecoveryClock, RecoveryStatus, Restart
from edge.webrtc.rtp_sender import LIP_SYNC, LOW_LATENCY, PLAYOUT_DELAY, FastRtpSender
from edge.webrtc.sdp import extension_sendonly, is_mdns_candidate, without_mdns_candidates
from edge.webrtc.switching_track import SwitchingTrack
from edge.webrtc.tracks import HubTrack
from edge.webrtc.transceivers import send_audio, send_video
from hw.network_watch import NetworkChange

log = logging.getLogger(__name__)


class SessionLog(logging.LoggerAdapter[logging.Logger]):
    """The module's logger, each line prefixed ``session <the id's first 8 characters>: ``."""

    def __init__(self, session_id: str) -> None:
        super().__init__(log, {})
        self._prefix = f"session {session_id[:8]}: "

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[str, MutableMapping[str, Any]]:
        return f"{self._prefix}{msg}", kwargs


CONTROL_CHANNEL = "edge"  # the label of the page's data channel for our notices


@dataclass(frozen=True, slots=True)
class RestartAnswer:
    """Our side of an ICE restart, with where the answer puts it: the bundle's first media section."""

    local: LocalIce
    kind: str
    mid: str
    generation: int  # the new ICE generation's number


class IceStatus(RecoveryStatus):
    local: str | None  # our address:port on the selected pair
    local_type: str | None  # its candidate type: "host", "srflx" (behind NAT, via STUN) or "relay" (TURN)


class SessionStatus(TypedDict):
    state: str  # the peer connection's (aiortc's RTCPeerConnection.connectionState)
    age_s: float
    video_frames_sent: int
    ice: IceStatus
    quality: QualityStatus


class ViewerSession:
    def __init__(
        self,
        video: VideoHub,
        audio: AudioHub | None,
        payloads: Payloads,
        configuration: RTCConfiguration,
        on_closed: Callable[[ViewerSession], None],
        restart_timeout: float = 20.0,
        gather_timeout: float = 5.0,
        quality: QualityMode = QualityMode.AUTO,
    ) -> None:
        """``configuration``: ICE servers (with fresh TURN credentials) and policy; ``gather_timeout``:
        how long the answer may wait for STUN and TURN servers; ``quality``: the viewer's choice of stream."""
        self.id = secrets.token_urlsafe(16)
        self.log = SessionLog(self.id)  # for everything said about this session
        self.created_at = time.monotonic()
        self.connected_at: float | None = None
        self._video = video
        self._audio = audio
        self._payloads = payloads
        self._on_closed = on_closed
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        self.restart_timeout = restart_timeout
        self.recovery = RecoveryClock()
        self._deadline: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None  # close() started by the deadline (a reference keeps it alive)
        self._control: RTCDataChannel | None = None
        self._remote_hides_addresses = False  # it sent mDNS candidates: see add_remote_candidates()
        # Set by answer():
        self._generations: IceGenerations | None = None
        self.ice: IceAgent | None = None
        self.senders: dict[str, FastRtpSender] = {}  # by kind
        self._bundle_media: tuple[str, str] = ("video", "0")  # kind and mid of the first m-section
        self._gather_timeout = gather_timeout
        self.pc = RTCPeerConnection(configuration)
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("datachannel", self._on_datachannel)
        low = video.stream("low")  # main, when there is no low stream or it failed to start
        self.quality = QualityPolicy(
            video.main.settings, low.settings if low is not video.main else None, quality, time.monotonic()
        )
        self._quality_timer: asyncio.Task[None] | None = None  # ticks the policy while it probes or has something due
        self._quality_told: dict[str, object] = {}  # what the page was last told about it
        self.video_track = SwitchingTrack(video, self.quality.stream)
        self.audio_track = HubTrack("audio", audio) if audio else None

    @property
    def state(self) -> str:
        return self.pc.connectionState

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == PeerConnectionState.CONNECTED

    @property
    def generations(self) -> IceGenerations:
        """The ICE generations so far (signaling derives the WHEP ETag from them)."""
        assert self._generations is not None, "answer() first"
        return self._generations

    async def answer(self, offer_sdp: str, profile_level_id: str, *, wants_audio: bool) -> str:
        """Set up sending transceivers, then take the offer and return our answer SDP.

        ``wants_audio``: whether the offer has an audio section that wants media.
        The transceivers and their codec preferences must exist before
        ``setRemoteDescription``: that is where aiortc picks the codecs.
        """
        offer = SessionDescription.parse(offer_sdp)
        self.senders["video"] = send_video(
            self.pc,
            self.pc.addTrack(self.video_track),
            self.video_track,
            self._payloads,
            profile_level_id,
            self.video_track.request_keyframe,
        )
        self.senders["video"].feedback.on_update(self._quality_tick)
        if self.audio_track is not None and not wants_audio:  # a video-only player
            self.audio_track.stop()
            self.audio_track = None
        if self.audio_track is not None:
            self.senders["audio"] = send_audio(
                self.pc, self.pc.addTrack(self.audio_track), self.audio_track, self._payloads
            )
        offer_sdp, self._remote_hides_addresses = without_mdns_candidates(offer_sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        first = offer.media[0]
        assert first.ice is not None, "check_offer insists on ice-ufrag and ice-pwd"
        self._generations = IceGenerations((first.ice.usernameFragment or "", first.ice.password or ""))
        self._bundle_media = (first.kind, first.rtp.muxId or "0")
        transport = ice_transport(self.pc)
        bound_gathering(transport, self._gather_timeout)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.ice = IceAgent(transport, self._on_new_pair)
        return extension_sendonly(self.pc.localDescription.sdp, PLAYOUT_DELAY)

    def add_remote_candidates(self, candidates: list[str], end: bool) -> None:
        """Trickled candidates, added in the background (aioice may take its time).

        A browser's ``.local`` (mDNS) candidates are skipped: resolving them
        means multicast queries that can take seconds, and they are not needed,
        since the browser always reaches our plain-address candidates and we
        learn its address from its checks (peer-reflexive). For the same reason
        its end-of-candidates is not passed on once it has hidden an address:
        aioice fails at once when candidates have ended and its check list is
        empty, and the browser's checks may well arrive after its PATCH.
        """
        for line in candidates:
            if is_mdns_candidate("a=candidate:" + line):
                self._remote_hides_addresses = True
                continue
            candidate = candidate_from_sdp(line)
            candidate.sdpMLineIndex = 0  # max-bundle: every candidate belongs to the one transport
            self._spawn(self._add_remote_candidate(candidate))
        if end and not self._remote_hides_addresses:
            self._spawn(self.pc.addIceCandidate(None))

    async def _add_remote_candidate(self, candidate: RTCIceCandidate) -> None:
        await self.pc.addIceCandidate(candidate)
        if self.ice is not None:
            self.ice.check_new_pairs()

    async def restart_ice(self, remote_ufrag: str, remote_pwd: str) -> RestartAnswer:
        """Our side of an ICE restart to the page's new credentials; the same again for a retry.

        Never waits for anything slower than binding sockets (no mDNS: the
        fragment's candidates are added afterwards, in the background).
        """
        assert self.ice is not None, "answer() first"
        remote = (remote_ufrag, remote_pwd)
        restart = self.generations.latest
        if restart is None or restart.remote != remote:
            restart = self.generations.begin(remote)
            self.recovery.restart_requested(time.monotonic())
            self._arm_deadline()
            # A task of its own: a retry or the next restart must find it finished
            # even if the request that started it went away.
            self._spawn(self._restart(restart))
        local = await asyncio.shield(restart.answer)
        return RestartAnswer(local, *self._bundle_media, restart.generation)

    async def _restart(self, restart: Restart) -> None:
        assert self.ice is not None
        try:
            local = await self.ice.restart(*restart.remote)
        except asyncio.CancelledError:  # the session is closing: let waiting requests go
            restart.answer.set_exception(ConnectionError("the session closed"))
            raise
        except Exception as exc:
            self.log.warning("ICE restart failed: %s", exc)
            self.generations.abandon(restart)
            restart.answer.set_exception(exc)
            return
        self.log.info(
            "ICE restart %d, offering %s",
            self.recovery.restarts,
            " ".join(c.split()[4] for c in local.candidates) or "nothing",
        )
        restart.answer.set_result(local)

    def network_changed(self, change: NetworkChange) -> None:
        """The camera's addresses or links changed: note a broken path, and tell the page.

        The page is told when addresses came or went, so that it restarts ICE
        and learns what we offer now. A link that merely went down cannot carry
        the notice, and one that came back with its address needs no restart.
        """
        local = self.ice.local_address if self.ice is not None else None
        if local is not None and change.lost(local[0]):
            self.log.info("path via %s lost (%s)", local[0], change.describe())
            self.recovery.trouble(change.at)
            self._arm_deadline()
        elif local is not None and self.recovery.since is not None and change.usable(local[0]):
            self.recovery.path_back()
            if self.recovery.since is None:
                self._disarm_deadline()
        if change.addresses_changed:
            self._notify({"type": "network-change"})

    def camera_state_changed(self, state: SourceState) -> None:
        """Tell the page, so that it waits for the camera instead of restarting ICE for nothing."""
        self._notify({"type": "camera", "state": state})

    def trigger_fired(self, name: str) -> None:
        """Tell the page at once (its status poll would see it up to 2 s later)."""
        self._notify({"type": "trigger", "name": name})

    def _on_new_pair(self, local: tuple[str, int]) -> None:
        # The browser lost frames while the path was down; without a keyframe it
        # cannot show anything until it asks (after NACKs fail) or the GOP ends.
        self.video_track.request_keyframe()
        recovering = self.recovery.since is not None
        self.recovery.new_pair(time.monotonic())
        self._disarm_deadline()
        if recovering:
            self.log.info("new path via %s:%d after %.2f s", *local, self.recovery.last_recovery_s)
        else:
            self.log.info("new path via %s:%d", *local)

    def _arm_deadline(self) -> None:
        if self._deadline is None and not self._closed:
            self._deadline = asyncio.get_running_loop().call_later(self.restart_timeout, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.recovery.since is not None and self._closing is None:
            self.log.warning("no new path within %g s, closing", self.restart_timeout)
            self._closing = asyncio.create_task(self.close())

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label == CONTROL_CHANNEL:
            self._control = channel
            channel.on("message", self._on_control_message)
            if self._video.supervisor.state != SourceState.RUNNING:  # a page that arrived while the camera is down
                self.camera_state_changed(self._video.supervisor.state)
            self._tell_quality(always=True)

    def _on_control_message(self, data: str | bytes) -> None:
        """The page's requests: ``{"type": "lip-sync", "enabled": bool}`` (it plays the sound, or stops);
        ``{"type": "quality", "mode": "auto" | "high" | "low"}`` (the person chose).

        With lip sync the browser may hold video back until the sound catches up
        (about 60-90 ms in Chromium); without, it shows each frame on arrival.
        """
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        video = self.senders.get("video")
        if kind == "lip-sync" and video is not None:
            video.playout_delay_ms = LIP_SYNC if message.get("enabled") is True else LOW_LATENCY
        elif kind == "quality" and (mode := quality_mode(message.get("mode"))) is not None:
            self.quality.choose(mode, time.monotonic())
            self._follow_quality()
        else:
            self.log.debug("ignored control message %.80r", data)

    def _quality_tick(self) -> None:
        """News from the viewer's link (or the probe's timer): the policy chooses, the track follows."""
        video = self.senders.get("video")
        if video is None or self._closed:
            return
        self.quality.tick(video, time.monotonic())
        self._follow_quality()

    def _follow_quality(self) -> None:
        self.video_track.switch_to(self.quality.stream)
        if self.quality.take_keyframe_request():
            self.video_track.target.request_keyframe()
        self._tell_quality()
        if self._quality_timer is None and self.quality.wake_in(time.monotonic()) is not None:
            self._quality_timer = asyncio.create_task(self._tick_quality_while_due())

    async def _tick_quality_while_due(self) -> None:
        """While the policy pads, right after each picture sent: a full queue then drops padding, not pictures."""
        try:
            while (delay := self.quality.wake_in(time.monotonic())) is not None:
                if self.quality.pads(time.monotonic()):
                    await self.video_track.sent(PROBE_MAX_CHUNK_S)
                else:
                    await asyncio.sleep(delay)
                self._quality_tick()
        finally:
            self._quality_timer = None

    def _tell_quality(self, always: bool = False) -> None:
        """The page hears of each change of mode, stream or reason (``always``: a page that just came)."""
        settings = self.quality.settings()
        notice: dict[str, object] = {
            "type": "quality",
            "mode": self.quality.mode,
            "stream": self.quality.stream,
            "width": settings.width,
            "height": settings.height,
            "reason": self.quality.reason,
        }
        if always or notice != self._quality_told:
            if notice["stream"] != self._quality_told.get("stream", notice["stream"]):
                self.log.info("now on %s: %s", notice["stream"], notice["reason"])
            self._quality_told = notice
            self._notify(notice)

    def _notify(self, message: dict[str, object]) -> None:
        if self._control is not None and self._control.readyState == "open":
            self._control.send(json.dumps(message))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.info("ignored remote candidate: %s", task.exception())

    async def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        self.log.info("%s", state)
        if state == PeerConnectionState.CONNECTED and self.connected_at is None:
            self.connected_at = time.monotonic()
        elif state in ENDED:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._disarm_deadline()
        for task in list(self._background):
            task.cancel()
        if self._quality_timer is not None:
            self._quality_timer.cancel()
        self._on_closed(self)
        await self.pc.close()
        self.video_track.stop()
        if self.audio_track is not None:
            self.audio_track.stop()

    def status(self) -> SessionStatus:
        """This session in /api/status: nothing of its id (its WHEP URL, which would let a reader end it)."""
        now = time.monotonic()
        local = self.ice.local_address if self.ice is not None else None
        return {
            "state": self.state,
            "age_s": round(now - self.created_at, 1),
            "video_frames_sent": self.video_track.packets_sent,
            "ice": {
                "local": f"{local[0]}:{local[1]}" if local else None,
                "local_type": self.ice.local_type if self.ice is not None else None,
                **self.recovery.status(now),
            },
            "quality": self.quality.status(),
        }
