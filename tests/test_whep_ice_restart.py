"""ICE restart through WHEP PATCH (RFC 9725 section 4.3): what any player sees on the wire."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import requests
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.offers import make_offer, run_in_own_loop
from tests.test_browser_live import CAMERA_SMALL

SDP = {"Content-Type": "application/sdp"}
SDPFRAG = "application/trickle-ice-sdpfrag"
RESTART = "a=ice-ufrag:newU\r\na=ice-pwd:newpasswordnewpassword1\r\n"
CANDIDATE = "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"


def attr(text: str, name: str) -> str:
    return re.search(rf"^a={name}:(\S+)", text, re.M).group(1)


def test_restart_answers_with_new_credentials_and_retries_get_the_same_answer(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    offer = make_offer()
    created = daemon.request("POST", "/whep", data=offer, headers=SDP)
    assert created.status_code == 201
    resource, first_etag, answer = created.headers["Location"], created.headers["ETag"], created.text

    def patch(body: str, if_match: str | None = None):
        headers = {"Content-Type": SDPFRAG, **({"If-Match": if_match} if if_match else {})}
        return daemon.request("PATCH", resource, data=body, headers=headers)

    # Trickle with the offer's own credentials (and If-Match: *, as some players send) is trickle.
    own = f"a=ice-ufrag:{attr(offer, 'ice-ufrag')}\r\na=ice-pwd:{attr(offer, 'ice-pwd')}\r\n"
    assert patch(own + CANDIDATE, "*").status_code == 204

    restart = patch(RESTART, "*")
    assert restart.status_code == 200, restart.text
    assert restart.headers["Content-Type"].startswith(SDPFRAG)
    etag = restart.headers["ETag"]
    assert etag != first_etag
    body = restart.text
    assert attr(body, "ice-ufrag") != attr(answer, "ice-ufrag") and attr(body, "ice-pwd") != attr(answer, "ice-pwd")
    assert re.search(r"^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host\r?$", body, re.M)
    assert body.rstrip().endswith("a=end-of-candidates") and "\r\na=mid:" in body

    # A retry (its answer was lost) gets the same answer, with If-Match: * or the ETag it had.
    for if_match in ("*", first_etag, None):
        again = patch(RESTART, if_match)
        assert (again.status_code, again.text, again.headers["ETag"]) == (200, body, etag)

    # Copies sent at once (the page hedges) are one restart too.
    with ThreadPoolExecutor(4) as pool:
        copies = list(pool.map(lambda _: patch(RESTART.replace("newU", "nxtU"), "*"), range(4)))
    assert {(c.status_code, c.text, c.headers["ETag"]) for c in copies} == {
        (200, copies[0].text, copies[0].headers["ETag"])
    }
    etag = copies[0].headers["ETag"]

    # Trickle for the new generation needs the new ETag; a stale one is refused.
    newest = "a=ice-ufrag:nxtU\r\na=ice-pwd:newpasswordnewpassword1\r\n"
    assert patch(newest + CANDIDATE, first_etag).status_code == 412
    assert patch(newest + CANDIDATE, etag).status_code == 204
    assert patch("a=end-of-candidates\r\n", etag).status_code == 204
    # Late candidates of an earlier generation are ignored, not taken for a restart.
    assert patch(own + CANDIDATE, "*").status_code == 204
    assert patch(RESTART + CANDIDATE, etag).status_code == 204
    # A restart carrying a stale ETag is refused.
    assert patch("a=ice-ufrag:thrd\r\na=ice-pwd:newpasswordnewpassword1\r\n", first_etag).status_code == 412

    ice = daemon.health()["sessions"][0]["ice"]
    assert ice["restarts"] == 2 and ice["recovering_for_s"] is not None
    public = requests.get(daemon.url + "/healthz", timeout=5).json()["sessions"]
    assert public == [{"restarts": 2, "recoveries": 0, "last_recovery_s": None}]


async def _connect_hiding_addresses(daemon) -> tuple[int, str, list[str]]:
    """A player whose candidates are all mDNS names, as Chromium's are without camera
    permission: it trickles them with end-of-candidates *before* its checks can arrive
    (the order a loaded machine sometimes produces), then waits for its connection to succeed or fail,
    and asks the daemon."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    settled = asyncio.Event()
    pc.on("connectionstatechange", lambda: settled.set() if pc.connectionState in ("connected", "failed") else None)
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        bare = "".join(
            line + "\r\n" for line in offer.splitlines() if not line.startswith(("a=candidate:", "a=end-of-candidates"))
        )
        created = await asyncio.to_thread(daemon.request, "POST", "/whep", data=bare, headers=SDP)
        assert created.status_code == 201, created.text
        hidden = (
            f"a=ice-ufrag:{attr(offer, 'ice-ufrag')}\r\na=ice-pwd:{attr(offer, 'ice-pwd')}\r\n"
            "a=candidate:1 1 udp 2130706431 0b2c1f27-5b3e-4d7c-9d0a-3f1e2d4c5b6a.local 40000 typ host\r\n"
            "a=end-of-candidates\r\n"
        )
        trickled = await asyncio.to_thread(
            daemon.request,
            "PATCH",
            created.headers["Location"],
            data=hidden,
            headers={"Content-Type": SDPFRAG, "If-Match": created.headers["ETag"]},
        )
        await pc.setRemoteDescription(RTCSessionDescription(created.text, "answer"))
        await asyncio.wait_for(settled.wait(), 60)
        sessions = (await asyncio.to_thread(daemon.health))["sessions"]
        return trickled.status_code, pc.connectionState, [s["state"] for s in sessions]
    finally:
        await pc.close()


def test_a_player_hiding_its_addresses_connects_even_if_its_end_of_candidates_comes_first(daemon_factory):
    # Its only usable address is the one its checks come from (peer-reflexive): the
    # end of its mDNS-only candidates must not end the session before they arrive.
    daemon = daemon_factory(CAMERA_SMALL)
    outcome = run_in_own_loop(_connect_hiding_addresses(daemon))
    assert outcome == (204, "connected", ["connected"])
