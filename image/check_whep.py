#!/usr/bin/env python3
"""A WHEP viewer in a few lines of aiortc: proves a running daemon answers and streams.

    PYTHONPATH=. python image/check_whep.py --url http://127.0.0.1:8080/whep [--frames 10] [--timeout 120]

POSTs an SDP offer (recvonly video + audio, no STUN/TURN servers) and requires
``201 Created`` with an ``application/sdp`` answer whose video section offers H264.
With ``--frames N`` it also waits until ICE connects and N video frames decode, and reads
the simulated camera's frame code in each (hw/camera/framecode.py, hence PYTHONPATH): the
frame numbers must count up and the capture times lie between the request and now (the
daemon runs on this machine's clock). Finally it DELETEs the session resource. Prints one
JSON line with the timings; exit status 0 when everything required passed.

Only talks to the URL given (use loopback or a network namespace of your own).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sys
import time
from urllib.parse import urljoin


def video_codecs(sdp: str) -> list[str]:
    """Codec names of the first m=video section of an SDP."""
    codecs: list[str] = []
    in_video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            if in_video:
                break
            in_video = line.startswith("m=video")
        elif in_video:
            m = re.match(r"a=rtpmap:\d+ ([^/]+)/", line)
            if m:
                codecs.append(m.group(1))
    return codecs


def check_frame_codes(frames: list, since_ms: float, until_ms: float, result: dict) -> str | None:
    """Reads the frame code of each frame into ``result``; the reason when they are wrong."""
    from hw.camera.framecode import capture_time_ms_near, read_frame_code, split_frame_code

    codes = [split_frame_code(read_frame_code(frame.to_ndarray(format="gray"))) for frame in frames]
    indices = [index for index, _ in codes]
    captured = [capture_time_ms_near(wrapped, int(until_ms)) for _, wrapped in codes]
    result["frame_numbers"] = indices
    result["capture_age_ms"] = [round(until_ms - t) for t in captured]
    if any(b <= a for a, b in itertools.pairwise(indices)):
        return f"frame numbers do not count up: {indices}"
    # The camera may have captured the first frames a little before the request: a keyframe it kept.
    if not all(since_ms - 10_000 <= t <= until_ms + 1_000 for t in captured):
        return f"capture times are not this session's: {result['capture_age_ms']} ms old"
    return None


async def check(url: str, frames: int, timeout: float, token: str | None) -> dict:
    import aiohttp
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    result: dict = {"url": url}
    t0 = time.monotonic()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames_future: asyncio.Future = asyncio.get_running_loop().create_future()
    receivers: list[asyncio.Task[None]] = []  # referenced, so that a running one is not collected

    @pc.on("track")
    def on_track(track) -> None:
        if track.kind != "video" or not frames:
            return

        async def receive() -> None:
            try:
                received = [await track.recv() for _ in range(frames)]
                if not frames_future.done():
                    frames_future.set_result(received)
            except Exception as exc:  # reported below
                if not frames_future.done():
                    frames_future.set_exception(exc)

        receivers.append(asyncio.create_task(receive()))

    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Content-Type": "application/sdp"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            t_post = time.monotonic()
            wall_posted_ms = time.time() * 1000
            async with http.post(url, data=pc.localDescription.sdp, headers=headers) as response:
                answer = await response.text()
                result["status"] = response.status
                result["content_type"] = response.headers.get("Content-Type", "")
                location = response.headers.get("Location")
            result["answer_seconds"] = round(time.monotonic() - t_post, 3)
            if response.status != 201:
                result["error"] = f"expected 201 Created, got {response.status}: {answer[:300]}"
                return result
            if not result["content_type"].startswith("application/sdp"):
                result["error"] = f"answer is {result['content_type']!r}, not application/sdp"
                return result
            result["video_codecs"] = video_codecs(answer)
            if "H264" not in result["video_codecs"]:
                result["error"] = f"no H264 in the answer's video section: {result['video_codecs']}"
                return result
            result["location"] = location
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            if frames:
                try:
                    received = await asyncio.wait_for(frames_future, timeout)
                except Exception as exc:
                    result["error"] = (
                        f"not {frames} video frames within {timeout:g} s ({type(exc).__name__}: {exc}); "
                        f"ICE {pc.iceConnectionState}"
                    )
                    return result
                result["frames_seconds"] = round(time.monotonic() - t_post, 3)
                result["frame_size"] = [received[0].width, received[0].height]
                error = check_frame_codes(received, wall_posted_ms, time.time() * 1000, result)
                if error:
                    result["error"] = error
                    return result
            if location:
                async with http.delete(urljoin(url, location), headers=headers) as response:
                    result["delete_status"] = response.status
                    if not 200 <= response.status < 300:
                        result["error"] = f"DELETE {location} answered {response.status}"
                        return result
        result["ok"] = True
        return result
    finally:
        await pc.close()
        result["total_seconds"] = round(time.monotonic() - t0, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/whep")
    parser.add_argument("--frames", type=int, default=0, help="also decode this many video frames and check them")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--token", help="bearer token, when the daemon requires one")
    args = parser.parse_args(argv)
    result = asyncio.run(check(args.url, args.frames, args.timeout, args.token))
    print(json.dumps(result))
    if not result.get("ok"):
        print(f"WHEP check failed: {result.get('error')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
