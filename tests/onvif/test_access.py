"""Who may use the ONVIF services: user ``edge`` with the token, by WS-UsernameToken digest or HTTP
Digest; the camera's clock for anyone. Clients: onvif-zeep-async (Home Assistant's), aiohttp's
Digest middleware, and raw SOAP for what no honest client sends (a replayed token)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import secrets
import string
import threading
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import requests
from defusedxml import ElementTree
from zeep.exceptions import Fault

from testbed.daemon import DaemonProcess
from testbed.onvif import ENV, ONVIF_CONFIG, onvif_camera, soap, username_token
from tests.security.guessing import try_tokens

TER = "http://www.onvif.org/ver10/error"
DEVICE_INFORMATION = "<tds:GetDeviceInformation/>"
GUESSING_ADDRESSES = 7  # x 5 wrong passwords: past the global budget of 30
BASE64_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"


def post(daemon: DaemonProcess, body: bytes, path: str = "/onvif/device_service", **headers: str) -> requests.Response:
    return requests.post(
        daemon.url + path,
        data=body,
        headers={"Content-Type": "application/soap+xml; charset=utf-8", **headers},
        timeout=10,
    )


def fault_subcodes(response: requests.Response) -> list[str]:
    """The fault's subcode values (``ter:NotAuthorized``, ...); fails when the answer is no SOAP fault."""
    root = ElementTree.fromstring(response.content)
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None, response.text
    return [value.text or "" for value in fault.iter(f"{{{ENV}}}Value")][1:]


def is_auth_error(fault: Fault) -> bool:
    """Home Assistant's test (homeassistant/components/onvif/util.py): a NotAuthorized subcode."""
    subcodes = fault.subcodes or []
    return any("NotAuthorized" in (code.text if hasattr(code, "text") else str(code)) for code in subcodes)


async def test_the_clock_is_open_to_anyone_and_right(onvif_daemon):
    camera = onvif_camera("127.0.0.1", onvif_daemon.port, None, None)
    try:
        device = await camera.create_devicemgmt_service()
        answer = await device.authless_GetSystemDateAndTime()
    finally:
        await camera.close()
    utc = answer.UTCDateTime
    told = datetime(
        utc.Date.Year, utc.Date.Month, utc.Date.Day, utc.Time.Hour, utc.Time.Minute, utc.Time.Second, tzinfo=UTC
    )
    assert abs(told - datetime.now(UTC)) < timedelta(seconds=5)


async def test_home_assistant_with_the_token_gets_in_and_with_a_wrong_one_is_told_so(onvif_daemon):
    right = onvif_camera("127.0.0.1", onvif_daemon.port, "edge", onvif_daemon.token)
    wrong = onvif_camera("127.0.0.1", onvif_daemon.port, "edge", "not-the-token-0123456789")
    try:
        await right.update_xaddrs()  # GetCapabilities: open, as ONVIF's PRE_AUTH set has it
        info = await (await right.create_devicemgmt_service()).GetDeviceInformation()
        assert info.Manufacturer == "edge"
        await wrong.update_xaddrs()
        with pytest.raises(Fault) as refused:
            await (await wrong.create_devicemgmt_service()).GetDeviceInformation()
        assert is_auth_error(refused.value), refused.value
        with pytest.raises(Fault) as refused:
            await (await wrong.create_media_service()).GetProfiles()
        assert is_auth_error(refused.value), refused.value
    finally:
        await right.close()
        await wrong.close()


def test_no_credentials_are_refused_with_a_digest_challenge(onvif_daemon):
    response = post(onvif_daemon, soap(DEVICE_INFORMATION))
    assert response.status_code == 401
    assert fault_subcodes(response) == ["ter:NotAuthorized"]
    assert response.headers["WWW-Authenticate"].startswith("Digest ")


