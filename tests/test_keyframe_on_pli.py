"""A viewer's PLI (RTCP picture loss indication) mid-GOP brings an IDR at once, end to end.

The camera's GOP is 60 s, so any IDR seen seconds after joining can only be one
that was asked for. An aiortc WHEP viewer sends a PLI for the video SSRC it
receives, as a browser does when it cannot decode, and the next keyframe it
decodes comes within a few frames: the PLI went through aiortc's sender, our
hook, the video hub and the camera's encoder.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from hw.camera.framecode import read_frame_code, split_frame_code
from testbed.whep import whep_viewer

pytestmark = pytest.mark.timeout(120)

CAMERA = "[camera]\nwidth = 640\nheight = 360\nframerate = 30\nkeyframe_interval = 60\n"
QUIET_S = 2.0  # watched before each PLI: no keyframe comes unasked
LIMIT_S = 1.0  # from the PLI to the IDR decoded; generous for a loaded machine (~0.1 s is usual)


def video_ssrc(sdp: str) -> int:
    """The video SSRC the answer announces: the first of its FID group (the second is its RTX)."""
    (group,) = [line.split() for line in sdp.splitlines() if line.startswith("a=ssrc-group:FID ")]
    return int(group[1])


async def test_a_pli_mid_gop_yields_an_idr(daemon_factory):
    daemon = daemon_factory(CAMERA)
    keyframes: list[tuple[float, int]] = []  # (when decoded, frame index from the frame code)
    decoded: list[float] = []

    def on_frame(frame) -> None:
        decoded.append(time.monotonic())
        if frame.key_frame:
            index, _ = split_frame_code(read_frame_code(frame.to_ndarray(format="gray")))
            keyframes.append((time.monotonic(), index))

    async with aiohttp.ClientSession() as http, whep_viewer(http, daemon.url, daemon.auth, on_frame=on_frame) as viewer:
        (receiver,) = [t.receiver for t in viewer.pc.getTransceivers() if t.kind == "video"]
        ssrc = video_ssrc(viewer.pc.remoteDescription.sdp)
        # Past the start: a second IDR may follow the first, asked for while the viewer was joining
        # (its first PLI, or a request after the first IDR went out, on a loaded machine).
        while len(decoded) < 30:
            await asyncio.sleep(0.02)
        for _ in range(2):
            quiet_from = time.monotonic()
            await asyncio.sleep(QUIET_S)
            assert len(decoded) > QUIET_S * 30 * 0.5, "video hardly flows"
            assert not [k for k in keyframes if k[0] > quiet_from], f"a keyframe nobody asked for: {keyframes}"
            forced = daemon.health()["camera"]["keyframes_forced"]
            sent_at = time.monotonic()
            await receiver._send_rtcp_pli(ssrc)  # what aiortc's own receiver sends when it cannot decode
            while not [k for k in keyframes if k[0] > sent_at] and time.monotonic() - sent_at < 5:
                await asyncio.sleep(0.01)
            answered = [k for k in keyframes if k[0] > sent_at]
            assert answered, f"no IDR within 5 s of the PLI; daemon log:\n{daemon.log()[-3000:]}"
            delay = answered[0][0] - sent_at
            print(f"IDR (frame {answered[0][1]}) decoded {delay * 1000:.0f} ms after the PLI")
            assert delay < LIMIT_S, f"the IDR came {delay:.2f} s after the PLI"
            assert daemon.health()["camera"]["keyframes_forced"] >= forced + 1
