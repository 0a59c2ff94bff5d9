"""Access control: every route but the page and /healthz needs the token."""

from __future__ import annotations

import os
import re
import stat
import time

import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer

from edge.app import Daemon
from edge.config import parse_config
from edge.hardware import open_hardware
from edge.media.snapshot import Snapshots
from edge.security.auth import AUTHENTICATOR_KEY, PUBLIC_PATHS
from testbed.daemon import TEST_TOKEN
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_live


async def test_every_route_but_the_public_ones_needs_the_token(tmp_path):
    """Walks the application's real route table, so routes added later are covered too."""
    config = parse_config({"auth": {"token": TEST_TOKEN}, "server": {"state_dir": str(tmp_path)}})
    daemon = Daemon(config, open_hardware(config, force_simulated=True))
    daemon.snapshots = Snapshots(daemon.video, timeout_s=0)  # no camera runs here: a 503 at once, not after 5 s
    app = daemon.make_app()
    limiter = app[AUTHENTICATOR_KEY].limiter
    async with TestClient(TestServer(app)) as client:
        checked = 0
        for route in app.router.routes():
            if route.method in ("OPTIONS", "HEAD", "*"):
                continue
            info = route.resource.get_info()
            path = info.get("path") or re.sub(r"\{[^}]+\}", "x", info.get("formatter", "")) or info.get("prefix", "")
            if path in PUBLIC_PATHS or path.startswith("/static"):
                continue
            for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}):
                response = await client.request(route.method, path, headers=headers, data=b"")
                assert response.status == 401, f"{route.method} {path} without the token: {response.status}"
            limiter.forget("127.0.0.1")  # brute-force slowing has its own test
            response = await client.request(
                route.method, path, headers={"Authorization": f"Bearer {TEST_TOKEN}"}, data=b""
            )
            assert response.status not in (401, 429), f"{route.method} {path} with the token: {response.status}"
            checked += 1
        assert checked >= 4  # /whep POST, PATCH, DELETE, /api/session at least
        for public in ("/", "/healthz", "/static/viewer.js"):
            assert (await client.get(public)).status == 200


def test_token_is_generated_once_with_mode_0600_and_printed_as_a_url(daemon_factory, tmp_path):
    daemon = daemon_factory(CAMERA_SMALL + "[auth]\n")  # no token configured
    token_file = tmp_path / "d0" / "state" / "token"
    token = token_file.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    deadline = time.monotonic() + 10
    while f"?token={token}" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the line follows the "listening" line the start helper waits for
    assert f"?token={token}" in daemon.log()
    daemon.token = token
    assert daemon.request("GET", "/api/session").status_code == 200
    public = requests.get(daemon.url + "/healthz")
    assert token not in public.text
    # Open to anyone, so only "does it work": no session ids or addresses, nothing about clips,
    # triggers or inputs.
    summary = public.json()
    assert set(summary) <= {"status", "version", "camera", "microphone", "storage", "viewers", "sessions"}
    for session in summary.get("sessions", []):
        assert all(isinstance(v, (int, float, type(None))) for v in session.values())
    daemon.stop()
    again = daemon_factory(CAMERA_SMALL + "[auth]\n", state_from=daemon)
    assert token_file.read_text().strip() == token  # kept across restarts
    assert "?token=" not in again.log()  # printed once, when made


def test_login_is_checked_and_bad_bodies_get_a_reason(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    assert requests.post(daemon.url + "/auth/login", data="nonsense").status_code == 400
    assert requests.post(daemon.url + "/auth/login", json={"token": 5}).status_code == 400
    wrong = requests.post(daemon.url + "/auth/login", json={"token": "x" * 20})
    assert wrong.status_code == 401 and wrong.text == "wrong token\n"
    good = requests.post(daemon.url + "/auth/login", json={"token": TEST_TOKEN})
    assert good.status_code == 204
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = requests.get(daemon.url + "/api/session", cookies=good.cookies)
    assert session.status_code == 200
    forged = requests.get(daemon.url + "/api/session", cookies={"edge_session": "99999999999.x.deadbeef"})
    assert forged.status_code == 401


def test_the_page_logs_in_with_the_url_token_and_forgets_it(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)  # /?token=...
    wait_live(page)
    page.wait_for_function("() => !location.search.includes('token')")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["edge_session"]["httpOnly"] and cookies["edge_session"]["sameSite"] == "Strict"
    # A reload, without the token in the address, still plays: the session cookie.
    page.reload()
    wait_live(page)


def test_the_page_asks_for_the_token_when_it_has_none(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon, url=daemon.url + "/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-token", "wrong-token-wrong-token")
    page.click("#login button[type=submit]")
    page.wait_for_function("() => document.querySelector('.login-error').textContent.includes('wrong token')")
    # The refused session's end (Chromium shows a black frame then) is no picture from the camera.
    assert page.evaluate("window.edgeViewer.firstFrameAt") is None, "a first frame was reported before logging in"
    page.fill("#login-token", TEST_TOKEN)
    page.click("#login button[type=submit]")
    wait_live(page)
    state = page.evaluate("JSON.stringify({...window.edgeViewer, pc: undefined})")
    assert page.is_hidden("#login"), (
        f"the login form is still shown; page: {state}; daemon log:\n{daemon.log()[-2000:]}"
    )


def test_https_with_a_self_signed_certificate(daemon_factory, tmp_path):
    daemon = daemon_factory(CAMERA_SMALL + "[server]\nhttps = true\n")
    url = daemon.url.replace("http://", "https://")
    tls = tmp_path / "d0" / "state" / "tls"
    response = requests.get(url + "/healthz", verify=tls / "cert.pem")  # valid for 127.0.0.1
    assert response.status_code == 200
    assert stat.S_IMODE(os.stat(tls / "key.pem").st_mode) == 0o600
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url + "/healthz")  # not trusted by default: self-signed
    assert "https://" in daemon.log()


def test_viewer_limit_and_pending_sessions_reaped(daemon_factory):
    from tests.offers import make_offer

    daemon = daemon_factory(
        CAMERA_SMALL.replace(
            "[camera]", '[webrtc]\ninterfaces = ["lo"]\nmax_viewers = 2\npending_timeout = 2\n[camera]'
        ),
        loopback_only=False,
    )
    offer = make_offer()
    headers = {"Content-Type": "application/sdp"}
    first = daemon.request("POST", "/whep", data=offer, headers=headers)
    second = daemon.request("POST", "/whep", data=offer, headers=headers)
    assert first.status_code == second.status_code == 201
    third = daemon.request("POST", "/whep", data=offer, headers=headers)
    assert third.status_code == 503 and int(third.headers["Retry-After"]) > 0
    assert "maximum of 2 viewers" in third.text
    # Nobody ever connects to those two sessions: the reaper closes them.
    deadline = time.monotonic() + 20
    while daemon.health()["viewers"] and time.monotonic() < deadline:
        time.sleep(0.2)  # polling the daemon's state: there is no event to wait on from outside
    assert daemon.health()["viewers"] == 0
    assert daemon.request("POST", "/whep", data=offer, headers=headers).status_code == 201
