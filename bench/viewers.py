"""The daemon's CPU per viewer: 1, 4, 8 and 16 WebRTC viewers at 720p30 and 1080p30.

Viewers are aiortc receivers in this (separate) process, with decoding stubbed
out so that they cost this machine little; each counts the frames it receives,
so a viewer that gets nothing shows; "camera fps" is what the camera produced
in the same window (a starved machine slows the simulated camera itself). The daemon's CPU is read from /proc over a
window, and compared with its own idle baseline (camera running, no viewer)
taken in the same run: on a shared machine only ratios within a run mean much.

Off a Pi the baseline includes the simulated camera's libx264 encoding, which
the Pi's hardware encoder does for free; the per-viewer figure is what matters.

    .venv/bin/python -m bench.viewers [--window 8] [--counts 1,4,8,16]
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import tempfile
import threading
from pathlib import Path

import aiohttp
import aiortc.rtcrtpreceiver
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.procstat import cpu_percent
from testbed.daemon import LOOPBACK_ONLY, start_daemon

PROFILES = {
    "1280x720@30 2 Mbit/s": "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\nbitrate = 2000000\n",
    "1920x1080@30 4 Mbit/s": "[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\nbitrate = 4000000\n",
}

frames_received = 0
_count_lock = threading.Lock()


def counting_decoder_worker(loop, input_q: queue.Queue, output_q, decode_error) -> None:
    """Stands in for aiortc's decoder thread: counts video frames, decodes nothing."""
    global frames_received
    while (task := input_q.get()) is not None:
        codec, _frame = task
        if codec.name == "H264":
            with _count_lock:
                frames_received += 1


aiortc.rtcrtpreceiver.decoder_worker = counting_decoder_worker


async def connect_viewer(session: aiohttp.ClientSession, url: str) -> RTCPeerConnection:
    """A viewer; ``session`` carries the daemon's Authorization header."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with session.post(
        url + "/whep", data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
    ) as r:
        r.raise_for_status()
        answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def camera_frames(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url + "/api/status") as r:
        return (await r.json())["camera"]["frames"]


async def measure(
    url: str, auth: dict, pid: int, counts: list[int], window: float
) -> list[tuple[int, float, float, float]]:
    global frames_received
    rows = []
    async with aiohttp.ClientSession(headers=auth) as session:
        baseline = await asyncio.to_thread(cpu_percent, pid, window)
        rows.append((0, baseline, 0.0, 0.0))
        pcs: list[RTCPeerConnection] = []
        for count in counts:
            while len(pcs) < count:
                pcs.append(await connect_viewer(session, url))
            await asyncio.sleep(2)  # let every viewer get its keyframe and settle
            frames_received = 0
            produced = await camera_frames(session, url)
            cpu = await asyncio.to_thread(cpu_percent, pid, window)
            camera_fps = (await camera_frames(session, url) - produced) / window
            rows.append((count, cpu, frames_received / window / count, camera_fps))
        await asyncio.gather(*(pc.close() for pc in pcs))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--counts", default="1,4,8,16")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    print("Daemon CPU (% of one core) by number of viewers; per-viewer = (total - idle) / viewers")
    for name, camera in PROFILES.items():
        with tempfile.TemporaryDirectory() as tmp:
            daemon = start_daemon(LOOPBACK_ONLY + camera, Path(tmp))
            try:
                rows = asyncio.run(measure(daemon.url, daemon.auth, daemon.proc.pid, counts, args.window))
            finally:
                daemon.stop()
        baseline = rows[0][1]
        print(f"\n{name}: idle (camera only) {baseline:.1f} %")
        print(f"  {'viewers':>7}  {'total %':>8}  {'per viewer %':>12}  {'camera fps':>10}  {'fps/viewer':>10}")
        for count, cpu, fps, camera_fps in rows[1:]:
            print(f"  {count:>7}  {cpu:>8.1f}  {(cpu - baseline) / count:>12.2f}  {camera_fps:>10.1f}  {fps:>10.1f}")


if __name__ == "__main__":
    main()
