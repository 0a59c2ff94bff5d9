"""A reverse proxy's X-Forwarded-* headers count only from [server] trusted_proxies: the daemon then hands
out paths under the proxy's prefix, marks its cookie Secure and takes the browser's origin and address;
from anyone else the same headers change nothing."""

from __future__ import annotations

import pytest
import requests

from edge.web.forwarded import TrustedProxies
from testbed.daemon import TEST_TOKEN, DaemonProcess
from tests.offers import make_offer
from tests.test_browser_live import CAMERA_SMALL
from tests.test_whep_bad_input import refusal_warnings

PAGE = "https://home.example:8443"
# What nginx and Caddy send in front of the daemon at https://home.example:8443/cam/ (docs/examples/).
FROM_PROXY = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "home.example:8443",
    "X-Forwarded-Prefix": "/cam",
    "X-Forwarded-For": "198.51.100.7",
}
SDP = {"Content-Type": "application/sdp"}


def trusting(factory, proxies: str) -> DaemonProcess:
    return factory(CAMERA_SMALL + f"[server]\ntrusted_proxies = {proxies}\n")


@pytest.fixture(scope="module")
def behind_proxy(module_daemon_factory) -> DaemonProcess:
    """The daemon with the test (on loopback) as its trusted proxy."""
    return trusting(module_daemon_factory, '["127.0.0.0/8", "::1"]')


@pytest.fixture(scope="module")
def not_trusting(module_daemon_factory) -> DaemonProcess:
    """A daemon that trusts a proxy elsewhere (a documentation address): loopback is anyone."""
    return trusting(module_daemon_factory, '["192.0.2.1"]')


def login(daemon: DaemonProcess, headers: dict[str, str]) -> requests.Response:
    return requests.post(daemon.url + "/auth/login", json={"token": TEST_TOKEN}, headers=headers, timeout=10)


def act(daemon: DaemonProcess, logged_in: requests.Response, origin: str) -> requests.Response:
    """A state-changing request with the browser's session cookie, from a page of ``origin`` through the proxy."""
    cookie = f"edge_session={logged_in.cookies['edge_session']}"
    headers = {**FROM_PROXY, "Origin": origin, "Cookie": cookie}
    return requests.post(daemon.url + "/api/recordings/stop", json={}, headers=headers, timeout=10)


def offer_and_login(daemon: DaemonProcess) -> tuple[str, requests.Response]:
    """A WHEP offer's ``Location`` and a login's response, both with the proxy's headers."""
    created = daemon.request("POST", "/whep", data=make_offer(), headers={**SDP, **FROM_PROXY})
    assert created.status_code == 201, created.text
    logged_in = login(daemon, FROM_PROXY)
    assert logged_in.status_code == 204, logged_in.text
    return created.headers["Location"], logged_in


def test_a_trusted_proxys_prefix_scheme_and_host_are_what_the_daemon_hands_out(behind_proxy):
    location, logged_in = offer_and_login(behind_proxy)
    assert location.startswith("/cam/whep/"), location
    cookie = logged_in.headers["Set-Cookie"]
    assert "Path=/cam/;" in cookie and "Secure" in cookie and "HttpOnly" in cookie, cookie
    # The browser's page is https://home.example:8443/cam/: its origin is the daemon's own.
    assert act(behind_proxy, logged_in, PAGE).status_code == 200
    assert act(behind_proxy, logged_in, "https://evil.example").status_code == 403


def test_the_browsers_address_comes_from_x_forwarded_for_past_the_trusted_proxies(behind_proxy):
    response = behind_proxy.request(
        "POST", "/whep", data="v=0\r\n", headers={**SDP, **FROM_PROXY, "X-Forwarded-For": "203.0.113.9, 127.0.0.1"}
    )
    assert response.status_code == 400
    (line,) = [line for line in refusal_warnings(behind_proxy, at_least=1) if "203.0.113.9" in line]
    assert "refused an offer from 203.0.113.9" in line, line


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-Forwarded-Prefix", "/cam/../admin"),
        ("X-Forwarded-Prefix", "cam"),
        ("X-Forwarded-Prefix", "/cam;Path=/"),
        ("X-Forwarded-Proto", "ftp"),
        ("X-Forwarded-Host", "home.example/cam"),
    ],
)
def test_a_trusted_proxy_sending_nonsense_gets_a_400_naming_the_header(behind_proxy, header, value):
    response = requests.get(behind_proxy.url + "/healthz", headers={**FROM_PROXY, header: value}, timeout=10)
    assert response.status_code == 400 and response.text.startswith(header), response.text


def test_an_untrusted_peers_forwarding_headers_are_ignored(not_trusting):
    location, logged_in = offer_and_login(not_trusting)
    assert location.startswith("/whep/"), location
    # It can neither make the cookie Secure or its path the prefix, nor claim the proxy's origin.
    cookie = logged_in.headers["Set-Cookie"]
    assert "Path=/;" in cookie and "Secure" not in cookie, cookie
    refused = act(not_trusting, logged_in, PAGE)
    assert refused.status_code == 403 and "cross-origin request refused" in refused.text, refused.text
    assert act(not_trusting, logged_in, not_trusting.url).status_code == 200
    # Nonsense in them is not even read.
    nonsense = requests.get(not_trusting.url + "/healthz", headers={"X-Forwarded-Prefix": "../x"}, timeout=10)
    assert nonsense.status_code == 200
    bad = not_trusting.request("POST", "/whep", data="v=0\r\n", headers={**SDP, **FROM_PROXY})
    assert bad.status_code == 400
    lines = refusal_warnings(not_trusting, at_least=1)
    assert lines and all("198.51.100.7" not in line for line in lines), lines


def test_with_auth_off_the_host_a_trusted_proxy_forwards_must_be_one_of_the_cameras_names(module_daemon_factory):
    daemon = module_daemon_factory(
        CAMERA_SMALL + '[auth]\nenabled = false\n[server]\ntrusted_proxies = ["127.0.0.1"]\n'
        'allowed_hosts = ["home.example"]\n'
    )
    for host, status in [("home.example:8443", 200), ("rebound.example", 403)]:
        response = requests.get(daemon.url + "/healthz", headers={**FROM_PROXY, "X-Forwarded-Host": host}, timeout=10)
        assert response.status_code == status, f"{host}: {response.status_code} {response.text}"


@pytest.mark.parametrize(
    "peer, forwarded_for, client",
    [
        ("127.0.0.1", [], "127.0.0.1"),  # the proxy's own request
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("::ffff:127.0.0.1", ["198.51.100.7"], "198.51.100.7"),  # the dual-stack socket's view of IPv4
        ("127.0.0.1", ["1.2.3.4", " 198.51.100.7"], "198.51.100.7"),  # 1.2.3.4: written by the browser itself
        ("127.0.0.1", ["198.51.100.7", "10.1.2.3", "127.0.0.2"], "198.51.100.7"),  # two proxies in a row
        ("127.0.0.1", ["10.1.2.3"], "10.1.2.3"),  # everything trusted: the leftmost
        ("127.0.0.1", ["198.51.100.7", "unknown"], "127.0.0.1"),  # garbage: the last address a proxy gave
        ("192.0.2.5", ["198.51.100.7"], "192.0.2.5"),  # not a proxy: its own address
    ],
)
def test_the_client_is_the_rightmost_address_no_trusted_proxy_wrote(peer, forwarded_for, client):
    assert TrustedProxies(["127.0.0.0/8", "10.0.0.0/8"]).client(peer, forwarded_for) == client
