"""Other sites cannot act through a viewer's browser, nor read the camera by DNS rebinding.

Each route comes from the daemon's real route table, so routes added later are covered too.
"""

from __future__ import annotations

import socket

import requests

from hw.host_addresses import host_addresses
from testbed.clips import CAMERA, clips, wait_for
from testbed.daemon import TEST_TOKEN, DaemonProcess
from tests.offers import make_offer
from tests.security.routes import route_table, state_changing

TRIGGER = '[[triggers]]\nname = "doorbell"\npin = 17\n'
AUTH_OFF = "[auth]\nenabled = false\n"
JSON = {"Content-Type": "application/json"}
EVIL = "http://evil.example"


def login(daemon: DaemonProcess) -> requests.Session:
    """A browser's cookie jar after logging in on the page."""
    browser = requests.Session()
    response = browser.post(daemon.url + "/auth/login", json={"token": TEST_TOKEN}, headers={"Origin": daemon.url})
    assert response.status_code == 204, response.text
    return browser


def nothing_happened(daemon: DaemonProcess) -> None:
    status = daemon.health()
    assert status["recording"]["state"] == "idle", status["recording"]
    assert clips(daemon) == []
    assert status["camera"]["state"] == "running", status["camera"]


def assert_refused(response: requests.Response, status: int, words: str, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text!r}"
    assert words in response.text and response.text.count("\n") == 1, f"{what}: {response.text!r}"


def test_a_logged_in_browser_cannot_be_made_to_act_by_another_origin(daemon_factory, tmp_path):
    daemon = daemon_factory(CAMERA + TRIGGER)
    wait_for(daemon.health, lambda h: h["camera"]["state"] == "running", 20, "the camera")
    browser = login(daemon)
    another_port = f"http://127.0.0.1:{daemon.port + 1}"  # same site: another app on the camera's machine
    routes = state_changing(route_table({"triggers": [{"name": "doorbell", "pin": 17}]}, tmp_path), pin="17")
    assert ("POST", "/api/recordings") in routes and ("POST", "/api/sim/gpio/17") in routes
    for method, path in routes:
        what = f"{method} {path}"
        for origin in (EVIL, another_port, "null"):
            # text/plain is what a cross-site form or no-cors fetch sends without asking first.
            for content_type in ("text/plain", "application/json"):
                response = browser.request(
                    method,
                    daemon.url + path,
                    data='{"active": true}',
                    headers={"Origin": origin, "Content-Type": content_type},
                )
                assert_refused(response, 403, "cross-origin request refused", f"{what} from {origin}")
        response = browser.request(
            method, daemon.url + path, data="{}", headers={**JSON, "Sec-Fetch-Site": "same-site"}
        )
        assert_refused(response, 403, "cross-site request refused", f"{what}, Sec-Fetch-Site: same-site")
        response = browser.request(method, daemon.url + path, data="{}", headers=JSON)
        assert_refused(response, 403, "without Origin refused", f"{what} with the cookie and no Origin")
    nothing_happened(daemon)

    # The camera's own page (same scheme, host and port) still records, with JSON.
    own = {"Origin": daemon.url, "Sec-Fetch-Site": "same-origin"}
    plain = browser.post(daemon.url + "/api/recordings", data="{}", headers={**own, "Content-Type": "text/plain"})
    assert_refused(plain, 415, "Content-Type: application/json", "a text/plain POST from the page")
    started = browser.post(daemon.url + "/api/recordings", json={"seconds": 5}, headers=own)
    assert started.status_code == 202, started.text
    stopped = browser.post(daemon.url + "/api/recordings/stop", json={}, headers=own)
    assert stopped.status_code == 200 and stopped.json()["stopped"], stopped.text


def test_token_clients_need_no_origin_and_players_on_other_origins_still_watch(daemon_factory):
    daemon = daemon_factory(CAMERA)
    # A script: the token, no Origin, no Content-Type even (a bodiless POST).
    assert daemon.request("POST", "/api/recordings/stop").status_code == 200
    # A web WHEP player on another origin, with the token: CORS as before.
    player = {"Origin": "http://player.example", "Content-Type": "application/sdp"}
    created = daemon.request("POST", "/whep", data=make_offer(), headers=player)
    assert created.status_code == 201, created.text
    assert created.headers["Access-Control-Allow-Origin"] == "*"
    left = daemon.request("DELETE", created.headers["Location"], headers={"Origin": "http://player.example"})
    assert left.status_code == 200, left.text
    # The same player relying on a logged-in browser's cookie instead: refused.
    browser = login(daemon)
    ambient = browser.post(daemon.url + "/whep", data=make_offer(), headers=player)
    assert_refused(ambient, 403, "cross-origin request refused", "WHEP with the cookie from another origin")
    assert daemon.health()["viewers"] == 0


