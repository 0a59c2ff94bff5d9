"""What recording costs and how exact its clips are: the daemon's extra CPU while a clip is
written, the pre-trigger buffer's memory, and clip start/end accuracy against the frame code.

CPU is read from /proc over windows that alternate between idle (camera, microphone
and pre-trigger buffer running, nothing written) and recording (a manual clip), and
compared as a ratio within the run: on a shared machine only that means much. Off a
Pi both include the simulated camera's libx264 encoding, which the Pi's hardware
encoder does for free; the difference is what recording adds (muxing, no re-encode).

    .venv/bin/python -m bench.recording [--window 8] [--rounds 2] [--clips 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import cpu_percent, rss_mib
from edge.media.audio import OpusPacket
from hw.camera import H264AccessUnit
from testbed.clips import (
    clips,
    drive,
    recordings_dir,
    wait_buffered,
    wait_finished,
    wait_for,
    wall_frame_codes,
)
from testbed.daemon import LOOPBACK_ONLY, DaemonProcess, start_daemon

PRE_S, POST_S, KEYFRAME_INTERVAL_S = 5.0, 5.0, 2.0
CONFIG = f"""
[camera]
width = 1280
height = 720
framerate = 30
bitrate = 2000000
keyframe_interval = {KEYFRAME_INTERVAL_S}

[recording]
pre_seconds = {PRE_S}
post_seconds = {POST_S}

[[triggers]]
name = "bench"
pin = 17
mode = "hold"
"""


def object_overhead(video_frames: int, packets: int) -> int:
    """Python's own bytes around each buffered payload: the item object and the bytes header."""
    unit = H264AccessUnit(b"", True, 0, 0.0)
    packet = OpusPacket(b"", 0)
    empty = sys.getsizeof(b"")
    per_video = sys.getsizeof(unit) + empty + 8  # + the deque slot
    per_audio = sys.getsizeof(packet) + empty + 8
    return video_frames * per_video + (packets - video_frames) * per_audio


def measure_cpu(daemon, window: float, rounds: int) -> tuple[list[float], list[float]]:
    idle, recording = [], []
    for _ in range(rounds):
        idle.append(cpu_percent(daemon.proc.pid, window))
        daemon.request("POST", "/api/recordings", json={"seconds": window + 30}).raise_for_status()
        wait_for(daemon.health, lambda h: h["recording"]["state"] == "recording", 10, "recording")
        time.sleep(1)  # past the pre-roll burst: measure the steady state
        recording.append(cpu_percent(daemon.proc.pid, window))
        daemon.request("POST", "/api/recordings/stop").raise_for_status()
        wait_for(lambda: clips(daemon), lambda c: all(x["complete"] for x in c), 30, "the clip to close")
    return idle, recording


def wait_frames(daemon: DaemonProcess, count: int) -> None:
    """Until the camera has made ``count`` more frames."""
    start = daemon.health()["camera"]["frames"]
    wait_for(daemon.health, lambda h: h["camera"]["frames"] >= start + count, 10, f"{count} frames")


def measure_timing(daemon, count: int) -> list[tuple[float, float]]:
    """(pre-roll in seconds, end error in seconds) of ``count`` clips made with a held input."""
    results = []
    for _ in range(count):
        wait_buffered(daemon, PRE_S + KEYFRAME_INTERVAL_S)
        pressed = drive(daemon, 17, True)
        wait_frames(daemon, 30)
        released = drive(daemon, 17, False)
        done = wait_finished(daemon, count=len(clips(daemon)), timeout=60)
        codes = wall_frame_codes(recordings_dir(daemon) / done[-1]["name"])
        results.append((pressed - codes[0][1], codes[-1][1] - (released + POST_S)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=float, default=8.0, help="seconds per CPU measurement")
    parser.add_argument("--rounds", type=int, default=2, help="idle/recording pairs")
    parser.add_argument("--clips", type=int, default=3, help="clips for the timing figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(LOOPBACK_ONLY + CONFIG, Path(tmp))
        try:
            wait_buffered(daemon, PRE_S + KEYFRAME_INTERVAL_S)
            buffer = daemon.health()["recording"]["buffer"]
            rss = rss_mib(daemon.proc.pid)
            idle, recording = measure_cpu(daemon, args.window, args.rounds)
            timing = measure_timing(daemon, args.clips)
        finally:
            daemon.stop()

    print("1280x720@30, 2 Mbit/s, keyframe every 2 s, Opus 32 kbit/s; pre_seconds 5, post_seconds 5")
    overhead = object_overhead(buffer["frames"], buffer["packets"])
    print(
        f"pre-trigger buffer: {buffer['seconds']:.1f} s, {buffer['frames']} frames + "
        f"{buffer['packets'] - buffer['frames']} audio packets; payload {buffer['bytes'] / 2**20:.2f} MiB "
        f"+ ~{overhead / 2**20:.2f} MiB of Python objects (daemon RSS {rss:.0f} MiB)"
    )
    ratios = [r / i for i, r in zip(idle, recording, strict=True)]
    print(
        f"daemon CPU, % of one core: idle {', '.join(f'{c:.1f}' for c in idle)}; "
        f"recording {', '.join(f'{c:.1f}' for c in recording)}"
    )
    print(
        f"recording / idle: {statistics.median(ratios):.3f} (median of {len(ratios)}; "
        f"extra {statistics.median(r - i for i, r in zip(idle, recording, strict=True)):+.1f} % of a core)"
    )
    pre = [t[0] for t in timing]
    end = [t[1] for t in timing]
    print(
        f"pre-roll achieved: {min(pre):.3f} .. {max(pre):.3f} s (asked {PRE_S:g}, "
        f"allowed up to {PRE_S + KEYFRAME_INTERVAL_S:g} with a keyframe every {KEYFRAME_INTERVAL_S:g} s)"
    )
    print(
        f"clip end vs release + post_seconds: {min(end) * 1000:+.0f} .. {max(end) * 1000:+.0f} ms "
        f"(one frame is {1000 / 30:.0f} ms)"
    )


if __name__ == "__main__":
    main()
