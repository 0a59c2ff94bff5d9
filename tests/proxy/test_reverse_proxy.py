"""The camera behind Debian's nginx and Caddy at ``https://127.0.0.1:<port>/cam/`` with a self-signed certificate,
each running the configuration docs/examples shows: the page logs in with the token, plays, loads the snapshot,
restarts ICE and plays a clip, in Chromium and in Firefox, and every request the browser makes stays under
``/cam/`` (the proxy's own access log says so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from testbed.browser import CHROMIUM, CHROMIUM_ARGS, FRAME_CODE_JS, ChromiumPage, warm_up_webrtc
from testbed.clips import CAMERA, play_in_the_recordings_panel, wait_buffered, wait_finished, wait_for
from testbed.daemon import DaemonProcess
from testbed.firefox import FirefoxPage, firefox
from testbed.proxy import PREFIX, Caddy, Certificate, LoggedRequest, Nginx, Proxy, running
from tests.offers import make_offer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PIN = 17
CONFIG = (
    CAMERA
    + '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
    + f'[recording]\npre_seconds = 1\npost_seconds = 1\n[[triggers]]\nname = "doorbell"\npin = {PIN}\nmode = "hold"\n'
)
Page = ChromiumPage | FirefoxPage


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return Certificate.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def chromium_trusting(certificate: Certificate):
    """A Chromium that takes the test's certificate, as a person's that accepted it once: for every request,
    also the DELETE a leaving page sends with ``keepalive`` (a context's ``ignore_https_errors`` leaves that one
    to fail its TLS handshake when it needs a new connection)."""
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={certificate.spki_sha256()}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        warm_up_webrtc(browser)
        yield browser
        browser.close()


@pytest.fixture(params=[Nginx, Caddy], ids=["nginx", "caddy"])
def behind_proxy(request, daemon_factory, tmp_path: Path, certificate) -> Iterator[tuple[DaemonProcess, Proxy]]:
    daemon = daemon_factory(CONFIG)
    with running(request.param(tmp_path / "proxy", daemon.port, certificate)) as proxy:
        yield daemon, proxy


def through(proxy: Proxy, daemon: DaemonProcess, method: str, path: str, **kwargs) -> requests.Response:
    """A script's request to the camera through the proxy (Bearer token; the test's certificate)."""
    headers = {**daemon.auth, **kwargs.pop("headers", {})}
    return requests.request(method, proxy.url + path, headers=headers, verify=str(proxy.cert), timeout=10, **kwargs)


def frames_advance(page: Page, what: str) -> None:
    before = page.evaluate(f"({FRAME_CODE_JS})().frameIndex")
    page.wait_for(f"({FRAME_CODE_JS})().frameIndex >= {before + 15}", 10, what=what)


def watch_through(page: Page, daemon: DaemonProcess, proxy: Proxy) -> None:
    """What a person does at https://home.example/cam: open the printed address, watch, look at a clip."""
    # The address without its final slash: the proxy sends the browser to /cam/, token and all.
    page.goto(f"{proxy.url.rstrip('/')}?token={daemon.token}")
    try:
        page.wait_for("window.edgeViewer && window.edgeViewer.firstFrameAt !== null", 30, what="the first frame")
    except Exception as error:  # either browser's timeout: say what the page and the daemon saw
        state = page.evaluate("JSON.stringify({...window.edgeViewer, pc: undefined, lipSync: undefined})")
        raise AssertionError(f"no video within 30 s; the page: {state}\n{daemon.log()[-3000:]}") from error
    page.wait_for(f"window.location.pathname === '{PREFIX}/' && !window.location.search", 15, what="the login")
    frames_advance(page, "live frames")

    size = page.evaluate_async(
        "const img = new Image(); img.src = 'api/snapshot.jpg'; await img.decode();"
        "return [img.naturalWidth, img.naturalHeight];"
    )
    assert size == [640, 360], size

    page.evaluate("window.__pcBefore = window.edgeViewer.pc")
    result = page.evaluate_async("await window.edgeViewer.restartIce(); return 'restarted';")
    assert result == "restarted", result
    assert page.evaluate("window.edgeViewer.pc === window.__pcBefore"), "a new peer connection"
    (session,) = daemon.health()["sessions"]
    assert session["ice"]["restarts"] == 1, session  # the restart PATCH reached the daemon
    frames_advance(page, "frames after the ICE restart")

    wait_buffered(daemon, 1)
    assert through(proxy, daemon, "POST", f"api/sim/gpio/{PIN}", json={"active": True}).status_code == 200
    wait_for(daemon.health, lambda h: h["recording"]["state"] == "recording", 10, "the doorbell's clip to start")
    assert through(proxy, daemon, "POST", f"api/sim/gpio/{PIN}", json={"active": False}).status_code == 200
    (clip,) = wait_finished(daemon)
    assert through(proxy, daemon, "GET", "metrics").status_code == 200
    listed = through(proxy, daemon, "GET", "api/recordings").json()
    assert listed[0]["url"] == f"{PREFIX}/recordings/{clip['name']}", listed[0]
    play_in_the_recordings_panel(page, clip["name"])
    source = page.evaluate("document.querySelector('#rec-player video').currentSrc")
    assert source == f"{proxy.url}recordings/{clip['name']}", source
    page.goto("about:blank")  # leaving: the page DELETEs its session, if the browser sends it in time

    # A WHEP player (a script) ends its session at the Location it was given, resolved as RFC 3986 says.
    created = through(proxy, daemon, "POST", "whep", data=make_offer(), headers={"Content-Type": "application/sdp"})
    assert created.status_code == 201, created.text
    resource = urljoin(created.url, created.headers["Location"])
    assert resource.startswith(f"{proxy.url}whep/"), resource
    deleted = requests.delete(resource, headers=daemon.auth, verify=str(proxy.cert), timeout=10)
    assert deleted.status_code == 200, deleted.text


