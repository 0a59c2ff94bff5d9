"""``host = "::"`` listens on both stacks: IPv4 and IPv6 clients reach the same port."""

from __future__ import annotations

import requests

from tests.security.guessing import span, try_tokens
from tests.security.test_ratelimit import ALLOWANCE, SOURCE_INTERVAL_S, WRONG, checked, turns
from tests.test_browser_live import CAMERA_SMALL


def test_host_colons_answers_on_127_0_0_1_and_on_ipv6_loopback(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL, host="::")
    for base in (f"http://127.0.0.1:{daemon.port}", f"http://[::1]:{daemon.port}"):
        assert requests.get(base + "/healthz", timeout=10).status_code == 200, base
        assert requests.get(base + "/api/session", headers=daemon.auth, timeout=10).status_code == 200, base
    # An IPv4 client arrives as ::ffff:a.b.c.d: it is still counted by its own address, not
    # together with every other IPv4 client (as one IPv6 /64 would be).
    burst = try_tokens(daemon.url, ["127.0.0.2"] * 12, WRONG)
    assert checked(burst) <= ALLOWANCE + turns(span(burst), SOURCE_INTERVAL_S)
    assert [a.status for a in try_tokens(daemon.url, ["127.0.0.3"] * 3, WRONG)] == [401] * 3


def test_host_colons_with_https(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL + "[server]\nhttps = true\n", host="::")
    certificate = daemon.directory / "state" / "tls" / "cert.pem"  # self-signed, for 127.0.0.1 and ::1 too
    for host in ("127.0.0.1", "[::1]"):
        assert requests.get(f"https://{host}:{daemon.port}/healthz", verify=certificate, timeout=10).status_code == 200
