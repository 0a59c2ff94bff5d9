"""A WHEP viewer on aiortc in the test process: recvonly video and audio, no STUN, all on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


@dataclass
class WhepViewer:
    pc: RTCPeerConnection
    location: str  # the session's resource, as the daemon's Location header gave it
    first_frame: Any  # the first decoded video frame (an av.VideoFrame)
    control: RTCDataChannel | None  # the page's channel to the camera ("edge"), when asked for


@contextlib.asynccontextmanager
async def whep_viewer(
    http: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
    on_frame: Callable[[Any], None] | None = None,
    params: Mapping[str, str] | None = None,
    control: bool = False,
) -> AsyncIterator[WhepViewer]:
    """POST an offer to ``url``/whep (with query ``params``), wait for the first decoded video frame,
    and DELETE the session on the way out. Video keeps being received (and so reported on) meanwhile;
    ``on_frame`` sees every decoded video frame. ``control``: open the data channel the page opens."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("edge") if control else None
    first = asyncio.get_running_loop().create_future()
    receivers: list[asyncio.Task[None]] = []  # referenced, so that a running one is not collected

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def receive() -> None:
            try:
                while True:
                    frame = await track.recv()
                    if on_frame is not None:
                        on_frame(frame)
                    if not first.done():
                        first.set_result(frame)
            except MediaStreamError as exc:  # the session ended
                if not first.done():
                    first.set_exception(exc)

        if track.kind == "video":
            receivers.append(asyncio.create_task(receive()))

    headers = headers or {}
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer_headers = {**headers, "Content-Type": "application/sdp"}
        post = http.post(url + "/whep", data=pc.localDescription.sdp, headers=offer_headers, params=params)
        async with post as response:
            assert response.status == 201, await response.text()
            answer, location = await response.text(), response.headers["Location"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        frame = await asyncio.wait_for(first, timeout)
        yield WhepViewer(pc, location, frame, channel)
        async with http.delete(url + location, headers=headers) as response:
            assert response.status == 200, response.status
    finally:
        await pc.close()
