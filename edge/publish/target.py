"""One ``[[publish]]`` target, kept publishing through trouble.

- The server gone, busy or failing (no answer, 5xx, 408/409/429): try again
  after a capped exponential back-off with jitter (at most every 2 s), so that
  publishing resumes within seconds of the server being back.
- A refusal that will not change by itself (bad token, wrong URL: other 4xx):
  say so in the status and log, and try again once a minute, never in a loop.
- The server stops sending receiver reports (it died: ICE consent would take
  aiortc ~30 s to notice): a new session after ``SILENCE_S``.
- The Pi's address under the session goes away: ICE restart in place with a
  PATCH, as the offerer; if the server cannot or the new path does not come
  within ``RESTART_WAIT_S``, a new session.
- Every request has its own deadline and runs in this target's task: a hung
  server holds up nothing else. On shutdown the session is DELETEd.
- The session's resource URL is kept in the state directory while it lasts, with the
  endpoint and token it was created with (``edge/publish/record.py``): after a crash
  or a power cut the stale session is DELETEd first, with that token even if the
  configuration changed since, so that a server that allows one publisher per
  endpoint (simple-whip-server answers 403 "already in use") takes the new one at once.
- Anything else that goes wrong setting a session up (an answer aiortc cannot
  use, say) is reported as "failed" and tried again once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import NoReturn, TypedDict

import aiohttp

from edge.backoff import Backoff
from edge.config import IceServer, PublishConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.publish import record
from edge.publish.session import PublishSession
from edge.publish.whip import WhipClient, WhipError, WhipResource, server_of
from edge.webrtc.payloads import Payloads
from hw.network_watch import NetworkChange

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0  # each HTTP request, from connecting to the last byte of the answer
DELETE_TIMEOUT_S = 2.0  # ending a session: best effort, and shutdown must not wait long
CONNECT_TIMEOUT_S = 10.0  # answer received -> ICE and DTLS up
RETRY_FIRST_S = 0.5
RETRY_CAP_S = 2.0
REFUSED_RETRY_S = 60.0
SILENCE_S = 3.0  # receivers report about once a second
RESTART_WAIT_S = 1.0
CHECK_EVERY_S = 0.5


class PublishState(StrEnum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    RECOVERING = "recovering"  # an ICE restart after the path was lost
    RETRYING = "retrying"  # waiting out the back-off after a failure
    REFUSED = "refused"  # the server said no (4xx): retried far less often
    FAILED = "failed"
    STOPPED = "stopped"


ON_AIR = (PublishState.PUBLISHING, PublishState.RECOVERING)  # the server has (or is about to have again) the stream


class PublishTargetStatus(TypedDict):
    name: str
    server: str
    state: PublishState
    since_s: float
    retry_in_s: float | None
    sessions: int
    ice_restarts: int
    failures: int
    bytes_sent: int
    last_error: str | None
    last_recovery_s: float | None
    local: str | None


class PublishTarget:
    def __init__(
        self,
        config: PublishConfig,
        video: VideoHub,
        audio: AudioHub | None,
        payloads: Payloads,
        state_dir: Path | None = None,
    ) -> None:
        """``state_dir``: where the current session's record is kept (None: nowhere)."""
        self.config = config
        self._resource_file = state_dir / f"{config.label}.resource" if state_dir is not None else None
        self.name = config.label
        self._video = video
        self._audio = audio
        self._payloads = payloads
        self._backoff = Backoff(RETRY_FIRST_S, RETRY_CAP_S, jitter=True)
        self._session: PublishSession | None = None
        self._resource: WhipResource | None = None
        self._link_ice_servers: tuple[IceServer, ...] = ()  # the server's Link headers: used from the next session
        self._wake = asyncio.Event()
        self._path_lost = False
        self.state = PublishState.CONNECTING if config.enabled else PublishState.DISABLED
        self.since = time.monotonic()
        self.last_error: str | None = None
        self.sessions = 0  # sessions that got to publishing
        self.ice_restarts = 0
        self.failures = 0
        self.last_recovery_s: float | None = None
        self._bytes_of_ended_sessions = 0
        self._retry_at: float | None = None  # while waiting to try again

    @property
    def bytes_sent(self) -> int:
        return self._bytes_of_ended_sessions + (self._session.bytes_sent if self._session else 0)

    async def run(self) -> None:
        """Publish until cancelled (then DELETE the session)."""
        if not self.config.enabled:
            return
        connector = aiohttp.TCPConnector(force_close=True)  # no kept-alive socket on an address that went away
        async with aiohttp.ClientSession(connector=connector) as http:
            client = WhipClient(http, self.config.url, self.config.token, REQUEST_TIMEOUT_S, self.name)
            try:
                await self._end_stale_session(http)
                while True:
                    delay = await self._attempt(client)
                    await self._pause(delay)
            finally:
                await self._end_session(client)
                self._set_state(PublishState.STOPPED)

    def network_changed(self, change: NetworkChange) -> None:
        """Our path's address went away: recover now. Addresses came while waiting to retry: retry now."""
        local = self._session.local_address if self._session else None
        if self.state == PublishState.PUBLISHING and local is not None and change.lost(local[0]):
            log.info("publish %s: path via %s lost (%s)", self.name, local[0], change.describe())
            self._path_lost = True
            self._wake.set()
        elif self.state == PublishState.RETRYING and change.addresses_changed:
            self._wake.set()

    async def _attempt(self, client: WhipClient) -> float:
        """One session, from the offer to its end; returns how long to wait before the next."""
        try:
            await self._publish(client)
        except WhipError as error:
            self.failures += 1
            self.last_error = str(error)
            if error.permanent:
                delay = REFUSED_RETRY_S * (1 + random.random() / 10)
                self._set_state(PublishState.REFUSED)
                log.warning("publish %s: refused: %s; trying again in %.0f s", self.name, error, delay)
                return delay
            delay = max(self._backoff.next_delay(), min(error.retry_after or 0, REFUSED_RETRY_S))
            self._set_state(PublishState.RETRYING)
            log.warning("publish %s: %s; trying again in %.1f s", self.name, error, delay)
            return delay
        except Exception as error:
            # Not the network or the server's word: our side cannot use what it got (an
            # answer aiortc refuses, say). Trying again at once would only repeat it.
            self.failures += 1
            self.last_error = f"could not set up the session: {error}"
            self._set_state(PublishState.FAILED)
            log.exception("publish %s: could not set up the session; trying again in a minute", self.name)
            return REFUSED_RETRY_S
        finally:
            await self._end_session(client)

    async def _publish(self, client: WhipClient) -> NoReturn:
        if self.state != PublishState.RETRYING:
            self._set_state(PublishState.CONNECTING)
        session = self._session = PublishSession(
            self._video, self._audio, self._payloads, self.config.ice_servers + self._link_ice_servers, self._wake.set
        )
        resource = self._resource = await client.offer(await session.offer())
        await asyncio.to_thread(self._remember, resource.url)
        if resource.ice_servers and not self._link_ice_servers:
            self._link_ice_servers = resource.ice_servers
            log.info(
                "publish %s: the server named %d ICE server(s); used from the next session",
                self.name,
                len(resource.ice_servers),
            )
        await session.accept(resource.answer)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                while not (session.connected.is_set() or session.ended.is_set()):
                    await self._next_wake()
        except TimeoutError:
            raise WhipError(f"no connection (ICE, DTLS) within {CONNECT_TIMEOUT_S:g} s of the answer") from None
        if not session.connected.is_set():
            raise WhipError("the connection failed (ICE, DTLS)")
        self._backoff.reset()
        self.sessions += 1
        self._path_lost = False
        self._set_state(PublishState.PUBLISHING)
        log.info("publish %s: publishing (session %d)", self.name, self.sessions)
        await self._keep(client, session)

    async def _keep(self, client: WhipClient, session: PublishSession) -> NoReturn:
        """Watch a publishing session; raises :class:`WhipError` with the reason when it has to end."""
        while True:
            await self._next_wake(CHECK_EVERY_S)
            if session.ended.is_set():
                raise WhipError("the connection closed")
            heard = session.last_report_at
            if heard is not None and time.monotonic() - heard > SILENCE_S:
                raise WhipError(f"the server sent no report for {SILENCE_S:g} s")
            if self._path_lost:
                self._path_lost = False
                await self._restart_ice(client, session)

    async def _restart_ice(self, client: WhipClient, session: PublishSession) -> None:
        resource = self._resource
        assert resource is not None
        if not resource.accepts_patch:
            raise WhipError("the network changed (the server takes no ICE restart)")
        self._set_state(PublishState.RECOVERING)
        started = time.monotonic()
        try:
            answer, etag = await client.restart(resource, await session.restart_fragment())
            self._resource = replace(resource, etag=etag or resource.etag)
            await session.restart_answered(answer)
            async with asyncio.timeout(RESTART_WAIT_S):
                await session.new_path.wait()
        except (WhipError, ValueError, TimeoutError) as error:
            raise WhipError(f"the network changed and the ICE restart failed ({error or 'no new path'})") from None
        self.ice_restarts += 1
        self.last_recovery_s = time.monotonic() - started
        self._set_state(PublishState.PUBLISHING)
        log.info(
            "publish %s: ICE restart: new path via %s in %.2f s", self.name, session.local_address, self.last_recovery_s
        )

    async def _end_session(self, client: WhipClient) -> None:
        session, resource = self._session, self._resource
        self._session = self._resource = None
        if session is not None:
            self._bytes_of_ended_sessions += session.bytes_sent
            await session.close()
        if resource is not None:
            try:
                async with asyncio.timeout(DELETE_TIMEOUT_S):
                    await client.delete(resource)
            except (WhipError, TimeoutError) as error:
                log.info("publish %s: could not end the session on the server: %s", self.name, error or "no answer")
            await asyncio.to_thread(self._remember, None)

    async def _end_stale_session(self, http: aiohttp.ClientSession) -> None:
        """DELETE the session a crash or power cut left on the server, with the endpoint and token that made it."""
        if self._resource_file is None:
            return
        try:
            stale = await asyncio.to_thread(record.load, self._resource_file)
        except (OSError, ValueError) as error:
            log.warning("publish %s: cannot read %s: %s", self.name, self._resource_file, error)
            return
        if stale is not None:
            log.info("publish %s: ending the session left from before", self.name)
            self._resource = WhipResource(url=stale.resource, answer="", etag=None)
            await self._end_session(WhipClient(http, stale.endpoint, stale.token, REQUEST_TIMEOUT_S, self.name))

    def _remember(self, url: str | None) -> None:
        """Keep (or forget) the current session's record; a failure only costs that."""
        if self._resource_file is None:
            return
        try:
            if url is None:
                record.forget(self._resource_file)
            else:
                record.save(self._resource_file, record.SessionRecord(url, self.config.url, self.config.token))
        except OSError as error:
            log.warning("publish %s: cannot keep the session's URL in %s: %s", self.name, self._resource_file, error)

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if the network changed meanwhile (see :meth:`network_changed`)."""
        self._wake.clear()
        self._retry_at = time.monotonic() + delay
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self._retry_at = None

    async def _next_wake(self, timeout: float | None = None) -> None:
        """Until something happened to the session or the network (or ``timeout``)."""
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _set_state(self, state: PublishState) -> None:
        if state != self.state:
            self.state = state
            self.since = time.monotonic()

    def status(self) -> PublishTargetStatus:
        local = self._session.local_address if self._session else None
        now = time.monotonic()
        return {
            "name": self.name,
            "server": server_of(self.config.url),
            "state": self.state,
            "since_s": round(now - self.since, 1),
            "retry_in_s": round(self._retry_at - now, 1) if self._retry_at is not None else None,
            "sessions": self.sessions,
            "ice_restarts": self.ice_restarts,
            "failures": self.failures,
            "bytes_sent": self.bytes_sent,
            "last_error": self.last_error,
            "last_recovery_s": round(self.last_recovery_s, 3) if self.last_recovery_s is not None else None,
            "local": f"{local[0]}:{local[1]}" if local else None,
        }
