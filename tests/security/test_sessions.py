"""Browser sessions end when they are logged out: one, or all at once (a lost phone), for good."""

from __future__ import annotations

import os
import stat
import subprocess

import requests

from testbed.daemon import EDGE, TEST_TOKEN, DaemonProcess
from tests.test_browser_live import CAMERA_SMALL, open_viewer, wait_live


def log_in(daemon: DaemonProcess) -> dict[str, str]:
    """A browser's login: the session cookie it gets."""
    response = requests.post(
        daemon.url + "/auth/login", json={"token": TEST_TOKEN}, headers={"Origin": daemon.url}, timeout=10
    )
    assert response.status_code == 204, response.text
    return {"edge_session": response.cookies["edge_session"]}


def session_status(daemon: DaemonProcess, cookies: dict[str, str]) -> int:
    return requests.get(daemon.url + "/api/session", cookies=cookies, timeout=10).status_code


def post_as_browser(daemon: DaemonProcess, path: str, cookies: dict[str, str]) -> requests.Response:
    """A POST as the page sends it: JSON, from the camera's own origin, with the cookie."""
    return requests.post(daemon.url + path, json={}, headers={"Origin": daemon.url}, cookies=cookies, timeout=10)


def logout_all_command(daemon: DaemonProcess) -> subprocess.CompletedProcess:
    """``edge token --logout-all``: another process, as ``sudo edge-token --logout-all`` runs beside the service."""
    return subprocess.run(
        [EDGE, "token", "--logout-all", "--config", str(daemon.directory / "edge.toml")],
        env={**os.environ, "STATE_DIRECTORY": str(daemon.directory / "state")},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_logging_out_ends_that_session_also_after_a_restart(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    phone, laptop = log_in(daemon), log_in(daemon)
    assert session_status(daemon, phone) == session_status(daemon, laptop) == 200
    logout = post_as_browser(daemon, "/auth/logout", phone)
    assert logout.status_code == 204
    assert 'edge_session=""' in logout.headers["Set-Cookie"]  # the browser drops it
    # A copy of the cookie kept elsewhere is worth nothing now; the other browser stays in.
    assert session_status(daemon, phone) == 401
    assert session_status(daemon, laptop) == 200
    daemon.stop()
    again = daemon_factory(CAMERA_SMALL, state_from=daemon)
    assert session_status(again, phone) == 401
    assert session_status(again, laptop) == 200
    for name in ("revoked-sessions", "session-secret"):
        mode = stat.S_IMODE(os.stat(daemon.directory / "state" / name).st_mode)
        assert mode == 0o600, f"{name}: {oct(mode)}"


def test_logout_all_from_the_command_ends_every_session_without_a_restart(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    phone, laptop = log_in(daemon), log_in(daemon)
    assert session_status(daemon, phone) == session_status(daemon, laptop) == 200
    command = logout_all_command(daemon)
    assert command.returncode == 0, command.stderr
    assert "every browser is logged out" in command.stderr
    assert session_status(daemon, phone) == session_status(daemon, laptop) == 401
    # The token still logs in, and that new session is kept; the old ones stay out after a restart.
    tablet = log_in(daemon)
    assert session_status(daemon, tablet) == 200
    daemon.stop()
    again = daemon_factory(CAMERA_SMALL, state_from=daemon)
    assert session_status(again, phone) == session_status(again, laptop) == 401
    assert session_status(again, tablet) == 200
    # The bearer token is not a session: scripts keep working.
    assert again.request("GET", "/api/session").status_code == 200


def test_a_damaged_session_secret_logs_everyone_out_and_the_daemon_starts(daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    phone = log_in(daemon)
    daemon.stop()
    (daemon.directory / "state" / "session-secret").write_text("not hex at all\n")
    again = daemon_factory(CAMERA_SMALL, state_from=daemon)
    assert "session secret is damaged" in again.log()
    assert session_status(again, phone) == 401
    assert session_status(again, log_in(again)) == 200


def test_logout_all_ends_what_a_logged_out_page_was_watching(chromium, daemon_factory):
    """A lost phone's open page: it stops playing and asks for the token, within seconds."""
    daemon = daemon_factory(CAMERA_SMALL)
    page = open_viewer(chromium, daemon)  # opened with ?token=, as a phone would have been
    wait_live(page)
    page.wait_for_function("() => !location.search.includes('token')")  # the page has its cookie
    assert logout_all_command(daemon).returncode == 0
    page.wait_for_selector("#login:not([hidden])", timeout=20000)
    assert page.evaluate("window.edgeViewer.state") == "error"  # "log in to watch", not live


def test_the_page_logs_every_browser_out(chromium, daemon_factory):
    daemon = daemon_factory(CAMERA_SMALL)
    phone = log_in(daemon)
    page = open_viewer(chromium, daemon)
    wait_live(page)
    page.wait_for_function("() => !location.search.includes('token')")  # the page has its cookie
    own = {c["name"]: c["value"] for c in page.context.cookies()}
    assert session_status(daemon, own) == 200
    page.click("#stats-toggle")
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.click("#logout-all")
    # This page reloads and asks for the token; the other browser and this one's old cookie are out.
    page.wait_for_selector("#login:not([hidden])")
    assert dialogs and "Log out every browser" in dialogs[0]
    assert session_status(daemon, phone) == 401
    assert session_status(daemon, own) == 401
    page.fill("#login-token", TEST_TOKEN)
    page.click("#login button[type=submit]")
    wait_live(page)
