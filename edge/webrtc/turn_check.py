"""Does the TURN server give us a relay? One Allocate, as a viewer's session would make it.

:func:`check_turn` is what ``edge doctor`` runs; :class:`TurnWatch` runs it in the
daemon, so that a TURN server that is down costs LAN viewers nothing: while it
does not answer, new sessions are made without it (with ``ice_transport_policy =
"relay"`` they keep it: there is nothing else to offer), and it is checked again
in the background until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

from aioice import stun
from aioice.turn import create_turn_endpoint

from edge.service import BackgroundTask
from edge.webrtc.ice_servers import IceServerList, RelayServer

log = logging.getLogger(__name__)

RECHECK_OK_S = 300.0  # a working server is checked this often
RECHECK_FAILING_S = 15.0  # a failing one this often, until it answers
# A check delays nobody: it may wait longer than a viewer's answer does (turn_timeout), so that
# a server that is merely slow (or a Pi busy starting up) is not called unreachable.
CHECK_TIMEOUT_S = 5.0
RELEASE_TIMEOUT_S = 1.0  # for the server to confirm the check's allocation is gone
# Unauthorized, Forbidden, Allocation Mismatch, Stale Nonce, Wrong Credentials
REFUSED_CODES = (401, 403, 437, 438, 441)


class TurnState(StrEnum):
    OFF = "off"  # no TURN server configured
    CHECKING = "checking"  # the first check has not ended
    OK = "ok"  # it gave us a relay address
    UNREACHABLE = "unreachable"  # no answer, no connection, or TLS failed
    REFUSED = "refused"  # it answered, and refused the allocation (credentials, quota)


@dataclass(frozen=True, slots=True)
class TurnCheck:
    state: TurnState
    detail: str  # the relayed address, or what went wrong
    seconds: float  # how long the check took


async def check_turn(server: RelayServer, timeout: float) -> TurnCheck:
    """Allocate a relay on ``server`` (and release it at once)."""
    started = time.monotonic()

    def result(state: TurnState, detail: str) -> TurnCheck:
        return TurnCheck(state, detail, time.monotonic() - started)

    closed = asyncio.get_running_loop().create_future()

    class Released(asyncio.DatagramProtocol):
        def connection_lost(self, exc: Exception | None) -> None:  # aioice: once the allocation is deleted
            if not closed.done():
                closed.set_result(None)

    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(
                Released,
                server.address,
                server.username,
                server.password,
                ssl=server.tls,
                transport=server.transport,
            ),
            timeout,
        )
    except TimeoutError:
        return result(TurnState.UNREACHABLE, f"no answer within {timeout:g} s")
    except stun.TransactionFailed as exc:
        code = exc.response.attributes.get("ERROR-CODE", (0, ""))[0]
        return result(TurnState.REFUSED if code in REFUSED_CODES else TurnState.UNREACHABLE, str(exc))
    except Exception as exc:  # no connection, no answer, TLS refused, or anything else aioice raises
        return result(TurnState.UNREACHABLE, str(exc) or type(exc).__name__)
    relayed = transport.get_extra_info("sockname")
    checked = result(TurnState.OK, f"relay address {relayed[0]}:{relayed[1]}")
    transport.close()  # deletes the allocation on the server
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closed, RELEASE_TIMEOUT_S)
    return checked


class TurnStatus(TypedDict):
    state: TurnState
    server: str | None  # the TURN server the camera allocates on, without credentials
    detail: str | None
    checked_s_ago: float | None
    check_s: float | None  # how long the last check took


class TurnWatch:
    """Checks the camera's TURN server now and then, and says whether new sessions should use it."""

    name = "turn"

    def __init__(self, servers: IceServerList, timeout: float) -> None:
        self._servers = servers
        self._timeout = timeout
        self._task = BackgroundTask("TURN check")
        self._recheck = asyncio.Event()
        self._last: TurnCheck | None = None
        self._checked_at: float | None = None
        self._server = servers.relay()
        self._strict = False  # whether a check must answer within turn_timeout (not CHECK_TIMEOUT_S) to count

    @property
    def state(self) -> TurnState:
        if self._server is None:
            return TurnState.OFF
        return self._last.state if self._last is not None else TurnState.CHECKING

    @property
    def usable(self) -> bool:
        """Whether a new session should ask for a relay: not while the server is known not to answer."""
        return self.state in (TurnState.OK, TurnState.CHECKING)

    def relay_missing(self) -> None:
        """A session asked for a relay and got none in time: leave the server out until it answers
        within turn_timeout again (a refusing server stays refused: the check said why)."""
        if self._server is None or self.state is TurnState.REFUSED:
            return
        if self.state is not TurnState.UNREACHABLE:
            log.warning("TURN server %s gave a viewer no relay within %g s", self._server.url, self._timeout)
        self._record(TurnCheck(TurnState.UNREACHABLE, f"a viewer got no relay within {self._timeout:g} s", 0.0))
        self._strict = True  # back in use once it answers within turn_timeout, not merely within 5 s
        self._recheck.set()

    async def start(self) -> None:
        if self._server is not None:
            self._task.start(self._watch())

    async def stop(self) -> None:
        await self._task.stop()

    def status(self) -> TurnStatus:
        last = self._last
        return {
            "state": self.state,
            "server": self._server.url if self._server is not None else None,
            "detail": last.detail if last is not None else None,
            "checked_s_ago": round(time.monotonic() - self._checked_at, 1) if self._checked_at is not None else None,
            "check_s": round(last.seconds, 3) if last is not None else None,
        }

    async def _watch(self) -> None:
        while True:
            self._recheck.clear()
            server = self._servers.relay()  # fresh credentials each time
            assert server is not None, "only watched when configured"
            check = await check_turn(server, max(self._timeout, CHECK_TIMEOUT_S))
            if self._strict and check.state is TurnState.OK and check.seconds > self._timeout:
                check = TurnCheck(  # a viewer would go without again
                    TurnState.UNREACHABLE,
                    f"answers in {check.seconds:.1f} s, more than turn_timeout ({self._timeout:g} s)",
                    check.seconds,
                )
            if check.state is not TurnState.OK and (self._last is None or self._last.state is TurnState.OK):
                log.warning("TURN server %s: %s (%s)", server.url, check.state, check.detail)
            elif check.state is TurnState.OK and self._last is not None and self._last.state is not TurnState.OK:
                log.info("TURN server %s answers again", server.url)
            self._record(check)
            self._strict = check.state is not TurnState.OK
            wait = RECHECK_OK_S if check.state is TurnState.OK else RECHECK_FAILING_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck.wait(), wait)

    def _record(self, check: TurnCheck) -> None:
        self._last = check
        self._checked_at = time.monotonic()
