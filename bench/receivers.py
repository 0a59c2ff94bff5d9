"""Viewers for the benches: aiortc receivers with decoding stubbed, spread over several processes.

Each receiver process runs an event loop with its share of the viewers; aiortc's decoder thread is
replaced by one that counts video frames and decodes nothing, so a viewer costs this machine only
its network, SRTP and depacketizing work. Python runs one core per process: with the viewers spread
over processes, receiving is not what limits 16 viewers (each process reports its own CPU to show it).

Viewers offer and use one address only (aioice's host addresses are replaced), and no STUN/TURN: 127.0.0.1,
or for Janus, which never gathers candidates on a loopback interface, the host's own address that Janus is
restricted to (packets between two of the host's own addresses go through ``lo`` too).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aioice.ice
import aiortc.rtcrtpreceiver
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.procstat import cpu_seconds

# One counter per video receiver of this process, in the order they started.
_video_frames: list[list[int]] = []
_count_lock = threading.Lock()


def counting_decoder_worker(loop, input_q: queue.Queue, output_q, decode_error) -> None:
    """Stands in for aiortc's decoder thread (named "video-decoder" or "audio-decoder"): counts video frames."""
    if not threading.current_thread().name.startswith("video"):
        while input_q.get() is not None:
            pass
        return
    counter = [0]
    with _count_lock:
        _video_frames.append(counter)
    while input_q.get() is not None:
        counter[0] += 1  # one thread per counter: no lock needed


@dataclass(frozen=True)
class Whep:
    """Our daemon: viewers POST an offer to ``url``/whep."""

    url: str
    auth: dict[str, str]


@dataclass(frozen=True)
class Janus:
    """Janus's HTTP API at ``url`` (…/janus): viewers watch streaming mountpoint ``mountpoint``."""

    url: str
    mountpoint: int
    ice_address: str  # Janus never gathers on loopback: viewers use this host address, as Janus does


Target = Whep | Janus


def new_peer_connection() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def connected(pc: RTCPeerConnection, timeout: float = 15) -> None:
    """Waits until ICE and DTLS are up, so that a sender never has many viewers connecting at once."""
    deadline = asyncio.get_running_loop().time() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed") or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"viewer did not connect: {pc.connectionState}")
        await asyncio.sleep(0.05)


async def connect_whep(http: aiohttp.ClientSession, target: Whep) -> RTCPeerConnection:
    pc = new_peer_connection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    headers = {**target.auth, "Content-Type": "application/sdp"}
    async with http.post(target.url + "/whep", data=pc.localDescription.sdp, headers=headers) as r:
        r.raise_for_status()
        answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await connected(pc)
    return pc


async def janus_request(http: aiohttp.ClientSession, url: str, message: dict[str, Any]) -> dict[str, Any]:
    async with http.post(url, json={**message, "transaction": uuid.uuid4().hex}) as r:
        r.raise_for_status()
        reply = await r.json(content_type=None)
    if reply.get("janus") == "error":
        raise RuntimeError(f"Janus: {reply['error']}")
    return reply


async def _janus_events(http: aiohttp.ClientSession, session_url: str, jsep: asyncio.Future) -> None:
    """Long-polls the session's events: this also keeps the session alive (Janus answers within 30 s)."""
    while True:
        async with http.get(session_url, params={"maxev": "1"}) as r:
            event = await r.json(content_type=None)
        if "jsep" in event and not jsep.done():
            jsep.set_result(event["jsep"])


async def connect_janus(http: aiohttp.ClientSession, target: Janus, tasks: list[asyncio.Task]) -> RTCPeerConnection:
    """Create a session, attach the streaming plugin, "watch", answer Janus's offer, "start"."""
    session = (await janus_request(http, target.url, {"janus": "create"}))["data"]["id"]
    session_url = f"{target.url}/{session}"
    attach = {"janus": "attach", "plugin": "janus.plugin.streaming"}
    handle_url = f"{session_url}/{(await janus_request(http, session_url, attach))['data']['id']}"
    offer: asyncio.Future = asyncio.get_running_loop().create_future()
    tasks.append(asyncio.create_task(_janus_events(http, session_url, offer)))
    watch = {"janus": "message", "body": {"request": "watch", "id": target.mountpoint}}
    await janus_request(http, handle_url, watch)
    jsep = await asyncio.wait_for(offer, 10)
    pc = new_peer_connection()
    await pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = {"type": "answer", "sdp": pc.localDescription.sdp}
    await janus_request(http, handle_url, {"janus": "message", "body": {"request": "start"}, "jsep": answer})
    await connected(pc)
    return pc


