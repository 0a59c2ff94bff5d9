"""ICE servers for viewers: TURN credentials made per viewer, RFC 9725 Link headers, and a TURN server that is down."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from edge.config import ConfigError, WebRTCConfig, parse_config
from edge.webrtc.ice_servers import (
    IceServerList,
    RelayServer,
    ice_servers_from_links,
    link_headers,
    rest_credentials,
)
from testbed.daemon import DaemonProcess
from tests.offers import make_offer
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_live

SECRET = "s3cret"


def test_rest_credentials_are_coturns_use_auth_secret_scheme():
    # echo -n "1700000000:edge" | openssl dgst -sha1 -hmac s3cret -binary | base64
    assert rest_credentials(SECRET, 1_700_000_000) == ("1700000000:edge", "J/AWPvAoqfZY3ijq9+A89355LZY=")


def test_turn_entries_without_credentials_get_fresh_ones_and_the_others_are_kept():
    config = WebRTCConfig(
        ice_servers=(
            {"urls": "stun:stun.example.org"},
            {"urls": ["turn:turn.example.org?transport=udp", "turns:turn.example.org:443"]},
            {"urls": "turn:other.example.org", "username": "u", "credential": "c"},
        ),
        turn_secret=SECRET,
        turn_credential_lifetime=3600,
    )
    servers = IceServerList(config, clock=lambda: 1_000_000.4)
    stun, minted, static = servers.minted()
    assert stun == {"urls": "stun:stun.example.org"}
    assert minted["urls"] == ["turn:turn.example.org?transport=udp", "turns:turn.example.org:443"]
    assert (minted["username"], minted["credential"]) == rest_credentials(SECRET, 1_003_600)
    assert static == {"urls": "turn:other.example.org", "username": "u", "credential": "c"}
    assert servers.minted(turn=False) == (stun,)


def test_the_camera_relays_on_the_first_turn_url_aiortc_can_use():
    servers = (
        {"urls": "stun:stun.example.org"},
        {  # turns: over UDP (DTLS) is not something aioice does: skipped
            "urls": ["turns:turn.example.org:443?transport=udp", "turn:turn.example.org?transport=tcp"],
            "username": "u",
            "credential": "c",
        },
    )
    relay = RelayServer.first_of(servers)
    assert relay is not None
    assert (relay.address, relay.transport, relay.tls, relay.username) == (
        ("turn.example.org", 3478),
        "tcp",
        False,
        "u",
    )
    assert relay.url == "turn:turn.example.org:3478?transport=tcp"
    assert RelayServer.first_of(servers[:1]) is None


def test_link_headers_say_what_a_whip_client_reads_back():
    servers = (
        {"urls": "stun:stun.example.org:3478"},
        {
            "urls": ["turn:t.example.org?transport=udp", "turns:t.example.org:443"],
            "username": "1:edge",
            "credential": "a+b/c=",
        },
    )
    headers = link_headers(servers)
    assert headers[1] == (
        '<turn:t.example.org?transport=udp>; rel="ice-server"; username="1:edge"; credential="a+b/c="; '
        'credential-type="password"'
    )
    assert ice_servers_from_links([", ".join(headers)]) == (
        {"urls": "stun:stun.example.org:3478"},
        {"urls": "turn:t.example.org?transport=udp", "username": "1:edge", "credential": "a+b/c="},
        {"urls": "turns:t.example.org:443", "username": "1:edge", "credential": "a+b/c="},
    )


@pytest.mark.parametrize(
    ("webrtc", "message"),
    [
        ({"ice_servers": [{"urls": "turn:t.example.org"}]}, "ice_servers[0] is a TURN server without username"),
        ({"ice_servers": [{"urls": "turn:t.example.org", "username": "u"}]}, "needs both username and credential"),
        ({"ice_transport_policy": "relay"}, 'ice_transport_policy = "relay" needs a turn: or turns: server'),
        ({"ice_servers": [{"urls": "turn:t.example.org?transport=sctp"}]}, "TURN runs over udp or tcp"),
        ({"ice_servers": [{"urls": "turn:"}]}, 'ice_servers[0].urls: "turn:" is not a STUN/TURN URL'),
        ({"turn_credential_lifetime": 10}, "webrtc.turn_credential_lifetime"),
    ],
)
def test_turn_settings_that_cannot_work_stop_start_up_naming_the_key(webrtc, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"webrtc": webrtc})


# --- in the daemon ------------------------------------------------------------------


@pytest.fixture(scope="module")
def silent_turn_server() -> Iterator[int]:
    """A UDP port on loopback that reads and never answers: a TURN server that is down (packets dropped)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def daemon_with_dead_turn(module_daemon_factory, silent_turn_server) -> DaemonProcess:
    return module_daemon_factory(
        CAMERA_SMALL
        + f'[webrtc]\ninterfaces = ["lo"]\nice_servers = [{{ urls = "turn:127.0.0.1:{silent_turn_server}" }}]\n'
        + f'turn_secret = "{SECRET}"\nturn_timeout = 0.5\n',
        loopback_only=False,
    )


