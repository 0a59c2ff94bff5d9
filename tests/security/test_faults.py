"""Faults degrade the service and heal; shutdown is clean and quick."""

from __future__ import annotations

import signal
import time

from testbed.browser import FRAME_CODE_JS
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_for_stats, wait_live


def wait_health(daemon, predicate, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = daemon.health()
        if predicate(health):
            return health
        assert time.monotonic() < deadline, f"health never reached the state; last: {health}"
        time.sleep(0.1)  # the daemon's state, polled: there is no event to wait on from outside


def wait_for_the_restarted_camera(page, index_before: int) -> None:
    """The page shows frames from the restarted camera (its index starts again), and they advance."""
    page.wait_for_function(
        f"() => {{ const c = ({FRAME_CODE_JS})(); return c && c.frameIndex < {index_before}; }}", timeout=20000
    )
    start = page.evaluate(FRAME_CODE_JS)["frameIndex"]
    page.wait_for_function(f"() => ({FRAME_CODE_JS})().frameIndex > {start} + 10", timeout=20000)


def test_camera_crash_and_stall_recover_while_a_browser_watches(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    for kind in ("crash", "stall"):
        before = page.evaluate(FRAME_CODE_JS)["frameIndex"]
        restarts = daemon.health()["camera"]["restarts"]
        assert daemon.request("POST", "/api/sim/camera/fault", json={"kind": kind}).status_code == 204
        degraded = wait_health(daemon, lambda h, before=restarts: h["camera"]["restarts"] > before)
        assert degraded["camera"]["last_error"]
        wait_health(daemon, lambda h: h["camera"]["state"] == "running" and h["status"] == "ok")
        wait_for_the_restarted_camera(page, before)
    assert page.evaluate("window.edgeViewer.sessionsStarted") == 1
    assert "camera (simulated) stalled" in daemon.log() and "injected fault" in daemon.log()


def test_an_unplugged_camera_is_waited_for_not_taken_for_a_network_fault(chromium, daemon_factory):
    """Out for 6 s (back after ~7.5 s of back-off), longer than two ICE restarts would wait:
    the page is told, says so, restarts nothing, keeps its session and plays again."""
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    page.evaluate(
        """() => {
            const status = document.getElementById('status');
            window.__statuses = [];
            new MutationObserver(() => window.__statuses.push(status.textContent))
                .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )
    before = page.evaluate(FRAME_CODE_JS)["frameIndex"]
    fault = {"kind": "unplugged", "seconds": 6}
    assert daemon.request("POST", "/api/sim/camera/fault", json=fault).status_code == 204
    page.wait_for_function("() => window.__statuses.includes('camera restarting…')", timeout=10000)
    wait_health(daemon, lambda h: h["camera"]["restarts"] >= 3 and h["camera"]["state"] == "running", timeout=60)
    wait_for_the_restarted_camera(page, before)
    page.wait_for_function("() => window.edgeViewer.state === 'live'", timeout=10000)
    assert page.evaluate("[window.edgeViewer.sessionsStarted, window.edgeViewer.iceRestarts]") == [1, 0]
    assert "no camera detected" in daemon.log()


def test_bad_fault_requests_are_refused(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    for body in ({"kind": "explode"}, {"kind": "unplugged", "seconds": -1}, {"kind": "stall", "seconds": "x"}, [1]):
        response = daemon.request("POST", "/api/sim/camera/fault", json=body)
        assert response.status_code == 400 and "unplugged" in response.text, (body, response.text)


def test_sigterm_stops_within_5_seconds_with_a_viewer(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    wait_for_stats(page, lambda s: s["video"] and s["video"].get("framesDecoded", 0) > 10)
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    assert "shutting down" in daemon.log()
