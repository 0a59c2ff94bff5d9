#!/usr/bin/env python3
"""A WHEP viewer in a few lines of aiortc: proves a running daemon answers and streams.

    python image/check_whep.py --url http://127.0.0.1:8080/whep [--media] [--timeout 120]

POSTs an SDP offer (recvonly video + audio, no STUN/TURN servers) and requires
``201 Created`` with an ``application/sdp`` answer whose video section offers H264.
With ``--media`` it also waits until ICE connects and the first video frame decodes.
Finally it DELETEs the session resource. Prints one JSON line with the timings; exit
status 0 when everything required passed.

Only talks to the URL given (use loopback or a network namespace of your own).
"""

from __future__ import annotations

import argparse
import asyncio
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


async def check(url: str, media: bool, timeout: float, token: str | None) -> dict:
    import aiohttp
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    result: dict = {"url": url}
    t0 = time.monotonic()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frame_future: asyncio.Future = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track) -> None:
        if track.kind != "video":
            return

        async def first_frame() -> None:
            try:
                frame = await track.recv()
                if not frame_future.done():
                    frame_future.set_result(frame)
            except Exception as exc:  # reported below
                if not frame_future.done():
                    frame_future.set_exception(exc)

        asyncio.ensure_future(first_frame())

    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Content-Type": "application/sdp"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            t_post = time.monotonic()
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
            if media:
                try:
                    frame = await asyncio.wait_for(frame_future, timeout)
                except Exception as exc:
                    result["error"] = (
                        f"no video frame within {timeout:g} s ({type(exc).__name__}: {exc}); "
                        f"ICE {pc.iceConnectionState}"
                    )
                    return result
                result["first_frame_seconds"] = round(time.monotonic() - t_post, 3)
                result["frame_size"] = [frame.width, frame.height]
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
    parser.add_argument("--media", action="store_true", help="also wait for the first decoded video frame")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--token", help="bearer token, when the daemon requires one")
    args = parser.parse_args(argv)
    result = asyncio.run(check(args.url, args.media, args.timeout, args.token))
    print(json.dumps(result))
    if not result.get("ok"):
        print(f"WHEP check failed: {result.get('error')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
