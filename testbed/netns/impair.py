"""A lossy, slow, narrow link between the host and a namespace, emulated in user space.

``tc qdisc ... netem`` would be the usual tool, but this machine's kernel has no
``sch_netem`` (nor modules to load it). So the link is a pair of TUN devices,
one in the host's namespace and one in the other namespace, and a small process
in between that carries each IP packet across. Each direction on its own, as
``netem loss`` + ``rate`` + ``limit`` would: a packet may be lost at random; with
a rate limit it waits in a bounded queue until the link has serialized the
packets before it (a departure-time schedule: it leaves ``size * 8 / rate``
seconds after the one before it, or after it arrived if the link was idle), and
a packet that does not fit in the queue is dropped (tail drop, counted); then it
takes the fixed delay to reach the far end. The kernel's own interface counters
show what was dropped: packets that entered one end and never left the other.

The queue's default, :data:`QUEUE_S` at the rate, is sized as a mobile link's
buffer is, to its rate. The link can be changed while it runs (``rate`` below):
tests lift the limit or make it flap.

The process is this module (``python -m testbed.netns.impair``). It makes both
devices (they exist while it runs), prints ``ready``, and exits when its stdin
closes, so that a test that dies takes the link with it. Lines on its stdin:

- ``stats``: one JSON line back, what :meth:`ImpairedLinkProcess.stats` returns;
- ``rate BPS [QUEUE_BYTES]``: each direction's new rate limit (0: none) and queue
  (default: :data:`QUEUE_S` at the rate), for the packets that arrive from now on;
  ``ok`` back once it applies.
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
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

# The queue in front of a rate limit holds what the link carries in this long: at 700 kbit/s 21.9 kB, a few
# of the low stream's keyframes (~7 kB each at 640x360) but not one of the main stream's bursts (18-37 kB at
# 1280x720, 2 Mbit/s), and at 5 Mbit/s 156 kB. Mobile links buffer from ~100 ms to seconds (bufferbloat);
# 250 ms keeps a 700 kbit/s link's worst queueing delay below the 400 ms latency target minus its
# 2 x 60 ms of propagation, so that a viewer whose stream fits is measured, not the buffer.
QUEUE_S = 0.25
MIN_QUEUE_BYTES = 3000  # two full-size packets, whatever the rate
LATE_S = 0.010  # a packet this much later out than scheduled: the process did not get the CPU in time


@dataclass(frozen=True)
class Impairment:
    loss: float  # probability that a packet is dropped, in each direction
    delay_s: float  # one way, in each direction
    rate_bps: float | None = None  # each direction's rate limit; None: as fast as packets come
    queue_bytes: int | None = None  # the queue before the rate limit; None: QUEUE_S at the rate


def default_queue_bytes(rate_bps: float) -> int:
    return max(MIN_QUEUE_BYTES, round(rate_bps * QUEUE_S / 8))


class Direction:
    """One direction of the link: random loss, then a rate limit behind a bounded tail-drop queue."""

    def __init__(self, loss: float, rate_bps: float | None, queue_bytes: int | None) -> None:
        self.loss = loss
        self.rate_bps: float | None = None
        self.queue_bytes = 0
        self.set_rate(rate_bps, queue_bytes)
        self._queue: deque[tuple[float, int]] = deque()  # (when it has left, size) of packets not yet serialized
        self._queued = 0  # their bytes
        self._free_at = 0.0  # when the link has serialized everything queued
        self.packets = self.bytes = self.lost = self.dropped = self.dropped_bytes = 0
        self.queue_max_bytes = 0
        self.queue_max_s = 0.0

    def set_rate(self, rate_bps: float | None, queue_bytes: int | None = None) -> None:
        self.rate_bps = rate_bps or None
        self.queue_bytes = queue_bytes or (default_queue_bytes(rate_bps) if rate_bps else 0)

    def departure(self, now: float, size: int) -> float | None:
        """When a packet of ``size`` bytes that arrived ``now`` has left this end, or None: lost or dropped."""
        self.packets += 1
        self.bytes += size
        if random.random() < self.loss:
            self.lost += 1
            return None
        if self.rate_bps is None:  # behind what a limit lifted a moment ago still holds: no reordering
            return max(now, self._free_at)
        while self._queue and self._queue[0][0] <= now:
            self._queued -= self._queue.popleft()[1]
        if self._queued + size > self.queue_bytes:
            self.dropped += 1
            self.dropped_bytes += size
            return None
        leaves = max(now, self._free_at) + size * 8 / self.rate_bps
        self._free_at = leaves
        self._queue.append((leaves, size))
        self._queued += size
        self.queue_max_bytes = max(self.queue_max_bytes, self._queued)
        self.queue_max_s = max(self.queue_max_s, leaves - now)
        return leaves

    def stats(self) -> dict[str, float | int | None]:
        return {
            "rate_bps": self.rate_bps,
            "queue_bytes": self.queue_bytes,
            "packets": self.packets,
            "bytes": self.bytes,  # offered: everything that came in at this end
            "lost": self.lost,  # at random
            "dropped": self.dropped,  # by the full queue
            "dropped_bytes": self.dropped_bytes,
            "queue_max_bytes": self.queue_max_bytes,
            "queue_max_ms": round(self.queue_max_s * 1000, 1),  # the longest a packet waited (and was serialized)
        }


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class ImpairedLinkProcess:
    """The process carrying ``host_if`` <-> ``camera_if`` (the latter moved into namespace ``ns``)."""

    def __init__(self, host_if: str, camera_if: str, ns: str, impairment: Impairment) -> None:
        args = [host_if, camera_if, ns, str(impairment.loss), str(impairment.delay_s)]
        if impairment.rate_bps:
            args += ["--rate", str(impairment.rate_bps)]
        if impairment.queue_bytes:
            args += ["--queue", str(impairment.queue_bytes)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testbed.netns.impair", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],  # where ``testbed`` is importable from
        )
        assert self.proc.stdout is not None
        self._lock = threading.Lock()  # one question and its answer at a time (a rig's thread asks too)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the impaired link did not start: {line!r}")

    def _ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return self.proc.stdout.readline()

    def stats(self) -> dict:
        """How late, at worst, packets left the link (and how many more than 10 ms late), and each
        direction's counts (``to_camera``: from the host's end; ``to_host``: from the namespace's)."""
        return json.loads(self._ask("stats"))

    def lateness(self) -> dict[str, float]:
        stats = self.stats()
        return {key: stats[key] for key in ("late_max_ms", "late_over_10ms")}

    def set_rate(self, rate_bps: float | None, queue_bytes: int | None = None) -> None:
        """Each direction's rate limit from now on (None: none), with its queue (None: QUEUE_S at the rate)."""
        reply = self._ask(f"rate {rate_bps or 0} {queue_bytes or 0}").strip()
        if reply != "ok":
            raise RuntimeError(f"the impaired link refused the rate {rate_bps}: {reply}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _command(line: str, directions: tuple[Direction, Direction], late: tuple[float, int]) -> str:
    """The reply to one control line."""
    words = line.split()
    if words == ["stats"]:
        stats = {"late_max_ms": round(late[0] * 1000, 1), "late_over_10ms": late[1]}
        return json.dumps({**stats, "to_camera": directions[0].stats(), "to_host": directions[1].stats()})
    if len(words) in (2, 3) and words[0] == "rate":
        try:
            rate, queue = float(words[1]), int(words[2]) if len(words) == 3 else 0
        except ValueError:
            return f"error: not numbers: {line!r}"
        for direction in directions:
            direction.set_rate(rate, queue)
        return "ok"
    return f"error: unknown command {line!r}"


def _carry(fds: tuple[int, int], control: int, replies: TextIO, impairment: Impairment) -> None:
    """Packets read from one fd are written to the other as ``impairment`` says, until ``control`` closes.

    ``fds[0]`` is the host's end (its packets go the ``to_camera`` way), ``fds[1]`` the namespace's.
    Each line on ``control`` gets one line of reply on ``replies`` (see the module's docstring).
    """
    directions = tuple(Direction(impairment.loss, impairment.rate_bps, impairment.queue_bytes) for _ in fds)
    way = {fds[0]: (directions[0], fds[1]), fds[1]: (directions[1], fds[0])}
    due: list[tuple[float, int, int, bytes]] = []  # (when, sequence, fd to write to, packet)
    sequence = 0
    late_max, late_over = 0.0, 0
    pending = b""  # a control line not yet complete
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([*fds, control], [], [], timeout)
        if control in readable:
            chunk = os.read(control, 4096)
            if not chunk:
                return  # stdin closed: the test is done (or gone)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                print(_command(line.decode(), (directions[0], directions[1]), (late_max, late_over)), file=replies)
            replies.flush()
        for fd in fds:
            if fd not in readable:
                continue
            direction, to = way[fd]
            while True:  # everything waiting, so that a burst is not spread out by the loop
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:  # a device went away with its namespace
                    return
                leaves = direction.departure(time.monotonic(), len(packet))
                if leaves is not None:
                    sequence += 1
                    heapq.heappush(due, (leaves + impairment.delay_s, sequence, to, packet))
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, _, fd, packet = heapq.heappop(due)
            late_max = max(late_max, now - when)
            late_over += now - when > LATE_S
            with contextlib.suppress(OSError):  # the far end is down or gone: a packet lost on the wire
                os.write(fd, packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host_if")
    parser.add_argument("camera_if")
    parser.add_argument("ns")
    parser.add_argument("loss", type=float)
    parser.add_argument("delay_s", type=float)
    parser.add_argument("--rate", type=float, help="each direction's rate limit, bits/s")
    parser.add_argument("--queue", type=int, help="the queue before the rate limit, bytes")
    args = parser.parse_args()
    with contextlib.suppress(OSError):  # a wire is not late because the machine is busy (where allowed)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    host, camera = open_tun(args.host_if), open_tun(args.camera_if)
    subprocess.run(["ip", "link", "set", args.camera_if, "netns", args.ns], check=True, timeout=10)
    print("ready", flush=True)
    _carry((host, camera), sys.stdin.fileno(), sys.stdout, Impairment(args.loss, args.delay_s, args.rate, args.queue))


if __name__ == "__main__":
    main()