def test_with_auth_off_a_rebound_name_gets_403_and_other_origins_cannot_act(daemon_factory, tmp_path):
    config = {"auth": {"enabled": False}, "triggers": [{"name": "doorbell", "pin": 17}]}
    settings = '[server]\nallowed_hosts = ["cam.example.org"]\nallowed_origins = ["https://proxy.example.net"]\n'
    daemon = daemon_factory(CAMERA + TRIGGER + AUTH_OFF + settings)
    wait_for(lambda: requests.get(daemon.url + "/api/snapshot.jpg"), lambda r: r.status_code == 200, 20, "a snapshot")

    # DNS rebinding: attacker.example now resolves to the camera; the browser says Host: attacker.example.
    rebound = requests.get(daemon.url + "/api/snapshot.jpg", headers={"Host": f"attacker.example:{daemon.port}"})
    assert_refused(rebound, 403, "is not one of this camera's names", "the snapshot by a rebound name")
    assert rebound.headers["Content-Type"].startswith("text/plain")
    for method, path in route_table(config, tmp_path):
        if method in ("HEAD", "*"):
            continue
        response = requests.request(
            method, daemon.url + path.replace("{", "").replace("}", ""), headers={"Host": "attacker.example"}
        )
        assert_refused(response, 403, "is not one of this camera's names", f"{method} {path}, rebound")

    hostname = socket.gethostname()
    own_names = ["127.0.0.1", "localhost", "localhost.", "[::1]", hostname, f"{hostname.split('.')[0]}.local"]
    own_names += [a if ":" not in a else f"[{a}]" for addresses in host_addresses().values() for a in addresses]
    for name in [*own_names, "cam.example.org", "proxy.example.net", "CAM.example.org"]:
        response = requests.get(daemon.url + "/api/snapshot.jpg", headers={"Host": f"{name}:{daemon.port}"})
        assert response.status_code == 200 and response.content[:2] == b"\xff\xd8", f"Host {name}: {response.text}"
    for not_ours in ("192.0.2.1", "camera.attacker.example", f"{hostname}.attacker.example", "[2001:db8::1]"):
        response = requests.get(daemon.url + "/healthz", headers={"Host": not_ours})
        assert_refused(response, 403, "is not one of this camera's names", f"Host {not_ours}")

    # Another site's page, at the camera's own name: every state-changing route refuses it.
    for method, path in state_changing(route_table(config, tmp_path), pin="17"):
        for origin in (EVIL, f"http://127.0.0.1:{daemon.port + 1}", "https://cam.example.org"):
            response = requests.request(
                method,
                daemon.url + path,
                data='{"active": true}',
                headers={"Origin": origin, "Content-Type": "text/plain"},
            )
            assert_refused(response, 403, "cross-origin request refused", f"{method} {path} from {origin}")
        response = requests.request(
            method, daemon.url + path, data="{}", headers={**JSON, "Sec-Fetch-Site": "cross-site"}
        )
        assert_refused(response, 403, "cross-site request refused", f"{method} {path}, Sec-Fetch-Site: cross-site")
    # A browser that sends no Origin cannot send JSON across origins without asking first.
    for path in ("/api/recordings", "/api/recordings/stop", "/api/sim/gpio/17"):
        response = requests.post(daemon.url + path, data='{"active": true}', headers={"Content-Type": "text/plain"})
        assert_refused(response, 415, "Content-Type: application/json", f"a text/plain POST to {path}")
    nothing_happened(daemon)

    # Scripts on the network (no Origin, JSON) and the page behind the configured proxy still act.
    assert requests.post(daemon.url + "/api/recordings", json={"seconds": 5}).status_code == 202
    proxied = {"Host": "proxy.example.net", "Origin": "https://proxy.example.net"}
    stopped = requests.post(daemon.url + "/api/recordings/stop", json={}, headers=proxied)
    assert stopped.status_code == 200 and stopped.json()["stopped"], stopped.text
