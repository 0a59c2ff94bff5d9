"""All viewer sessions: creation, lookup, reaping of those that never connect, network and camera changes."""

from __future__ import annotations

import asyncio
import logging
import time

from edge.config import WebRTCConfig
from edge.media.audio import AudioHub
from edge.media.supervisor import SourceState
from edge.media.video import VideoHub
from edge.service import BackgroundTask
from edge.webrtc.configuration import rtc_configuration
from edge.webrtc.ice_servers import IceServerList
from edge.webrtc.payloads import Payloads
from edge.webrtc.quality import QualityMode
from edge.webrtc.session import SessionStatus, ViewerSession
from edge.webrtc.transceivers import PROFILE_WAIT_S
from edge.webrtc.turn_check import TurnState, TurnWatch
from hw.network_watch import NetworkChange

log = logging.getLogger(__name__)


class ViewerLimit(Exception):
    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Viewers:
    """Every viewer session, as a service: while started, sessions that never connect are closed;
    stopped, every session ends."""

    name = "viewers"

    def __init__(self, video: VideoHub, audio: AudioHub | None, config: WebRTCConfig) -> None:
        self._reaper = BackgroundTask("viewer reaper")
        self.ice_servers = IceServerList(config)
        self.turn = TurnWatch(self.ice_servers, config.turn_timeout)  # a service of its own, started before us
        self._video = video
        self._audio = audio
        self._config = config
        self._sessions: dict[str, ViewerSession] = {}
        # Packetized once for every viewer and publish target.
        self.payloads = Payloads.for_hubs()
        self.total_sessions = 0
        video.supervisor.on_state_change(self._camera_state_changed)

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions(self) -> list[ViewerSession]:
        """The sessions there are now (answered or connected)."""
        return list(self._sessions.values())

    def get(self, session_id: str) -> ViewerSession | None:
        return self._sessions.get(session_id)

    async def create(
        self, offer_sdp: str, *, wants_audio: bool, quality: QualityMode = QualityMode.AUTO
    ) -> tuple[ViewerSession, str]:
        """Answer a (checked) offer; returns the session and the answer SDP.

        ``wants_audio``: whether the offer has an audio section that wants media;
        ``quality``: which of the camera's streams the viewer wants (``auto``: what its link carries).

        Raises :class:`ViewerLimit` when the configured limits are reached.
        """
        if len(self._sessions) >= self._config.max_viewers:
            raise ViewerLimit(f"this camera has its maximum of {self._config.max_viewers} viewers", retry_after=10)
        if self.pending >= self._config.max_pending:
            raise ViewerLimit("too many viewers are connecting at once", retry_after=2)
        profile = await self._video.wait_for_profile(PROFILE_WAIT_S)
        # A TURN server known not to answer is left out (with the relay policy there is nothing else).
        relay_policy = self._config.ice_transport_policy == "relay"
        use_turn = self.turn.state is not TurnState.OFF and (self.turn.usable or relay_policy)
        session = ViewerSession(
            self._video,
            self._audio,
            self.payloads,
            rtc_configuration(
                self.ice_servers.minted(turn=use_turn), transport_policy=self._config.ice_transport_policy
            ),
            self._forget,
            restart_timeout=self._config.restart_timeout,
            gather_timeout=self._config.turn_timeout,
            quality=quality,
        )
        self._sessions[session.id] = session
        self.total_sessions += 1
        try:
            answer = await session.answer(offer_sdp, profile, wants_audio=wants_audio)
        except BaseException:
            await session.close()
            raise
        if use_turn and session.ice is not None and not session.ice.has_relay:
            self.turn.relay_missing()
        session.log.info("answered (%d viewers), quality %s", len(self._sessions), quality)
        return session, answer

    def _forget(self, session: ViewerSession) -> None:
        if self._sessions.pop(session.id, None) is not None:
            session.log.info("gone (%d viewers)", len(self._sessions))

    @property
    def pending(self) -> int:
        return sum(1 for s in self._sessions.values() if s.connected_at is None)

    async def start(self) -> None:
        self._reaper.start(self._reap_pending())

    async def stop(self) -> None:
        await self._reaper.stop()
        await self.close_all()

    async def _reap_pending(self) -> None:
        """Close sessions that never connected (a client that POSTed and went away)."""
        timeout = self._config.pending_timeout
        while True:
            await asyncio.sleep(timeout / 4)
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if session.connected_at is None and now - session.created_at > timeout:
                    session.log.info("never connected, closing")
                    await session.close()

    def _camera_state_changed(self, state: SourceState) -> None:
        for session in list(self._sessions.values()):
            session.camera_state_changed(state)

    def trigger_changed(self, name: str, active: bool) -> None:
        """A GPIO input or motion changed: each page shows a trigger firing on its live view."""
        if active:
            for session in list(self._sessions.values()):
                session.trigger_fired(name)

    def network_changed(self, change: NetworkChange) -> None:
        """Tell every session about a change to the interfaces we offer candidates on."""
        log.info("network changed: %s (%d viewers)", change.describe(), len(self._sessions))
        for session in list(self._sessions.values()):
            session.network_changed(change)

    async def close_all(self) -> None:
        await asyncio.gather(*(s.close() for s in list(self._sessions.values())), return_exceptions=True)

    def status(self) -> list[SessionStatus]:
        return [s.status() for s in self._sessions.values()]
