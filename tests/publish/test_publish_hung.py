"""A WHIP server that takes connections and never answers holds up nothing else (a second
target publishing to Janus, a viewer), and its target says what is wrong."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from testbed.whep import whep_viewer
from tests.publish.conftest import publishing_daemon, target, wait_for_target

pytestmark = pytest.mark.timeout(120)


async def test_a_hung_server_holds_up_neither_the_other_target_nor_viewers(daemon_factory, rig):
    hung = socket.create_server(("127.0.0.1", 0), backlog=16)  # takes connections, never answers
    try:
        extra = f'[[publish]]\nurl = "http://127.0.0.1:{hung.getsockname()[1]}/whip"\nname = "hung"\n'
        daemon = publishing_daemon(daemon_factory, rig, extra=extra)
        wait_for_target(daemon, lambda t: t["state"] == "publishing", 30, "publishing to Janus")
        stuck = wait_for_target(daemon, lambda t: t["failures"] >= 1, 30, "the hung server's time limit", name="hung")
        assert stuck["state"] == "retrying" and "no answer within 5 s" in stuck["last_error"], stuck
        async with aiohttp.ClientSession() as http, whep_viewer(http, daemon.url, daemon.auth, timeout=15) as viewer:
            assert (viewer.first_frame.width, viewer.first_frame.height) == (640, 360)
        assert target(daemon)["state"] == "publishing" and target(daemon)["sessions"] == 1
    finally:
        hung.close()
