"""SDP offers made by a real WebRTC stack (aiortc), good and deliberately bad."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver

T = TypeVar("T")


async def _offer(video: bool = True, audio: bool = True, video_codecs: str | None = None) -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        if video:
            transceiver = pc.addTransceiver("video", direction="recvonly")
            if video_codecs:
                caps = RTCRtpReceiver.getCapabilities("video").codecs
                transceiver.setCodecPreferences([c for c in caps if c.mimeType == video_codecs])
        if audio:
            pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def run_in_own_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run an aiortc coroutine in a thread of its own: Playwright's sync API keeps an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def make_offer(**kwargs) -> str:
    return run_in_own_loop(_offer(**kwargs))
