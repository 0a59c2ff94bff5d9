"""In-place ICE restart over aioice's existing Connection: the bounded extension that does it.

aiortc 1.16 / aioice 0.13 cannot restart ICE: the answer to a restart repeats
the old credentials and candidates, and checks with the new ones get 401
(``docs/aiortc.md`` section 6). A restart here keeps the very same
``aioice.Connection`` (so the DTLS association, SRTP and SCTP on top carry on)
and gives it a new generation: new local and remote credentials, sockets for
addresses that appeared, none for addresses that vanished, an empty check
list. The browser's checks with the new credentials then arrive, aioice's
triggered checks succeed, the browser nominates, and ``check_complete`` makes
the new pair the nominated one. Until then the old nominated pair, and its
socket, stay: ``recv()`` raises when nothing is nominated, and that would close
the DTLS transport and with it the session.

This is the only module reaching into aiortc/aioice for it (``aiortc_ext`` has
the other reaches). What it touches, each checked by ``tests/test_aiortc_ext.py``:

aioice ``Connection``
    ``_local_username``/``_local_password``: the credentials behind the
    read-only ``local_username``/``local_password``, which authenticate
    incoming checks and sign their responses. ``remote_username``/
    ``remote_password`` (public). ``_protocols`` and ``_local_candidates``:
    sockets and what we offer; ``_transport_policy`` (relay: no host sockets
    are bound). ``get_component_candidates()``: binds sockets for
    given addresses; ``turn_server`` is cleared meanwhile so that a restart does
    not allocate a second relay. ``_check_list``, ``_remote_candidates``,
    ``_remote_candidates_end``: the old generation, dropped. ``_nominated`` and
    ``check_complete()``: wrapped on the instance to learn when a pair is
    nominated (an instance attribute shadows the method). As the offerer (the
    WHIP publisher) the restart starts the new pairs' checks itself with
    ``check_start_task()``: aioice's pacing loop ended with the first ``connect()``.
aiortc
    ``RTCIceTransport._connection``; ``RTCIceGatherer._remote_candidates_end``,
    which would otherwise make it ignore the new generation's candidates.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

import aioice.ice
from aioice import Candidate
from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCPeerConnection
from aiortc.rtcicetransport import RTCIceTransport

log = logging.getLogger(__name__)

COMPONENT = 1  # aiortc always multiplexes RTP and RTCP on one component
ICE_CHARS = string.ascii_letters + string.digits + "+/"
# A restart must answer quickly; with a STUN server configured, new addresses
# get their server-reflexive candidates only if the server answers in time.
STUN_TIMEOUT_S = 1


@dataclass(frozen=True, slots=True)
class LocalIce:
    """Our side of a new ICE generation, as it goes into the answer."""

    ufrag: str
    pwd: str
    candidates: tuple[str, ...]  # SDP candidate values (what follows "a=candidate:")


def ice_transport(pc: RTCPeerConnection) -> RTCIceTransport:
    """The one ICE transport of an answered, max-bundle peer connection."""
    transports = {t.receiver.transport.transport for t in pc.getTransceivers()}
    if pc.sctp is not None:
        transports.add(pc.sctp.transport.transport)
    if len(transports) != 1:
        raise RuntimeError(f"expected one bundled ICE transport, found {len(transports)}")
    return transports.pop()


def _ice_string(length: int) -> str:
    return "".join(secrets.choice(ICE_CHARS) for _ in range(length))


class IceAgent:
    """An ICE transport (one viewer's, see :func:`ice_transport`), restartable in place.

    ``on_selected(local_address)`` is called each time a pair is nominated
    after the first (by a restart, or by the browser switching paths itself).
    """

    def __init__(self, transport: RTCIceTransport, on_selected: Callable[[tuple[str, int]], None]) -> None:
        self._gatherer = transport.iceGatherer
        self._connection = transport._connection
        self._on_selected = on_selected
        self._retired: list[StunProtocol] = []  # address gone, socket kept for the nominated pair
        self._previous_remote: list[Candidate] = []  # the remote candidates of the generation before
        self._closing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.generation = 0

        original = self._connection.check_complete

        def check_complete(pair: CandidatePair) -> None:
            before = self._connection._nominated.get(COMPONENT)
            original(pair)
            after = self._connection._nominated.get(COMPONENT)
            if after is not None and after is not before and before is not None:
                self._selected(after)

        self._connection.check_complete = check_complete  # type: ignore[method-assign]

    @property
    def local_address(self) -> tuple[str, int] | None:
        """Our end of the nominated pair, if any."""
        pair = self._connection._nominated.get(COMPONENT)
        return pair.local_addr if pair is not None else None

    @property
    def local_type(self) -> str | None:
        """The type of our end of the nominated pair ("host", "srflx", "relay"), if any."""
        pair = self._connection._nominated.get(COMPONENT)
        return pair.local_candidate.type if pair is not None else None

    @property
    def has_relay(self) -> bool:
        """Whether we offer a TURN relay candidate."""
        return any(c.type == "relay" for c in self._connection.local_candidates)

    async def restart(self, remote_ufrag: str, remote_pwd: str) -> LocalIce:
        """Start a new generation with the browser's new credentials; returns ours."""
        async with self._lock:
            local = await self._new_generation()
            self._connection.remote_username = remote_ufrag
            self._connection.remote_password = remote_pwd
            return local

    async def restart_as_offerer(self) -> LocalIce:
        """Start a new generation of our own (we are the offerer); :meth:`answered` completes it.

        The remote credentials stay the old ones until then: a check that the
        peer sends before its answer reaches us fails, and its next one is
        checked again.
        """
        async with self._lock:
            return await self._new_generation()

    async def answered(self, remote_ufrag: str, remote_pwd: str, candidates: list[Candidate]) -> None:
        """The peer's side of our restart: its credentials and candidates (none: the previous
        generation's, as a server that kept its address sends none). Checks start at once:
        as the controlling agent aioice nominates the first pair that succeeds."""
        connection = self._connection
        connection.remote_username = remote_ufrag
        connection.remote_password = remote_pwd
        for candidate in candidates or [c for c in self._previous_remote if c.type != "prflx"]:
            await connection.add_remote_candidate(candidate)
        self.check_new_pairs()

    def check_new_pairs(self) -> None:
        """Start the checks of pairs that wait (after a restart, aioice's pacing loop has ended long ago).

        Without this, a candidate the peer trickles after a restart is paired and never
        checked: we never send to its address, so a TURN relay of ours never permits it,
        and only pairs the peer checks itself can work (seconds later, or never)."""
        if self.generation == 0:
            return  # the first generation's checks are aioice's own
        for pair in self._connection._check_list:
            if pair.state in (CandidatePair.State.FROZEN, CandidatePair.State.WAITING):
                self._connection.check_start_task(pair)

    async def _new_generation(self) -> LocalIce:
        """New local credentials and sockets for the addresses there are now, an empty check list."""
        connection = self._connection
        # Same rule as gathering (and our interface restriction, which replaces this function);
        # with the relay policy, none: the relay candidate stays the only one offered.
        addresses = (
            set(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True))
            if connection._transport_policy is aioice.ice.TransportPolicy.ALL
            else set()
        )
        bound = {p.local_candidate.host: p for p in self._host_protocols()}
        new = sorted(addresses - set(bound))
        gathered = await self._bind(new) if new else []

        # No await from here on: the new generation starts all at once.
        nominated = {pair.protocol for pair in connection._nominated.values()}
        for host, protocol in bound.items():
            if host in addresses:
                continue
            connection._local_candidates = [  # its host candidate, and server-reflexive ones based on it
                c for c in connection._local_candidates if c.type == "relay" or host not in (c.host, c.related_address)
            ]
            if protocol in nominated:
                self._retired.append(protocol)
            else:
                self._drop(protocol)
        connection._local_candidates += gathered
        for pair in connection._check_list:
            if pair.task is not None:
                pair.task.cancel()
        connection._check_list = []
        self._previous_remote = connection._remote_candidates
        connection._remote_candidates = []
        connection._remote_candidates_end = False
        self._gatherer._remote_candidates_end = False
        connection._local_username = _ice_string(8)
        connection._local_password = _ice_string(24)
        self.generation += 1
        log.debug("ICE generation %d: new %s, %d socket(s) retired", self.generation, new, len(self._retired))
        return LocalIce(
            connection.local_username,
            connection.local_password,
            tuple(c.to_sdp() for c in connection.local_candidates),
        )

    def _host_protocols(self) -> list[StunProtocol]:
        return [p for p in self._connection._protocols if p.local_candidate.type == "host" and p not in self._retired]

    async def _bind(self, addresses: list[str]) -> list[Candidate]:
        connection = self._connection
        turn_server, connection.turn_server = connection.turn_server, None
        try:
            return await connection.get_component_candidates(COMPONENT, addresses, timeout=STUN_TIMEOUT_S)
        finally:
            connection.turn_server = turn_server

    def _selected(self, pair: CandidatePair) -> None:
        for protocol in self._retired:
            if protocol is not pair.protocol:
                self._drop(protocol)
        self._retired = [p for p in self._retired if p is pair.protocol]
        self._on_selected(pair.local_addr)

    def _drop(self, protocol: StunProtocol) -> None:
        """Forget a socket and close it (in the background: closing awaits the transport)."""
        self._connection._protocols.remove(protocol)
        task = asyncio.create_task(protocol.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