async def _serve(conn: multiprocessing.connection.Connection, target: Target) -> None:
    pcs: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        while (command := await asyncio.to_thread(conn.recv)) is not None:
            for _ in range(command):
                if isinstance(target, Whep):
                    pcs.append(await connect_whep(http, target))
                else:
                    pcs.append(await connect_janus(http, target, tasks))
            with _count_lock:
                conn.send([c[0] for c in _video_frames])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(pc.close() for pc in pcs))


def _receiver_process(conn: multiprocessing.connection.Connection, target: Target) -> None:
    aiortc.rtcrtpreceiver.decoder_worker = counting_decoder_worker
    address = target.ice_address if isinstance(target, Janus) else "127.0.0.1"
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]
    asyncio.run(_serve(conn, target))


class ReceiverPool:
    """``processes`` receiver processes; viewers are added round-robin across them."""

    def __init__(self, target: Target, processes: int = 4) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns: list[multiprocessing.connection.Connection] = []
        self._procs = []
        for _ in range(processes):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_receiver_process, args=(theirs, target), daemon=True)
            proc.start()
            self._conns.append(ours)
            self._procs.append(proc)
        self.viewers = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def _ask(self, adds: list[int]) -> list[int]:
        for conn, n in zip(self._conns, adds, strict=True):
            conn.send(n)
        counts: list[int] = []
        for conn, n in zip(self._conns, adds, strict=True):
            if not conn.poll(30 + 10 * n):
                raise RuntimeError("a receiver process did not answer")
            counts += conn.recv()
        return counts

    def add_viewers(self, total: int) -> None:
        """Connects viewers until there are ``total``."""
        adds = [0] * len(self._conns)
        for i in range(self.viewers, total):
            adds[i % len(adds)] += 1
        self._ask(adds)
        self.viewers = max(total, self.viewers)

    def frame_counts(self) -> list[int]:
        """Video frames each viewer has received so far (a viewer that has had none may be missing)."""
        return self._ask([0] * len(self._conns))

    def cpu_seconds(self) -> list[float]:
        return [cpu_seconds(pid) for pid in self.pids]

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):  # that process has died (its error is on stderr)
                conn.send(None)
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


@dataclass
class Measurement:
    viewers: int
    cpu: float  # the sender's CPU, % of one core
    min_fps: float  # the slowest viewer's video frames per second
    receiver_cpu: float  # the busiest receiver process's CPU, % of one core
    source_fps: float  # frames the source (camera) produced


def measure_window(pool: ReceiverPool, sender_pid: int, window: float, source_frames: Callable[[], int]) -> Measurement:
    """Sender CPU, slowest viewer's fps, busiest receiver process and source fps over ``window`` seconds."""
    before, receivers_before, produced = pool.frame_counts(), pool.cpu_seconds(), source_frames()
    start_cpu, start = cpu_seconds(sender_pid), time.monotonic()
    time.sleep(window)
    after, receivers_after = pool.frame_counts(), pool.cpu_seconds()
    elapsed = time.monotonic() - start
    source_fps = (source_frames() - produced) / elapsed
    cpu = 100 * (cpu_seconds(sender_pid) - start_cpu) / elapsed
    before += [0] * (len(after) - len(before))
    per_viewer = [(a - b) / elapsed for a, b in zip(after, before, strict=True)]
    per_viewer += [0.0] * (pool.viewers - len(per_viewer))  # viewers whose decoder never started
    busiest = max(100 * (a - b) / elapsed for a, b in zip(receivers_after, receivers_before, strict=True))
    return Measurement(pool.viewers, cpu, min(per_viewer), busiest, source_fps)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y against x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
