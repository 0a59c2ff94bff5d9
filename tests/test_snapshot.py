"""GET /api/snapshot.jpg: the picture of now, as JPEG, one decode for many requests."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import av
import pytest
import requests

from hw.camera.framecode import capture_time_ms_near, read_frame_code, split_frame_code
from testbed.clips import wait_for
from testbed.daemon import DaemonProcess

# A keyframe only every 60 s: a snapshot must ask for its own.
CAMERA = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\nkeyframe_interval = 60\n"


@pytest.fixture(scope="module")
def daemon(module_daemon_factory) -> DaemonProcess:
    """Shared by the tests that leave each picture width's cache (a snapshot is kept 1 s) to one test."""
    return module_daemon_factory(CAMERA)


def decode(jpeg: bytes):
    with av.open(io.BytesIO(jpeg)) as container:
        return next(container.decode(video=0))


def captured_ms(frame) -> int:
    _, wrapped = split_frame_code(read_frame_code(frame.to_ndarray(format="gray")))
    return capture_time_ms_near(wrapped, int(time.time() * 1000))


def test_a_snapshot_is_the_picture_of_the_moment_it_was_asked_for(daemon_factory):
    daemon = daemon_factory(CAMERA)  # its own: no full-width snapshot another test asked for is kept
    daemon.health()  # running
    asked_ms = time.time() * 1000
    response = daemon.request("GET", "/api/snapshot.jpg")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/jpeg"
    frame = decode(response.content)
    assert (frame.width, frame.height) == (640, 360)
    delay_ms = captured_ms(frame) - asked_ms
    assert -1000 < delay_ms < 1000, f"the picture was captured {delay_ms:.0f} ms after the request"
    assert abs(float(response.headers["X-Capture-Time"]) * 1000 - captured_ms(frame)) < 50


def test_twenty_requests_at_once_cost_one_decode(daemon):
    # The only test asking for 320 pixels wide: no snapshot of that width is kept from another.
    # Each client connected beforehand and all sending together: at once also on a loaded machine.
    sessions = [requests.Session() for _ in range(20)]
    for session in sessions:
        session.headers.update(daemon.auth)
        session.get(daemon.url + "/healthz", timeout=10).raise_for_status()
    together = threading.Barrier(len(sessions))

    def fetch(session: requests.Session) -> requests.Response:
        together.wait(10)
        return session.get(daemon.url + "/api/snapshot.jpg?width=320", timeout=10)

    before = daemon.health()["snapshots"]["decodes"]
    with ThreadPoolExecutor(len(sessions)) as pool:
        responses = list(pool.map(fetch, sessions))
    for session in sessions:
        session.close()
    assert [r.status_code for r in responses] == [200] * 20
    assert {decode(r.content).width for r in responses} == {320}
    assert len({r.content for r in responses}) == 1  # the same picture for all
    assert daemon.health()["snapshots"]["decodes"] - before == 1


def test_bad_width_and_no_token_are_refused(daemon):
    for width in ("0", "abc", "641"):
        response = daemon.request("GET", f"/api/snapshot.jpg?width={width}")
        assert response.status_code == 400 and response.text == "width must be a whole number from 16 to 640\n"
    assert requests.get(daemon.url + "/api/snapshot.jpg", timeout=10).status_code == 401


@pytest.mark.slow  # waits out the daemon's fixed 5 s for a picture
def test_a_camera_that_gives_no_picture_is_a_503_not_a_hang(daemon_factory):
    daemon = daemon_factory(CAMERA)
    fault = {"kind": "unplugged", "seconds": 30}
    assert daemon.request("POST", "/api/sim/camera/fault", json=fault).status_code == 204
    wait_for(daemon.health, lambda h: h["camera"]["state"] == "restarting", 10, "the camera to be gone")
    started = time.monotonic()
    response = daemon.request("GET", "/api/snapshot.jpg", timeout=30)
    assert response.status_code == 503 and "no picture from the camera" in response.text
    assert response.headers["Retry-After"] == "2"
    assert time.monotonic() - started < 15


def test_home_assistant_can_fetch_it_with_basic_auth(daemon):
    """The generic camera's still image URL knows only HTTP Basic: user "edge", the token as password."""
    url = daemon.url + "/api/snapshot.jpg"
    response = requests.get(url, auth=("edge", daemon.token), timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert requests.get(url, auth=("admin", daemon.token), timeout=10).status_code == 401
    assert requests.get(url, auth=("edge", "wrong-token-0123456789"), timeout=10).status_code == 401
