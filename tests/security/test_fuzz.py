"""Thousands of malformed requests: never a 5xx, never a crash, and a viewer keeps watching.

Hypothesis is imported where it is used: importing it takes about 0.6 s, in every
``make test-fast`` worker, which runs none of the tests that use it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import requests

from testbed.daemon import DaemonProcess
from tests.offers import make_offer
from tests.security.routes import route_table, state_changing
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_for_stats, wait_live

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

LIMITS = '[webrtc]\ninterfaces = ["lo"]\nmax_viewers = 1000\nmax_pending = 1000\npending_timeout = 2\n'
CONTENT_TYPES = [
    "application/sdp",
    "application/trickle-ice-sdpfrag",
    "application/json",
    "text/plain",
    "",
    "application/sdp; charset=utf-8",
]


def sdp_like(good_offer: str) -> SearchStrategy[bytes]:
    from hypothesis import strategies as st

    lines = good_offer.splitlines()
    mutated_offer = st.lists(st.sampled_from(lines), min_size=1, max_size=len(lines)).map(lambda ls: "\r\n".join(ls))
    attribute = st.tuples(st.sampled_from("vosctmab"), st.text(max_size=60)).map(lambda t: f"{t[0]}={t[1]}")
    frag = st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "a=ice-ufrag:abcd",
                    "a=ice-pwd:0123456789abcdefghijkl",
                    "a=end-of-candidates",
                    "m=audio 9 UDP/TLS/RTP/SAVPF 0",
                    "a=mid:0",
                ]
            ),
            st.builds(
                lambda *p: "a=candidate:" + " ".join(map(str, p)),
                st.integers(),
                st.integers(-1, 3),
                st.sampled_from(["udp", "tcp", "x"]),
                st.integers(),
                st.sampled_from(["127.0.0.1", "::1", "x.local", "999.1.1.1", ""]),
                st.integers(-1, 70000),
                st.just("typ"),
                st.sampled_from(["host", "srflx", "?"]),
            ),
            attribute,
        ),
        max_size=12,
    ).map(lambda ls: "\r\n".join(ls))
    return st.one_of(mutated_offer, frag, st.text(max_size=300)).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    ) | st.binary(max_size=300)


def requests_strategy(good_offer: str, session_path: str):
    from hypothesis import strategies as st

    paths = st.one_of(
        st.sampled_from(
            [
                "/whep",
                session_path,
                "/whep/nosuch",
                "/api/session",
                "/api/recordings",
                "/recordings/x.mp4",
                "/auth/login",
                "/healthz",
                "/",
                "/static/viewer.js",
                "/whep/",
                "//whep",
                "/whep/%2e%2e/%2e%2e",
                "/recordings/..%2F..%2Fetc%2Fpasswd",
                "/api/recordings/%00",
            ]
        ),
        st.text(alphabet="abc/.%0-_?&=", max_size=40).map(lambda t: "/" + t),
    )
    return st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"]),
            "path": paths,
            "content_type": st.sampled_from(CONTENT_TYPES),
            "if_match": st.sampled_from([None, "*", '"stale"', "", "garbage"]),
            "body": sdp_like(good_offer),
        }
    )


def test_fuzzing_signaling_and_api(chromium, daemon_factory):
    from hypothesis import HealthCheck, given, settings

    daemon = daemon_factory(CAMERA_SMALL + LIMITS, loopback_only=False)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    before = wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 0)["video"]

    good_offer = make_offer()
    created = daemon.request("POST", "/whep", data=good_offer, headers={"Content-Type": "application/sdp"})
    assert created.status_code == 201
    http = requests.Session()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=2000, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(requests_strategy(good_offer, created.headers["Location"]))
    def send(req):
        headers = dict(daemon.auth)  # unauthenticated requests: tests/security/test_access.py
        if req["content_type"]:
            headers["Content-Type"] = req["content_type"]
        if req["if_match"] is not None:
            headers["If-Match"] = req["if_match"]
        response = http.request(req["method"], daemon.url + req["path"], data=req["body"], headers=headers, timeout=15)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{req['method']} {req['path']}: {response.status_code} {response.text[:200]!r}"
        )

    send()
    assert sum(statuses.values()) >= 2000
    assert daemon.proc.poll() is None
    after = wait_for_stats(page, lambda s: s["video"]["framesDecoded"] > before["framesDecoded"])["video"]
    elapsed = (after["timestamp"] - before["timestamp"]) / 1000
    decoded = after["framesDecoded"] - before["framesDecoded"]
    assert decoded >= 0.5 * 30 * elapsed, f"the viewer decoded {decoded} frames in {elapsed:.0f} s of fuzzing"
    assert page.evaluate("window.edgeViewer.sessionsStarted") == 1  # never had to reconnect


# Every JSON route exists: the simulated camera's, a GPIO trigger's; clips may be started at will.
JSON_ROUTES_CONFIG = {"triggers": [{"name": "doorbell", "pin": 17}], "recording": {"min_free_mb": 0}}
JSON_ROUTES_TOML = '[recording]\nmin_free_mb = 0\n[[triggers]]\nname = "doorbell"\npin = 17\n'
JSON_TYPE = {"Content-Type": "application/json"}


def json_routes(daemon: DaemonProcess, tmp_path) -> list[tuple[str, str]]:
    """The state-changing routes of the daemon's real route table that read JSON: those refusing a broken body."""
    found = []
    for method, path in state_changing(route_table(JSON_ROUTES_CONFIG, tmp_path), pin="17"):
        if daemon.request(method, path, data=b"{", headers=JSON_TYPE).status_code == 400:
            found.append((method, path))
    return found


