"""Bad input gets a clear 4xx and leaves the daemon and a watching browser untouched."""

from __future__ import annotations

import time

import pytest
import requests

from testbed.daemon import DaemonProcess
from tests.offers import make_offer
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_for_stats, wait_live

SDP = {"Content-Type": "application/sdp"}
SDPFRAG = {"Content-Type": "application/trickle-ice-sdpfrag"}


@pytest.fixture(scope="module")
def offers() -> dict[str, str]:
    return {
        "good": make_offer(),
        "no_video": make_offer(video=False),
        "no_h264": make_offer(video_codecs="video/VP8"),
    }


@pytest.fixture(scope="module")
def daemon(module_daemon_factory) -> DaemonProcess:
    """Shared by the tests that end the sessions they make and count nothing."""
    return module_daemon_factory(CAMERA_SMALL)


def test_bad_input_is_refused_clearly_while_a_viewer_keeps_watching(chromium, daemon_factory, offers):
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    before = wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 0)["video"]

    whep = "/whep"
    post, patch, delete = (lambda path, m=m, **kw: daemon.request(m, path, **kw) for m in ("POST", "PATCH", "DELETE"))
    cases = [
        (
            "wrong content type",
            post(whep, data=offers["good"], headers={"Content-Type": "text/plain"}),
            415,
            "Content-Type must be application/sdp",
        ),
        ("malformed SDP", post(whep, data="v=0\r\nthis is not SDP\r\n", headers=SDP), 400, "malformed SDP"),
        ("not SDP at all", post(whep, data=b"\xff\xfe\x00garbage", headers=SDP), 400, "not UTF-8"),
        ("offer without video", post(whep, data=offers["no_video"], headers=SDP), 400, "no video section"),
        ("offer without H.264", post(whep, data=offers["no_h264"], headers=SDP), 400, "no H.264"),
        ("oversized body", post(whep, data="v=0\r\n" + "a=x\r\n" * 40000, headers=SDP), 413, "body too large"),
        (
            "unknown session (PATCH)",
            patch(whep + "/nosuchsession", data="a=end-of-candidates\r\n", headers=SDPFRAG),
            404,
            "no such session",
        ),
        ("unknown session (DELETE)", delete(whep + "/nosuchsession"), 404, "no such session"),
    ]
    for name, response, status, reason in cases:
        assert response.status_code == status, f"{name}: {response.status_code} {response.text!r}"
        assert reason in response.text, f"{name}: {response.text!r}"
        assert response.text.count("\n") == 1, f"{name}: the reason is one line"

    # Bad PATCHes on a real session: malformed fragment, stale ETag, wrong type.
    session = post(whep, data=offers["good"], headers=SDP)
    assert session.status_code == 201
    resource = session.headers["Location"]
    bad_frag = patch(resource, data="nonsense", headers=SDPFRAG)
    assert bad_frag.status_code == 400 and "malformed sdpfrag" in bad_frag.text
    stale = patch(resource, data="a=end-of-candidates\r\n", headers={**SDPFRAG, "If-Match": '"stale"'})
    assert stale.status_code == 412
    wrong_type = patch(resource, data="a=end-of-candidates\r\n", headers=SDP)
    assert wrong_type.status_code == 415
    good = patch(resource, data="a=end-of-candidates\r\n", headers={**SDPFRAG, "If-Match": session.headers["ETag"]})
    assert good.status_code == 204
    assert delete(resource).status_code == 200

    # The daemon is fine and the viewer kept its session and its frames: at most a hiccup
    # (Chromium counts a freeze from 150 ms without a frame, which a loaded machine can cause).
    after = wait_for_stats(page, lambda s: s["video"]["framesDecoded"] > before["framesDecoded"] + 30)["video"]
    frozen_s = after.get("totalFreezesDuration", 0) - before.get("totalFreezesDuration", 0)
    assert frozen_s < 1.0, f"the viewer froze for {frozen_s:.2f} s"
    assert page.evaluate("window.edgeViewer.sessionsStarted") == 1
    health = daemon.health()
    assert health["status"] == "ok" and health["viewers"] == 1
    assert daemon.proc.poll() is None


def test_whep_options_and_cors(daemon):
    response = requests.options(
        daemon.url + "/whep", headers={"Origin": "http://player.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    assert response.headers["Accept-Post"] == "application/sdp"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    assert "If-Match" in response.headers["Access-Control-Allow-Headers"]


def test_post_answers_with_location_etag_and_the_cameras_real_profile(daemon, offers):
    response = daemon.request("POST", "/whep", data=offers["good"], headers=SDP)
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/sdp")
    assert response.headers["Location"].startswith("/whep/")
    assert response.headers["ETag"]
    answer = response.text
    profile = daemon.health()["camera"]["profile_level_id"]
    assert f"profile-level-id={profile}" in answer  # what the camera really encodes
    assert "H264/90000" in answer and "rtx/90000" in answer and "opus/48000" in answer
    assert "VP8" not in answer
    assert "a=sendonly" in answer
    assert "typ host" in answer and "stun" not in answer.lower()
    daemon.request("DELETE", response.headers["Location"])


def test_a_video_only_player_gets_video_only(daemon):
    response = daemon.request("POST", "/whep", data=make_offer(audio=False), headers=SDP)
    assert response.status_code == 201, response.text
    assert "m=video" in response.text and "m=audio" not in response.text
    daemon.request("DELETE", response.headers["Location"])


REFUSAL_WARNING = "WARNING edge.signaling.refusals: refused an offer"


def refusal_warnings(daemon, at_least: int = 0, timeout: float = 3.0) -> list[str]:
    """The daemon's warnings about refused offers, once ``at_least`` are in (its stderr is read by a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in daemon.log().splitlines() if REFUSAL_WARNING in line]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_refused_offers_are_logged_once_a_minute_per_address_and_counted(daemon_factory, offers):
    daemon = daemon_factory(CAMERA_SMALL)
    user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 (no OpenH264)"
    headers = {**SDP, "User-Agent": user_agent}
    for _ in range(2):
        response = daemon.request("POST", "/whep", data=offers["no_h264"], headers=headers)
        assert response.status_code == 400 and "no H.264" in response.text
        assert response.headers["X-Edge-Reason"] == "no-h264"  # what the page recognises
    wrong_type = daemon.request("POST", "/whep", data=offers["good"], headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.headers["X-Edge-Reason"] == "content-type"

    status = daemon.health()["refused_offers"]  # answered after the refusals: their lines are written
    assert status == {"total": 3, "by_reason": {"no-h264": 2, "content-type": 1}, "not_logged": 2}
    lines = refusal_warnings(daemon, at_least=1)
    assert len(lines) == 1, "\n".join(lines)
    assert "from 127.0.0.1: 400 no-h264: the offer's video has no H.264" in lines[0]
    assert f"User-Agent: {user_agent}" in lines[0]
    assert "refused_offers" not in daemon.request("GET", "/healthz").json()  # not for anyone to see
