"""After a crash, the session left on a WHIP server is ended with the token it was created with,
even when the configuration's ``url`` and ``token`` changed meanwhile: each token goes only to
its own endpoint. Two recording WHIP servers on loopback (two origins) and the real daemon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

pytestmark = pytest.mark.timeout(120)

WAIT_S = 30


@dataclass
class Server:
    """A WHIP server that logs each request's method, path and ``Authorization`` into ``log``."""

    name: str
    log: list[tuple[str, str, str, str | None]]
    takes_sessions: bool = False  # answer a POST with a session (else 403)
    hold_deletes: bool = False  # leave each DELETE unanswered until ``release`` is set
    requested: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.log.append((self.name, request.method, request.path, request.headers.get("Authorization")))
        self.requested.set()
        if request.method == "POST" and self.takes_sessions:
            # A session at /session/1 with an answer the camera cannot use: it ends it at once.
            return web.Response(
                status=201, text="v=0\r\n", headers={"Location": "/session/1"}, content_type="application/sdp"
            )
        if request.method == "DELETE":
            if self.hold_deletes:
                await self.release.wait()
            return web.Response(status=200)
        return web.Response(status=403, text="Unauthorized")


@asynccontextmanager
async def whip_server(name: str, log: list) -> AsyncIterator[Server]:
    server = Server(name, log)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    async with TestServer(app, host="127.0.0.1") as test_server:
        server.url = str(test_server.make_url("/whip"))
        try:
            yield server
        finally:
            server.release.set()


async def until(server: Server, what: str, predicate) -> None:
    """Until ``server`` has had a request that makes ``predicate(log)`` true."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not predicate(server.log):
                server.requested.clear()
                await server.requested.wait()
    except TimeoutError:
        raise AssertionError(f"no {what} within {WAIT_S} s; requests: {server.log}") from None


def publish_config(url: str, token: str) -> str:
    return f'[camera]\nwidth = 640\nheight = 360\n[[publish]]\nurl = "{url}"\ntoken = "{token}"\nname = "cam"\n'


async def test_a_stale_session_is_deleted_with_the_token_it_was_created_with(daemon_factory):
    log: list[tuple[str, str, str, str | None]] = []
    async with whip_server("old", log) as old, whip_server("new", log) as new:
        # The first daemon publishes to "old" and is killed (as a power cut would) while the
        # DELETE of its session is unanswered: the server still holds the session.
        old.takes_sessions = old.hold_deletes = True
        first = await asyncio.to_thread(daemon_factory, publish_config(old.url, "old-token"))
        await until(old, "the DELETE", lambda entries: any(e[1] == "DELETE" for e in entries))
        first.proc.kill()
        await asyncio.to_thread(first.proc.wait)
        kept = first.directory / "state" / "publish" / "cam.resource"
        assert kept.stat().st_mode & 0o777 == 0o600  # it holds the token
        old.hold_deletes = False
        old.release.set()
        log.clear()

        # The owner moved the camera to another server, with another token.
        again = await asyncio.to_thread(daemon_factory, publish_config(new.url, "new-token"), state_from=first)
        await until(new, "the POST", lambda entries: any(e[:2] == ("new", "POST") for e in entries))
        assert log[:2] == [
            ("old", "DELETE", "/session/1", "Bearer old-token"),
            ("new", "POST", "/whip", "Bearer new-token"),
        ], log
        assert not kept.exists()  # that session is over
        assert "publish cam: ending the session left from before" in again.log()
        assert "old-token" not in again.log() + first.log()
