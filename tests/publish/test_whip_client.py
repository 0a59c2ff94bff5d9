"""The WHIP client's requests and how it reads answers, against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from edge.publish.whip import WhipClient, WhipError, origin
from edge.webrtc.ice_servers import ice_servers_from_links

ANSWER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
RESTART_ANSWER = "a=ice-ufrag:abcd\r\na=ice-pwd:" + "p" * 24 + "\r\n"
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def server():
    async with recording_server() as started:
        yield started


@pytest.fixture
async def other_server():
    """Another server like ``server``, on another port: another origin."""
    async with recording_server() as started:
        yield started


@asynccontextmanager
async def recording_server() -> AsyncIterator[tuple[TestServer, list[tuple[str, str, dict, str]], dict]]:
    """A WHIP endpoint at /whip on loopback whose answer each test sets; it records every request."""
    seen: list[tuple[str, str, dict, str]] = []
    reply: dict = {
        "status": 201,
        "body": ANSWER,
        "headers": {
            "Location": "resource/1",
            "ETag": '"a"',
            "Accept-Patch": "application/trickle-ice-sdpfrag",
            "Link": '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="c"',
        },
    }

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path, dict(request.headers), await request.text()))
        if reply.get("hang"):
            await asyncio.Event().wait()
        return web.Response(
            status=reply["status"], text=reply["body"], headers=reply["headers"], content_type="application/sdp"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield test_server, seen, reply


async def test_an_offer_is_posted_as_sdp_with_the_token_and_the_location_is_made_absolute(server):
    test_server, seen, _ = server
    async with aiohttp.ClientSession() as http:
        client = WhipClient(http, str(test_server.make_url("/whip/endpoint/cam")), "s3cret")
        resource = await client.offer("v=0\r\n")
        await client.delete(resource)
    method, path, headers, body = seen[0]
    assert (method, path, body) == ("POST", "/whip/endpoint/cam", "v=0\r\n")
    assert headers["Content-Type"] == "application/sdp"  # exactly: a charset gets 406 from some servers
    assert headers["Authorization"] == "Bearer s3cret"
    assert resource.url == str(test_server.make_url("/whip/endpoint/resource/1"))
    assert resource.answer == ANSWER and resource.etag == '"a"' and resource.accepts_patch
    assert resource.ice_servers == (
        {"urls": "turn:turn.example.net?transport=udp", "username": "u", "credential": "c"},
    )
    assert seen[1][:2] == ("DELETE", "/whip/endpoint/resource/1")
    assert seen[1][2]["Authorization"] == "Bearer s3cret"  # the session is on the endpoint's origin


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (401, True), (403, True), (404, True), (409, False), (429, False), (500, False), (503, False)],
)
async def test_refusals_say_whether_trying_again_can_help(server, status, permanent):
    test_server, _, reply = server
    reply.update(status=status, body="Unauthorized\n", headers={"Retry-After": "7"})
    async with aiohttp.ClientSession() as http:
        with pytest.raises(WhipError) as refused:
            await WhipClient(http, str(test_server.make_url("/whip"))).offer("v=0\r\n")
    assert refused.value.status == status and refused.value.permanent is permanent
    assert str(refused.value) == f"{status} Unauthorized" and refused.value.retry_after == 7


async def test_a_server_that_never_answers_costs_the_timeout_and_no_more(server):
    test_server, _, reply = server
    reply["hang"] = True
    async with aiohttp.ClientSession() as http:
        client = WhipClient(http, str(test_server.make_url("/whip")), timeout=0.5)
        with pytest.raises(WhipError, match=r"no answer within 0\.5 s") as hung:
            await asyncio.wait_for(client.offer("v=0\r\n"), 5)
    assert hung.value.status is None and not hung.value.permanent
    assert "/whip" not in str(hung.value)  # the path may be the secret (Cloudflare's is): never in a message


async def test_nobody_listening_is_a_transient_failure():
    async with aiohttp.ClientSession() as http:
        with pytest.raises(WhipError) as refused:
            await WhipClient(http, "http://127.0.0.1:9/whip").offer("v=0\r\n")
    assert refused.value.status is None and not refused.value.permanent


async def test_an_ice_restart_is_patched_with_if_match_and_gives_the_new_etag(server):
    test_server, seen, reply = server
    async with aiohttp.ClientSession() as http:
        client = WhipClient(http, str(test_server.make_url("/whip")))
        resource = await client.offer("v=0\r\n")
        reply.update(status=200, body=RESTART_ANSWER, headers={"ETag": '"b"'})
        fragment, etag = await client.restart(resource, "a=ice-ufrag:wxyz\r\n")
    method, _, headers, body = seen[1]
    assert method == "PATCH" and headers["If-Match"] == '"a"' and body == "a=ice-ufrag:wxyz\r\n"
    assert headers["Content-Type"] == "application/trickle-ice-sdpfrag"
    assert fragment.startswith("a=ice-ufrag:abcd") and etag == '"b"'


async def test_a_session_on_another_origin_gets_its_patch_and_delete_without_the_token(server, other_server, caplog):
    endpoint, seen, reply = server
    elsewhere, seen_elsewhere, reply_elsewhere = other_server
    reply["headers"] = {**reply["headers"], "Location": str(elsewhere.make_url("/session/1"))}
    reply_elsewhere.update(status=200, body=RESTART_ANSWER, headers={"ETag": '"b"'})
    caplog.set_level(logging.INFO, logger="edge.publish")
    async with aiohttp.ClientSession() as http:
        client = WhipClient(http, str(endpoint.make_url("/whip")), "s3cret")
        resource = await client.offer("v=0\r\n")
        for _ in range(2):  # two ICE restarts
            await client.restart(resource, "a=ice-ufrag:wxyz\r\n")
        await client.delete(resource)
    assert [request[:2] for request in seen_elsewhere] == [
        ("PATCH", "/session/1"),
        ("PATCH", "/session/1"),
        ("DELETE", "/session/1"),
    ]
    assert [{name.lower() for name in headers} & {"authorization"} for _, _, headers, _ in seen_elsewhere] == [
        set()
    ] * 3
    assert [(method, headers["Authorization"]) for method, _, headers, _ in seen] == [("POST", "Bearer s3cret")]
    told = [r.getMessage() for r in caplog.records if "another origin" in r.getMessage()]
    assert len(told) == 1, told  # once, not per request
    assert f"another origin, http://127.0.0.1:{elsewhere.port} " in told[0] and "without the token" in told[0]
    assert "s3cret" not in caplog.text and "/session/1" not in caplog.text


def test_origins_compare_scheme_host_and_port_with_default_ports_made_explicit():
    assert origin("https://Media.Example.net/whip") == origin("https://media.example.net:443/session/9")
    assert origin("http://[2001:db8::1]/whip") == origin("http://[2001:DB8::1]:80/x")
    assert origin("https://media.example.net/whip") != origin("http://media.example.net/whip")
    assert origin("https://media.example.net/whip") != origin("https://media.example.net:8443/whip")
    assert origin("https://media.example.net/whip") != origin("https://node2.media.example.net/whip")


def test_ice_servers_come_from_link_headers():
    links = [
        '<stun:stun.example.net>; rel="ice-server"',
        '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="a;b,c";'
        ' credential-type="password", <https://example.net/doc>; rel="help"',
        '<stun:[2001:db8::1]:3478>; rel="ice-server"',
    ]
    assert ice_servers_from_links(links) == (
        {"urls": "stun:stun.example.net"},
        {"urls": "turn:turn.example.net?transport=udp", "username": "user", "credential": "a;b,c"},
        {"urls": "stun:[2001:db8::1]:3478"},
    )