def test_a_replayed_or_stale_username_token_is_refused(onvif_daemon):
    token = username_token("edge", onvif_daemon.token)
    first = post(onvif_daemon, soap(DEVICE_INFORMATION, token))
    assert first.status_code == 200, first.text
    again = post(onvif_daemon, soap(DEVICE_INFORMATION, token))
    assert (again.status_code, fault_subcodes(again)) == (400, ["ter:NotAuthorized"])
    assert "replayed" in again.text

    long_ago = (datetime.now(UTC) - timedelta(minutes=30)).isoformat(timespec="seconds").replace("+00:00", "Z")
    stale = post(onvif_daemon, soap(DEVICE_INFORMATION, username_token("edge", onvif_daemon.token, created=long_ago)))
    assert (stale.status_code, fault_subcodes(stale)) == (400, ["ter:NotAuthorized"])
    assert "GetSystemDateAndTime" in stale.text, "the fault says how to fix the clock difference"


def respelled(token: str, nonce: bytes) -> str:
    """``token`` with its nonce written otherwise: the same bytes, the unused bits of the last base64 group set."""
    canonical = base64.b64encode(nonce).decode()
    assert canonical.endswith("=="), "a 16-byte nonce leaves 4 unused bits"
    last = BASE64_ALPHABET.index(canonical[-3])
    other = canonical[:-3] + BASE64_ALPHABET[last | 0b1111] + "=="
    assert other != canonical and base64.b64decode(other) == nonce
    return token.replace(f">{canonical}<", f">{other}<")


def test_a_nonce_spelled_otherwise_is_no_new_nonce(daemon_factory):
    """Base64 of 16 bytes can be written 16 ways: a captured token re-spelled is still a replay.
    (A daemon of its own: the module's has counted other tests' wrong passwords from this address.)"""
    onvif_daemon = daemon_factory(ONVIF_CONFIG)
    nonce = secrets.token_bytes(16)
    token = username_token("edge", onvif_daemon.token, nonce=nonce)
    first = post(onvif_daemon, soap(DEVICE_INFORMATION, token))
    assert first.status_code == 200, first.text
    replayed = post(onvif_daemon, soap(DEVICE_INFORMATION, respelled(token, nonce)))
    assert (replayed.status_code, fault_subcodes(replayed)) == (400, ["ter:NotAuthorized"])

    fresh = secrets.token_bytes(16)
    only_respelled = respelled(username_token("edge", onvif_daemon.token, nonce=fresh), fresh)
    refused = post(onvif_daemon, soap(DEVICE_INFORMATION, only_respelled))
    assert (refused.status_code, fault_subcodes(refused)) == (400, ["ter:NotAuthorized"])
    assert "canonical base64" in refused.text, "the fault says what is wrong with the nonce"


@pytest.mark.parametrize(
    ("operation", "answer"),
    [
        ("GetWsdlUrl", "<tds:WsdlUrl>http://www.onvif.org/"),
        ("GetServices", "<tds:XAddr>"),
        ("GetServiceCapabilities", 'UsernameToken="true"'),
        ("GetCapabilities", "<tt:XAddr>"),
        ("GetHostname", "<tt:Name>"),
        ("GetSystemDateAndTime", "<tt:UTCDateTime>"),
        ("GetEndpointReference", "<tds:GUID>urn:uuid:"),
    ],
)
def test_every_pre_auth_operation_is_answered_without_credentials(onvif_daemon, operation, answer):
    """ONVIF Core's PRE_AUTH set: what a client asks before it can authenticate."""
    response = post(onvif_daemon, soap(f"<tds:{operation}/>"))
    assert response.status_code == 200, response.text
    assert answer in response.text


async def test_http_digest_works_for_the_services_and_the_snapshot(onvif_daemon):
    digest = aiohttp.DigestAuthMiddleware("edge", onvif_daemon.token)
    async with aiohttp.ClientSession(middlewares=(digest,)) as session:
        async with session.post(
            onvif_daemon.url + "/onvif/media_service",
            data=soap("<trt:GetProfiles/>"),
            headers={"Content-Type": "application/soap+xml"},
        ) as response:
            assert response.status == 200, await response.text()
            assert b"<tt:Encoding>H264</tt:Encoding>" in await response.read()
        async with session.get(onvif_daemon.url + "/api/snapshot.jpg") as response:
            assert response.status == 200
            assert (await response.read())[:2] == b"\xff\xd8"
    wrong = aiohttp.DigestAuthMiddleware("edge", "not-the-token-0123456789")
    async with (
        aiohttp.ClientSession(middlewares=(wrong,)) as session,
        session.get(onvif_daemon.url + "/api/snapshot.jpg") as response,
    ):
        assert response.status == 401