def assert_all_under_the_prefix(proxy: Proxy) -> list[LoggedRequest]:
    """Every request the proxy saw (the browser's and the test's) was for /cam/..., or /cam to be sent there."""
    logged = proxy.requests()
    outside = [r for r in logged if not (r.path.startswith(f"{PREFIX}/") or r.path.startswith(f"{PREFIX}?"))]
    assert not outside, f"requests outside {PREFIX}/: {outside}"
    assert not [r for r in logged if r.status == 405], "a method the proxy did not pass"
    for method, start, statuses in [
        ("GET", f"{PREFIX}?token=", {301}),  # the address as printed
        ("POST", f"{PREFIX}/auth/login", {204}),
        ("OPTIONS", f"{PREFIX}/whep", {204}),  # the ICE servers, asked for before the offer
        ("POST", f"{PREFIX}/whep", {201}),
        ("PATCH", f"{PREFIX}/whep/", {200}),  # the ICE restart, at the Location the daemon gave
        ("DELETE", f"{PREFIX}/whep/", {200}),
        ("GET", f"{PREFIX}/api/snapshot.jpg", {200}),
        ("GET", f"{PREFIX}/recordings/", {206}),  # the clip, played with Range requests
        ("GET", f"{PREFIX}/metrics", {200}),
    ]:
        assert any(r.method == method and r.path.startswith(start) and r.status in statuses for r in logged), (
            f"no {method} {start}... {statuses} in {logged}"
        )
    # 404 only for a leaving page's DELETE: its closing peer connection (DTLS close) can end the session first.
    assert not [r for r in logged if r.status == 404 and r.method != "DELETE"], logged
    return logged


def test_chromium_watches_through_the_proxy(behind_proxy, chromium_trusting):
    daemon, proxy = behind_proxy
    context = chromium_trusting.new_context()
    try:
        watch_through(ChromiumPage(context.new_page()), daemon, proxy)
    finally:
        context.close()
    logged = assert_all_under_the_prefix(proxy)
    print(f"Chromium through {proxy.name}: {len(logged)} requests, all under {PREFIX}/")


def test_firefox_watches_through_the_proxy(behind_proxy):
    daemon, proxy = behind_proxy
    with firefox(mdns=False, accept_insecure_certs=True) as page:  # loopback: as tests/test_firefox.py
        watch_through(page, daemon, proxy)
    logged = assert_all_under_the_prefix(proxy)
    print(f"Firefox through {proxy.name}: {len(logged)} requests, all under {PREFIX}/")
