"""CPU per added viewer, our daemon against Janus's streaming plugin (C), at 1080p30 4 Mbit/s H.264.

Both are measured in the same run, one after the other, with the same receivers: aiortc viewers
with decoding stubbed (``bench/receivers.py``), spread over ``--receiver-processes`` processes.
The figure is the least-squares slope of the sending process's CPU (% of one core, from /proc,
all threads) against the number of viewers.

- Ours: the daemon (``testbed/daemon.py``, loopback only) with its simulated camera at
  1920x1080, 30 fps, 4 Mbit/s, and its simulated microphone (Opus, 32 kbit/s); viewers use WHEP.
- Janus: Debian's ``janus`` (1.1.2) run as a child with a generated config: only the HTTP
  transport on 127.0.0.1 and the streaming plugin, one RTP mountpoint (H.264 + Opus) on
  127.0.0.1 ports; no STUN/TURN server, mDNS candidates ignored, ICE on one address only. Janus
  never gathers on a loopback interface, so it and its viewers use the host's own address on the
  default-route interface, which the kernel routes through ``lo`` as well (``local_address``).
  Viewers use its HTTP API: create, attach, watch, answer Janus's offer, start; a long poll per
  session receives the events and keeps the session alive.
- "The same RTP" for Janus: before both phases the bench records 4 s (two keyframe intervals) of
  our own simulated camera (``SimulatedCamera``: libx264 Constrained Baseline, SPS/PPS before
  every IDR, an IDR every 2 s, one access unit per frame) and 4 s of our Opus encoder fed by the
  simulated microphone, and a thread replays them in a loop as RTP to the mountpoint, packetized
  by aiortc's own H.264 packetizer (at most 1300 bytes: single NAL, STAP-A, FU-A) as our daemon
  does, each frame's packets in one burst at 30 fps. The bitstream and packets are thus those our
  daemon sends; replaying costs the machine almost nothing, whereas our daemon's own CPU also
  includes encoding the test picture (a constant: it does not change the slope).

Each count prints what the source produced (camera or replay, "src fps"), the slowest viewer's
fps (must be >= 29) and the CPU of the busiest receiver process. Receiving is not the
bottleneck: Python uses at most one core per process, and with 16 viewers over 4 processes the
busiest one used about 10 % of a core (first runs, 2 shared cores) while every Janus viewer got
30 fps; a viewer of ours below 29 fps came with the camera itself producing fewer frames (a
starved machine), not with a busy receiver.

    .venv/bin/python -m bench.janus [--window 8] [--counts 1,4,8,16] [--receiver-processes 4]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import aclosing
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import ifaddr
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtp import RtpPacket

from bench import charts
from bench.receivers import Janus, Measurement, ReceiverPool, Target, Whep, measure_window, slope
from bench.viewers import camera_frames
from edge.media.audio import OpusEncoder
from hw.camera import CameraSettings
from hw.camera.simulated import SimulatedCamera
from hw.microphone.simulated import SimulatedMicrophone
from testbed.daemon import LOOPBACK_ONLY, start_daemon
from testbed.janus import JANUS, JANUS_LIBS, JanusProcess, free_port, write_config

CAMERA = CameraSettings(width=1920, height=1080, framerate=30, bitrate=4_000_000, keyframe_interval=2.0)
OUR_CONFIG = "[camera]\nwidth = 1920\nheight = 1080\nframerate = 30\nbitrate = 4000000\nkeyframe_interval = 2.0\n"
OPUS_BITRATE = 32_000  # the daemon's default [microphone] bitrate
MOUNTPOINT = 1
VIDEO_PT, AUDIO_PT = 96, 111
SETTLE = 3.0  # seconds after adding viewers: each gets a keyframe (Janus: the next periodic one)


async def record(gops: int = 2) -> tuple[list[bytes], list[bytes]]:
    """``gops`` keyframe intervals of our simulated camera's access units, and as long of Opus packets."""
    video: list[bytes] = []
    audio: list[bytes] = []
    done = asyncio.Event()

    async def camera() -> None:
        async with aclosing(SimulatedCamera(CAMERA).frames()) as frames:
            async for unit in frames:
                if video or unit.keyframe:
                    video.append(unit.data)
                if len(video) == gops * CAMERA.gop_frames:
                    done.set()
                    return

    async def microphone() -> None:
        encoder = OpusEncoder(OPUS_BITRATE)
        async with aclosing(SimulatedMicrophone().chunks()) as chunks:
            async for chunk in chunks:
                audio.extend(p.data for p in encoder.encode(chunk))
                if done.is_set() and len(audio) * 0.02 >= len(video) / CAMERA.framerate:
                    return

    await asyncio.gather(camera(), microphone())
    return video, audio