async def test_an_unknown_operation_gets_action_not_supported(onvif_daemon):
    camera = onvif_camera("127.0.0.1", onvif_daemon.port, "edge", onvif_daemon.token)
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        with pytest.raises(Fault) as refused:
            await device.SystemReboot()
    finally:
        await camera.close()
    subcodes = [code.text if hasattr(code, "text") else str(code) for code in refused.value.subcodes or []]
    assert any(code.endswith("ActionNotSupported") for code in subcodes), subcodes


def test_wrong_passwords_pile_up_to_a_pause_for_that_address(daemon_factory):
    daemon = daemon_factory(ONVIF_CONFIG)
    for _ in range(5):
        refused = post(daemon, soap(DEVICE_INFORMATION, username_token("edge", "guess-0123456789abcdef")))
        assert "wrong user or password" in refused.text
    right = post(daemon, soap(DEVICE_INFORMATION, username_token("edge", daemon.token)))
    assert right.status_code == 400 and "too many wrong passwords" in right.text


async def test_with_access_control_off_onvif_is_open_but_takes_only_soap(daemon_factory):
    """As the HTTP API then: anyone on the network; another site's page still cannot post to it
    (SOAP's content types need a CORS preflight, which the camera never grants)."""
    daemon = daemon_factory(ONVIF_CONFIG + "[auth]\nenabled = false\n")
    camera = onvif_camera("127.0.0.1", daemon.port, "", "")  # what Home Assistant sends with no user given
    try:
        await camera.update_xaddrs()
        info = await (await camera.create_devicemgmt_service()).GetDeviceInformation()
        assert info.Manufacturer == "edge"
        profiles = await (await camera.create_media_service()).GetProfiles()
        assert [profile.token for profile in profiles] == ["main", "low"]
    finally:
        await camera.close()
    as_a_form = post(
        daemon, soap(DEVICE_INFORMATION), **{"Content-Type": "text/plain", "Origin": "http://evil.example"}
    )
    assert as_a_form.status_code == 415
    assert fault_subcodes(as_a_form) == ["ter:InvalidArgs"]


def onvif_guess(daemon: DaemonProcess, source: str) -> str:
    """A WS-UsernameToken with a wrong password from ``source`` (a loopback address); the fault's reason."""
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30, source_address=(source, 0))
    try:
        body = soap(DEVICE_INFORMATION, username_token("edge", "guess-0123456789abcdef"))
        connection.request("POST", "/onvif/device_service", body, {"Content-Type": "application/soap+xml"})
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def test_wrong_onvif_passwords_slow_the_http_apis_guessing_too(daemon_factory):
    """ONVIF and the HTTP API take the same token: guesses at either count in one global budget
    (docs/security.md: 30 a minute from all addresses), so ONVIF is no way around the API's."""
    daemon = daemon_factory(ONVIF_CONFIG)
    for n in range(GUESSING_ADDRESSES):  # 5 from each: no address over its own ONVIF limit
        for _ in range(5):
            assert "wrong user or password" in onvif_guess(daemon, f"127.0.0.{100 + n}")
    fresh = [f"127.0.0.{200 + n}" for n in range(8)]  # one guess each, at once: none over its own allowance
    api = try_tokens(daemon.url, fresh, "not-the-token-at-all-0000")
    assert {a.status for a in api} == {401, 429}, "the budget ONVIF spent slows the API's guesses"
    (right,) = try_tokens(daemon.url, fresh[:1], daemon.token)
    assert right.status == 200 and right.seconds < 2.0, right