def assert_one_line_refusal(response: requests.Response, statuses: tuple[int, ...], what: str) -> None:
    assert response.status_code in statuses, f"{what}: {response.status_code} {response.text[:300]!r}"
    assert response.text.endswith("\n") and response.text.count("\n") == 1, f"{what}: {response.text[:300]!r}"


def test_deep_or_huge_json_gets_a_4xx_with_a_reason_on_every_json_route(daemon_factory, tmp_path):
    daemon = daemon_factory(CAMERA_SMALL + JSON_ROUTES_TOML)
    routes = json_routes(daemon, tmp_path)
    expected = {"/auth/login", "/api/recordings", "/api/sim/gpio/17", "/api/sim/motion", "/api/sim/lighting"}
    assert expected <= {path for _, path in routes}, routes
    bodies = {
        "100,000 nested [": b"[" * 100_000,
        "50,000 nested [": b"[" * 50_000,
        "1,000 nested objects, closed": b'{"a":' * 1000 + b"1" + b"}" * 1000,
        "200 kB of JSON": json.dumps({"token": "x" * 200_000, "seconds": 1, "active": True}).encode(),
        "5 MB of JSON": b"[" + b"0," * 2_500_000 + b"0]",
    }
    for method, path in routes:
        for what, body in bodies.items():
            for headers in ({}, daemon.auth):  # /auth/login reads it before any token is known
                response = requests.request(method, daemon.url + path, data=body, headers={**JSON_TYPE, **headers})
                if headers or path.startswith("/auth/"):
                    assert_one_line_refusal(response, (400,), f"{method} {path}: {what}")
        deep = daemon.request(method, path, data=b"[" * 50_000, headers=JSON_TYPE)
        assert deep.status_code == 400, f"{method} {path}: deep JSON got {deep.status_code}"
    assert daemon.proc.poll() is None
    assert "RecursionError" not in daemon.log() and "Traceback" not in daemon.log()


KEYS = ["token", "seconds", "active", "kind", "brightness"]


def json_bodies() -> SearchStrategy[bytes]:
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=10**300, max_value=10**4000)
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(["crash", "stall", "unplugged", "\ud800", "x" * 16])
    )
    values = st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=4)
        ),
        max_leaves=10,
    )
    # NaN and Infinity (allow_nan), lone surrogates: what Python writes and no other JSON parser accepts.
    encoded = values.map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass"))
    nested = st.tuples(st.integers(1, 3000), st.sampled_from([b"[", b'{"a":', b'{"active":[']), st.booleans()).map(
        lambda t: t[1] * t[0] + (b"1" + (b"]" if t[1] == b"[" else b"}") * t[0] if t[2] else b"")
    )
    truncated = st.tuples(encoded, st.integers(0, 50)).map(lambda t: t[0][: t[1]])
    numbers = st.sampled_from([b"1" * 5000, b"1e99999", b"-1e99999", b"-0", b"0.1e-99999", b'{"seconds": 1e400}'])
    raw = st.binary(max_size=64) | st.just(b"\xef\xbb\xbf{}")  # anything, and a UTF-8 byte order mark
    return st.one_of(encoded, nested, truncated, numbers, raw)


@pytest.mark.slow  # 1500 requests: about 10 s of both cores (a search, not an edit-loop check)
def test_fuzzing_every_json_route_finds_no_5xx(daemon_factory, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    daemon = daemon_factory(CAMERA_SMALL + JSON_ROUTES_TOML)
    routes = state_changing(route_table(JSON_ROUTES_CONFIG, tmp_path), pin="17")
    http = requests.Session()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=1500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.sampled_from(routes),
        json_bodies(),
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
        st.booleans(),
    )
    def send(route, body, content_type, with_token):
        method, path = route
        headers = dict(daemon.auth) if with_token else {}
        if content_type:
            headers["Content-Type"] = content_type
        response = http.request(method, daemon.url + path, data=body, headers=headers, timeout=15)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, f"{method} {path} {body[:200]!r}: {response.status_code} {response.text!r}"

    send()
    assert sum(statuses.values()) >= 1500
    assert statuses.get(400, 0) >= 100, statuses  # the bodies did reach the parsers
    assert daemon.proc.poll() is None
