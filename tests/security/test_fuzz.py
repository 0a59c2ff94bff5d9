"""Thousands of malformed requests: never a 5xx, never a crash, and a viewer keeps watching."""

from __future__ import annotations

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.offers import make_offer
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_for_stats, wait_live

LIMITS = '[webrtc]\ninterfaces = ["lo"]\nmax_viewers = 1000\nmax_pending = 1000\npending_timeout = 2\n'
CONTENT_TYPES = [
    "application/sdp",
    "application/trickle-ice-sdpfrag",
    "application/json",
    "text/plain",
    "",
    "application/sdp; charset=utf-8",
]


def sdp_like(good_offer: str) -> st.SearchStrategy[bytes]:
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