def guess_until(daemon: DaemonProcess, source: str, stop: threading.Event, refused: threading.Event) -> None:
    """From ``source``, once a second: a wrong ONVIF password and a wrong API token, until ``stop``;
    ``refused`` is set once the API refuses a guess unchecked (the global budget is spent)."""
    while not stop.is_set():
        onvif_guess(daemon, source)
        connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30, source_address=(source, 0))
        try:
            connection.request("GET", "/api/session", headers={"Authorization": "Bearer not-the-token-at-all-0000"})
            if connection.getresponse().status == 429:
                refused.set()
        finally:
            connection.close()
        stop.wait(1.0)


def right_password_from(daemon: DaemonProcess, source: str) -> tuple[int, str | None, bytes]:
    """A request with the right WS-UsernameToken from ``source`` (a loopback address): status, Retry-After, body."""
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30, source_address=(source, 0))
    try:
        body = soap(DEVICE_INFORMATION, username_token("edge", daemon.token))
        connection.request("POST", "/onvif/device_service", body, {"Content-Type": "application/soap+xml"})
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read()
    finally:
        connection.close()


async def test_home_assistant_is_still_served_while_thirty_addresses_guess(daemon_factory):
    """Home Assistant added the camera; then 30 addresses guess through ONVIF and the API. Its requests are still
    answered, never with ter:NotAuthorized (which makes HA ask the user for the password again); a client new to
    the camera with the right password is at worst told to come back later (503, env:Receiver), never that its
    password is wrong."""
    daemon = daemon_factory(ONVIF_CONFIG)
    camera = onvif_camera("127.0.0.1", daemon.port, "edge", daemon.token)
    stop, budget_spent = threading.Event(), threading.Event()
    guessers = [
        threading.Thread(target=guess_until, args=(daemon, f"127.0.0.{100 + n}", stop, budget_spent)) for n in range(30)
    ]
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        assert (await device.GetDeviceInformation()).Manufacturer == "edge"
        for guesser in guessers:
            guesser.start()
        assert await asyncio.to_thread(budget_spent.wait, 60), "the guessers spent the global budget"
        refused = []
        for _ in range(20):
            try:
                await device.GetDeviceInformation()
            except Fault as fault:
                refused.append(fault.message)
        newcomer = [await asyncio.to_thread(right_password_from, daemon, "127.0.0.250") for _ in range(5)]
    finally:
        stop.set()
        for guesser in guessers:
            if guesser.is_alive():
                guesser.join()
        await camera.close()
    assert refused == [], f"{len(refused)} of Home Assistant's 20 requests refused: {refused[:1]}"
    assert {status for status, _, _ in newcomer} <= {200, 503}, newcomer
    busy = [(retry_after, body) for status, retry_after, body in newcomer if status == 503]
    assert busy, "the newcomer's turn was taken by the guessers"
    for retry_after, body in busy:
        assert int(retry_after or 0) >= 1
        assert b"env:Receiver" in body and b"NotAuthorized" not in body, body


def test_what_checks_no_password_is_no_guess(daemon_factory):
    """A PasswordText token, a nonce spelled otherwise and the right password with the clock off are refused but
    not counted as guesses: a client with a wrong clock or an old library is not paused, and then gets in."""
    daemon = daemon_factory(ONVIF_CONFIG)
    long_ago = (datetime.now(UTC) - timedelta(minutes=30)).isoformat(timespec="seconds").replace("+00:00", "Z")
    for _ in range(3):  # 9 refused, past the 5 wrong passwords that pause an address
        as_text = username_token("edge", daemon.token).replace("#PasswordDigest", "#PasswordText")
        nonce = secrets.token_bytes(16)
        for header in (
            as_text,
            respelled(username_token("edge", daemon.token, nonce=nonce), nonce),
            username_token("edge", daemon.token, created=long_ago),
        ):
            refused = post(daemon, soap(DEVICE_INFORMATION, header))
            assert (refused.status_code, fault_subcodes(refused)) == (400, ["ter:NotAuthorized"]), refused.text
            assert "wrong" not in refused.text and "too many" not in refused.text, refused.text
    right = post(daemon, soap(DEVICE_INFORMATION, username_token("edge", daemon.token)))
    assert right.status_code == 200, right.text