def profile_level_id(access_unit: bytes) -> str:
    """The SPS's profile, constraints and level, as SDP's ``profile-level-id``."""
    for nal in access_unit.split(b"\x00\x00\x01"):
        if nal and nal[0] & 0x1F == 7:
            return nal[1:4].hex()
    raise ValueError("no SPS in the access unit")


class RtpReplay(threading.Thread):
    """Sends the recorded access units and Opus packets to two UDP ports, in a loop, in real time."""

    def __init__(self, video: list[bytes], audio: list[bytes], video_port: int, audio_port: int) -> None:
        super().__init__(name="rtp-replay", daemon=True)
        encoder = H264Encoder()
        self._frames = []
        for data in video:
            packet = av.Packet(data)
            packet.pts, packet.time_base = 0, Fraction(1, CAMERA.framerate)
            self._frames.append(encoder.pack(packet)[0])
        self._audio = audio
        self._video_to, self._audio_to = ("127.0.0.1", video_port), ("127.0.0.1", audio_port)
        self._halt = threading.Event()
        self.frames_sent = 0

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        start = time.monotonic()
        frame_s, audio_s = 1 / CAMERA.framerate, 0.020
        v = a = video_seq = 0
        while not self._halt.is_set():
            if v * frame_s <= a * audio_s:
                self._halt.wait(max(0.0, start + v * frame_s - time.monotonic()))
                payloads = self._frames[v % len(self._frames)]
                for i, payload in enumerate(payloads):
                    last = int(i == len(payloads) - 1)
                    rtp = RtpPacket(VIDEO_PT, last, video_seq & 0xFFFF, (v * 3000) & 0xFFFFFFFF, 1, payload)
                    sock.sendto(rtp.serialize(), self._video_to)
                    video_seq += 1
                v += 1
                self.frames_sent = v
            else:
                self._halt.wait(max(0.0, start + a * audio_s - time.monotonic()))
                rtp = RtpPacket(AUDIO_PT, 0, a & 0xFFFF, (a * 960) & 0xFFFFFFFF, 2, self._audio[a % len(self._audio)])
                sock.sendto(rtp.serialize(), self._audio_to)
                a += 1
        sock.close()


def local_address() -> str | None:
    """The IPv4 address of the default route's interface: Janus's ICE is kept to it.

    Janus 1.1.2 skips loopback interfaces when it gathers (``ice.c``), and with ``ice_enforce_list = "lo"``
    libnice falls back to every interface. Packets from the host to one of its own addresses still never
    leave it: the kernel routes them through ``lo`` (``ip route get <address>`` says ``local ... dev lo``).
    """
    with open("/proc/net/route") as f:
        routes = [line.split() for line in f.readlines()[1:]]
    interfaces = [r[0] for r in routes if r[1] == "00000000"]
    for adapter in ifaddr.get_adapters():
        if adapter.nice_name in interfaces:
            for ip in adapter.ips:
                if isinstance(ip.ip, str):
                    return ip.ip
    return None


