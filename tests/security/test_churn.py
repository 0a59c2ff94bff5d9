"""500 real WHEP sessions come and go: memory, descriptors, tasks and threads come back."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

pytestmark = pytest.mark.slow  # 500 real WebRTC sessions, about a minute

CAMERA = "[camera]\nwidth = 320\nheight = 240\nframerate = 30\nbitrate = 300000\n"
CYCLES = 500
WARM_UP = 25


async def one_session(http: aiohttp.ClientSession, url: str) -> None:
    """A viewer that connects, gets one decoded video frame, and leaves with DELETE."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    got_frame = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track):
        async def first_frame():
            try:
                frame = await track.recv()
                if not got_frame.done():
                    got_frame.set_result(frame)
            except Exception as exc:  # the track ended before a frame
                if not got_frame.done():
                    got_frame.set_exception(exc)

        if track.kind == "video":
            asyncio.ensure_future(first_frame())

    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        async with http.post(
            url + "/whep", data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
        ) as r:
            assert r.status == 201, await r.text()
            answer, location = await r.text(), r.headers["Location"]
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        frame = await asyncio.wait_for(got_frame, 20)
        assert (frame.width, frame.height) == (320, 240)
        async with http.delete(url + location) as r:
            assert r.status == 200
    finally:
        await pc.close()


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