def wait_for_turn_state(daemon: DaemonProcess, state: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while (turn := daemon.health()["turn"])["state"] != state:
        assert time.monotonic() < deadline, f"TURN state {turn}, expected {state}"
        time.sleep(0.1)
    return turn


def test_viewers_that_send_the_token_get_the_ice_servers_with_fresh_credentials(
    daemon_with_dead_turn, silent_turn_server
):
    daemon = daemon_with_dead_turn
    url = f"turn:127.0.0.1:{silent_turn_server}"
    before = int(time.time())
    (server,) = ice_servers_from_links([daemon.request("OPTIONS", "/whep").headers["Link"]])
    expiry = int(server["username"].split(":")[0])
    assert server["urls"] == url and before + 86400 <= expiry <= int(time.time()) + 86400
    assert (server["username"], server["credential"]) == rest_credentials(SECRET, expiry)
    assert SECRET not in str(daemon.request("OPTIONS", "/whep").headers)

    answer = daemon.request("POST", "/whep", data=make_offer(), headers={"Content-Type": "application/sdp"})
    assert answer.status_code == 201
    assert [s["urls"] for s in ice_servers_from_links([answer.headers["Link"]])] == [url]
    daemon.request("DELETE", answer.headers["Location"])

    anonymous = requests.options(daemon.url + "/whep", timeout=5)  # also a CORS preflight: no credentials
    assert anonymous.status_code == 204 and "Link" not in anonymous.headers
    wrong = requests.options(daemon.url + "/whep", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert "Link" not in wrong.headers


def test_a_turn_server_that_does_not_answer_is_reported_and_left_out(daemon_with_dead_turn):
    daemon = daemon_with_dead_turn
    turn = wait_for_turn_state(daemon, "unreachable")
    assert turn["detail"] in ("no answer within 5 s", "a viewer got no relay within 0.5 s")
    assert turn["server"].startswith("turn:127.0.0.1:")
    assert daemon.health()["status"] == "degraded"
    assert daemon.request("GET", "/healthz").json()["status"] == "degraded"

    # Known down: a new viewer's answer does not wait for it (with it, each waited turn_timeout).
    started = time.monotonic()
    answer = daemon.request("POST", "/whep", data=make_offer(), headers={"Content-Type": "application/sdp"})
    answered_s = time.monotonic() - started
    daemon.request("DELETE", answer.headers["Location"])
    assert answer.status_code == 201 and "typ relay" not in answer.text
    assert answered_s < 0.5, f"the answer took {answered_s:.2f} s: it waited for the TURN server"


def test_the_page_uses_the_ice_servers_the_camera_names(chromium, daemon_with_dead_turn, silent_turn_server):
    page = open_viewer(chromium, daemon_with_dead_turn)
    wait_live(page)
    servers = page.evaluate("() => window.edgeViewer.pc.getConfiguration().iceServers")
    assert [s["urls"] for s in servers] in (
        [f"turn:127.0.0.1:{silent_turn_server}"],
        [[f"turn:127.0.0.1:{silent_turn_server}"]],
    )
    assert servers[0]["username"].endswith(":edge") and servers[0]["credential"]
    page.close()


def test_metrics_show_the_turn_servers_state(daemon_with_dead_turn):
    wait_for_turn_state(daemon_with_dead_turn, "unreachable")
    text = daemon_with_dead_turn.request("GET", "/metrics").text
    assert 'edge_turn_state{state="unreachable"} 1.0' in text and 'edge_turn_state{state="ok"} 0.0' in text


def test_with_access_control_off_another_sites_page_gets_no_turn_credentials(module_daemon_factory):
    daemon = module_daemon_factory(
        CAMERA_SMALL
        + '[auth]\nenabled = false\n[webrtc]\ninterfaces = ["lo"]\nice_servers = [{ urls = "turn:127.0.0.1:9" }]\n'
        + f'turn_secret = "{SECRET}"\n',
        loopback_only=False,
    )
    url = daemon.url + "/whep"
    assert "Link" in requests.options(url, timeout=5).headers  # a player on the LAN: anyone may watch
    assert "Link" in requests.options(url, headers={"Origin": daemon.url}, timeout=5).headers  # the page
    foreign = requests.options(url, headers={"Origin": "https://evil.example"}, timeout=5)
    assert foreign.status_code == 204 and "Link" not in foreign.headers


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"urls": "turns:t.example.org?transport=udp"}, "turns: (TURN over TLS) runs over tcp only"),
        ({"urls": "turn:t.example.org", "username": 'a"b', "credential": "c"}, "without quotes or backslashes"),
    ],
)
def test_turn_servers_the_camera_cannot_use_or_announce_are_refused(server, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"webrtc": {"ice_servers": [server], "turn_secret": SECRET}})