def write_streaming_config(directory: Path, ports: tuple[int, int, int], ice_address: str, fmtp: str) -> None:
    """Only the HTTP transport (127.0.0.1) and the streaming plugin, with one RTP mountpoint."""
    http_port, video_port, audio_port = ports
    write_config(directory, ["libjanus_streaming.so"], ["libjanus_http.so"], ice_address, "bench")
    (directory / "janus.transport.http.jcfg").write_text(f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
""")
    (directory / "janus.plugin.streaming.jcfg").write_text(f"""general: {{
}}
bench: {{
    type = "rtp"
    id = {MOUNTPOINT}
    description = "bench: our simulated camera and microphone, replayed"
    audio = true
    audioport = {audio_port}
    audioiface = "127.0.0.1"
    audiopt = {AUDIO_PT}
    audiocodec = "opus"
    video = true
    videoport = {video_port}
    videoiface = "127.0.0.1"
    videopt = {VIDEO_PT}
    videocodec = "h264"
    videofmtp = "{fmtp}"
}}
""")


def run_counts(
    target: Target, pid: int, source_frames: Callable[[], int], counts: list[int], window: float, processes: int
) -> list[Measurement]:
    pool = ReceiverPool(target, processes)
    try:
        rows = []
        for count in counts:
            pool.add_viewers(count)
            time.sleep(SETTLE)
            rows.append(measure_window(pool, pid, window, source_frames))
        return rows
    finally:
        pool.close()


def measure_ours(counts: list[int], window: float, processes: int) -> list[Measurement]:
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(LOOPBACK_ONLY + OUR_CONFIG, Path(tmp))
        try:
            frames = partial(camera_frames, daemon)
            return run_counts(Whep(daemon.url, daemon.auth), daemon.proc.pid, frames, counts, window, processes)
        finally:
            daemon.stop()


def measure_janus(ice_address: str, counts: list[int], window: float, processes: int) -> list[Measurement]:
    video, audio = asyncio.run(record())
    fmtp = f"profile-level-id={profile_level_id(video[0])};packetization-mode=1"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        http_port, video_port, audio_port = free_port(), free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
        write_streaming_config(directory, (http_port, video_port, audio_port), ice_address, fmtp)
        janus = JanusProcess(directory, http_port)
        janus.start()
        try:
            replay = RtpReplay(video, audio, video_port, audio_port)
            replay.start()
            try:
                target = Janus(f"http://127.0.0.1:{http_port}/janus", MOUNTPOINT, ice_address)
                return run_counts(target, janus.pid, lambda: replay.frames_sent, counts, window, processes)
            finally:
                replay.stop()
        finally:
            janus.stop()


def write_chart(ours: list[Measurement], theirs: list[Measurement], slopes: tuple[float, float], window: float) -> Path:
    """Both senders' CPU against viewers, with the slopes printed, as docs/bench/janus.png."""
    senders = {
        "this daemon": ([(m.viewers, m.cpu) for m in ours], slopes[0]),
        "Janus streaming plugin": ([(m.viewers, m.cpu) for m in theirs], slopes[1]),
    }
    return charts.janus_cpu(senders, window, charts.chart_path("janus"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--counts", default="1,4,8,16")
    parser.add_argument("--receiver-processes", type=int, default=4)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    if not Path(JANUS).exists() or JANUS_LIBS is None:
        print("bench.janus: Janus is not installed; `make test-deps` installs it (Debian 12) or unpacks it (Debian 13)")
        return
    ice_address = local_address()
    if ice_address is None:
        print("bench.janus: no IPv4 address besides loopback, and Janus never uses loopback for ICE")
        return
    print("Sending process's CPU (% of one core) by viewers, 1080p30 4 Mbit/s H.264 + Opus")
    print("src fps: frames the camera (ours) or the RTP replay (Janus) produced; min fps: the slowest viewer's")
    ours = measure_ours(counts, args.window, args.receiver_processes)
    theirs = measure_janus(ice_address, counts, args.window, args.receiver_processes)
    header = ("viewers", "ours %", "src fps", "min fps", "Janus %", "src fps", "min fps")
    print("  " + "  ".join(f"{h:>7}" for h in header) + f"  {'busiest receiver %':>18}")
    for o, j in zip(ours, theirs, strict=True):
        cells = [f"{x:>7.1f}" for x in (o.cpu, o.source_fps, o.min_fps, j.cpu, j.source_fps, j.min_fps)]
        busiest = f"{o.receiver_cpu:.0f} / {j.receiver_cpu:.0f}"
        print(f"  {o.viewers:>7}  " + "  ".join(cells) + f"  {busiest:>18}")
    ours_slope = slope([(m.viewers, m.cpu) for m in ours])
    janus_slope = slope([(m.viewers, m.cpu) for m in theirs])
    print(f"Per added viewer (least-squares slope over {args.counts}): ", end="")
    print(f"ours {ours_slope:.2f} %, Janus {janus_slope:.2f} % of a core")
    ratio = f"{ours_slope / janus_slope:.2f}" if janus_slope > 0 else "n/a"
    print(f"Ratio ours/Janus: {ratio}")
    write_chart(ours, theirs, (ours_slope, janus_slope), args.window)
    if min(m.min_fps for m in ours + theirs) < 29:
        print("WARNING: a viewer received fewer than 29 fps: the figures above are not a fair comparison")


if __name__ == "__main__":
    main()
