"""500 real WHEP sessions come and go: memory, descriptors, tasks and threads come back."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from testbed.whep import whep_viewer

pytestmark = pytest.mark.slow  # 500 real WebRTC sessions, about a minute

CAMERA = "[camera]\nwidth = 320\nheight = 240\nframerate = 30\nbitrate = 300000\n"
CYCLES = 500
WARM_UP = 25


async def one_session(http: aiohttp.ClientSession, url: str) -> None:
    """A viewer that connects, gets one decoded video frame, and leaves with DELETE."""
    async with whep_viewer(http, url) as viewer:
        assert (viewer.first_frame.width, viewer.first_frame.height) == (320, 240)


async def run_cycles(url: str, auth: dict, count: int) -> None:
    async with aiohttp.ClientSession(headers=auth) as http:
        for _ in range(count):
            await one_session(http, url)


def settled(daemon, baseline: dict, timeout: float = 30) -> dict:
    """The daemon's resource counts once closing sessions have finished tearing down."""
    deadline = time.monotonic() + timeout
    while True:
        health = daemon.health()
        process = health["process"]
        if (
            health["viewers"] == 0
            and process["tasks"] <= baseline["tasks"]
            and process["threads"] <= baseline["threads"]
        ):
            return process
        if time.monotonic() > deadline:
            return process
        time.sleep(0.2)  # the daemon's own counters: nothing to subscribe to from outside


def test_500_sessions_leave_nothing_behind(daemon_factory):
    daemon = daemon_factory(CAMERA)
    asyncio.run(run_cycles(daemon.url, daemon.auth, WARM_UP))
    baseline = settled(daemon, {"tasks": 10**6, "threads": 10**6})
    started = time.monotonic()
    asyncio.run(run_cycles(daemon.url, daemon.auth, CYCLES))
    elapsed = time.monotonic() - started
    after = settled(daemon, baseline)
    print(f"\n{CYCLES} sessions in {elapsed:.0f} s; before {baseline}; after {after}")
    assert after["tasks"] <= baseline["tasks"] + 2
    assert after["threads"] <= baseline["threads"] + 2
    assert after["fds"] <= baseline["fds"] + 4
    assert after["rss_mib"] <= baseline["rss_mib"] + 30  # allocator slack, not 500 sessions' worth
    assert daemon.health()["status"] == "ok"
