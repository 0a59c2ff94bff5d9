"""A viewer whose path broke and that never restarts ICE is let go after [webrtc] restart_timeout."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from testbed.daemon import start_daemon
from testbed.netns.scenarios import CAMERA

RESTART_TIMEOUT_S = 3


async def wait_for(predicate, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_a_broken_session_that_does_not_restart_is_closed(netns, tmp_path):
    (link,) = netns.add_links(1)
    config = CAMERA + f'[webrtc]\ninterfaces = ["{link.camera_if}"]\nrestart_timeout = {RESTART_TIMEOUT_S}\n'
    daemon = start_daemon(config, tmp_path, prefix=netns.exec_prefix, host="0.0.0.0")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # a WHEP player without ICE restart
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        async with aiohttp.ClientSession(headers=daemon.auth) as http:
            async with http.post(
                f"http://{link.camera_address}:{daemon.port}/whep",
                data=pc.localDescription.sdp,
                headers={"Content-Type": "application/sdp"},
            ) as response:
                assert response.status == 201, await response.text()
                answer = await response.text()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

            async def connected() -> bool:
                return pc.connectionState == "connected"

            await wait_for(connected, 15, "connected")
            netns.camera_readdress(link, link.address(77))

            async def gone() -> bool:
                async with http.get(f"http://{link.camera_address}:{daemon.port}/healthz") as response:
                    return (await response.json())["viewers"] == 0

            elapsed = await wait_for(gone, RESTART_TIMEOUT_S + 5, "session closed")
        assert elapsed > RESTART_TIMEOUT_S - 1, f"closed after {elapsed:.1f} s: too early"
        assert f"no new path within {RESTART_TIMEOUT_S:g} s, closing" in daemon.log()
    finally:
        await pc.close()
        daemon.stop()
