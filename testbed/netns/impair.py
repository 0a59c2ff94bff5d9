"""A lossy, slow link between the host and a camera namespace, emulated in user space.

``tc qdisc ... netem`` would be the usual tool, but this machine's kernel has no
``sch_netem`` (nor modules to load it). So the link is a pair of TUN devices,
one in the host's namespace and one in the camera's, and a small process in
between that carries each IP packet across after a fixed delay, dropping each
one independently with the given probability (random loss, as ``netem loss``),
in both directions. The kernel's own interface counters show what was dropped:
packets that entered one end and never left the other.

The process is this module (``python -m testbed.netns.impair``). It makes both
devices (they exist while it runs), prints ``ready``, and exits when its stdin
closes, so that a test that dies takes the link with it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import heapq
import json
import os
import random
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


@dataclass(frozen=True)
class Impairment:
    loss: float  # probability that a packet is dropped, in each direction
    delay_s: float  # one way, in each direction


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class ImpairedLinkProcess:
    """The process carrying ``host_if`` <-> ``camera_if`` (the latter moved into namespace ``ns``)."""

    def __init__(self, host_if: str, camera_if: str, ns: str, impairment: Impairment) -> None:
        args = [host_if, camera_if, ns, str(impairment.loss), str(impairment.delay_s)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testbed.netns.impair", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],  # where ``testbed`` is importable from
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the impaired link did not start: {line!r}")

    def lateness(self) -> dict[str, float]:
        """How late, at worst, packets left the link (and how many more than 10 ms late)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _carry(fds: tuple[int, int], control: int, loss: float, delay_s: float) -> None:
    """Packets read from one fd are written to the other ``delay_s`` later, unless dropped.

    A line on ``control`` asks for how late the packets were written (this process
    not getting the CPU in time): ``{"late_max_ms": ..., "late_over_10ms": ...}``.
    """
    other = {fds[0]: fds[1], fds[1]: fds[0]}
    due: list[tuple[float, int, int, bytes]] = []  # (when, sequence, fd to write to, packet)
    sequence = 0
    late_max, late_over_10ms = 0.0, 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([*fds, control], [], [], timeout)
        if control in readable:
            if not os.read(control, 4096):
                return  # stdin closed: the test is done (or gone)
            print(json.dumps({"late_max_ms": round(late_max * 1000, 1), "late_over_10ms": late_over_10ms}), flush=True)
        for fd in fds:
            if fd not in readable:
                continue
            while True:  # everything waiting, so that a burst is not spread out by the loop
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:  # a device went away with its namespace
                    return
                if random.random() >= loss:
                    sequence += 1
                    heapq.heappush(due, (time.monotonic() + delay_s, sequence, other[fd], packet))
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, _, fd, packet = heapq.heappop(due)
            late_max = max(late_max, now - when)
            late_over_10ms += now - when > 0.010
            with contextlib.suppress(OSError):  # the far end is down or gone: a packet lost on the wire
                os.write(fd, packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host_if")
    parser.add_argument("camera_if")
    parser.add_argument("ns")
    parser.add_argument("loss", type=float)
    parser.add_argument("delay_s", type=float)
    args = parser.parse_args()
    with contextlib.suppress(OSError):  # a wire is not late because the machine is busy (where allowed)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    host, camera = open_tun(args.host_if), open_tun(args.camera_if)
    subprocess.run(["ip", "link", "set", args.camera_if, "netns", args.ns], check=True, timeout=10)
    print("ready", flush=True)
    _carry((host, camera), sys.stdin.fileno(), args.loss, args.delay_s)


if __name__ == "__main__":
    main()
