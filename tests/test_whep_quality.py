"""A WHEP viewer picks the camera's stream: ``?quality=low|high|auto``, and later on the data channel.

The daemon's camera is 1280x720 with its low stream at 640x360 (the default
``[camera.low]``); aiortc viewers on loopback decode what they get. A link this
clean carries main, so ``auto`` stays there.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest

from testbed.daemon import DaemonProcess
from testbed.whep import whep_viewer
from tests.offers import make_offer

pytestmark = pytest.mark.timeout(120)

CAMERA = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\n"


@pytest.fixture(scope="module")
def daemon(module_daemon_factory) -> DaemonProcess:
    """Shared: each test ends the session it makes."""
    return module_daemon_factory(CAMERA)


def quality_of_the_session(daemon: DaemonProcess) -> dict:
    (session,) = daemon.health()["sessions"]
    return session["quality"]


@pytest.mark.parametrize(
    "params, size, quality",
    [
        ({"quality": "low"}, (640, 360), {"mode": "low", "stream": "low", "reason": "chosen: SD", "switches": 0}),
        ({"quality": "high"}, (1280, 720), {"mode": "high", "stream": "main", "reason": "chosen: HD", "switches": 0}),
        ({"quality": "auto"}, (1280, 720), {"mode": "auto", "stream": "main", "switches": 0}),
        (None, (1280, 720), {"mode": "auto", "stream": "main", "switches": 0}),
    ],
    ids=["low", "high", "auto", "default"],
)
async def test_the_query_picks_the_stream(daemon, params, size, quality):
    async with aiohttp.ClientSession() as http, whep_viewer(http, daemon.url, daemon.auth, params=params) as viewer:
        assert (viewer.first_frame.width, viewer.first_frame.height) == size
        reported = quality_of_the_session(daemon)
    assert reported.items() >= quality.items(), reported
    if quality["mode"] == "auto":
        assert reported["reason"] in ("auto: starting on main", "auto: link carries main"), reported


@pytest.mark.parametrize("value", ["bogus", "", "LOW", "sd"])
def test_any_other_quality_is_refused_with_a_one_line_reason(daemon, value):
    response = daemon.request(
        "POST", "/whep", params={"quality": value}, data=make_offer(), headers={"Content-Type": "application/sdp"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["X-Edge-Reason"] == "quality"
    assert response.text == f"quality must be one of auto, high, low, not {value!r}\n"
    assert daemon.health()["sessions"] == []


async def test_the_page_switches_on_its_channel_and_hears_why(daemon):
    frames: list[tuple[int, int, int]] = []  # (RTP timestamp, width, height) of each decoded frame
    notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_frame(frame) -> None:
        frames.append((frame.pts, frame.width, frame.height))

    async def frames_of(width: int) -> None:
        while not frames or frames[-1][1] != width:
            await asyncio.sleep(0.02)

    async def notice(stream: str) -> dict[str, Any]:
        while (message := await asyncio.wait_for(notices.get(), 10))["stream"] != stream:
            pass
        return message

    keyframes_forced = daemon.health()["camera"]["low"]["keyframes_forced"]
    async with (
        aiohttp.ClientSession() as http,
        whep_viewer(http, daemon.url, daemon.auth, on_frame=on_frame, control=True) as viewer,
    ):
        channel = viewer.control
        assert channel is not None
        channel.on("message", lambda data: notices.put_nowait(json.loads(data)))
        if channel.readyState != "open":
            opened = asyncio.Event()
            channel.on("open", opened.set)
            await asyncio.wait_for(opened.wait(), 10)
        first = await notice("main")  # told on arrival
        assert first == {
            "type": "quality",
            "mode": "auto",
            "stream": "main",
            "width": 1280,
            "height": 720,
            "reason": first["reason"],
        }

        channel.send(json.dumps({"type": "quality", "mode": "low"}))
        told = await notice("low")
        assert told == {"type": "quality", "mode": "low", "stream": "low", "width": 640, "height": 360,
                        "reason": "chosen: SD"}  # fmt: skip
        await asyncio.wait_for(frames_of(640), 10)
        assert daemon.health()["camera"]["low"]["keyframes_forced"] > keyframes_forced
        channel.send(json.dumps({"type": "quality", "mode": "nonsense"}))  # ignored
        channel.send(json.dumps({"type": "quality", "mode": "high"}))
        assert (await notice("main"))["reason"] == "chosen: HD"
        await asyncio.wait_for(frames_of(1280), 10)
        quality = quality_of_the_session(daemon)
        assert (quality["mode"], quality["stream"], quality["switches"]) == ("high", "main", 2)

    # One track, no renegotiation: the picture changed size twice, its RTP timestamps went on rising.
    sizes = [w for _, w, _ in frames]
    changes = [(a, b) for a, b in itertools.pairwise(sizes) if a != b]
    assert changes == [(1280, 640), (640, 1280)], changes
    stamps = [pts for pts, _, _ in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps)), "RTP timestamps went back"
