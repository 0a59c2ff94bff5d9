"""Two viewers of one camera, one of them on a weak link (issue 28): the rig of tests/netns/test_weak_link.py
and bench/weak_link.py.

::

    daemon (host, simulated camera 1280x720@30, 2 Mbit/s, a keyframe every 10 s, the low stream's defaults)
      ├── loopback ── "strong" Chromium (host)
      └── impaired link (testbed/netns/impair.py: 700 kbit/s and 60 ms each way) ── "weak" Chromium (a namespace)

The weak Chromium runs in a namespace (``CameraNamespace``: here it holds a viewer, not a camera) whose
only way out is the impaired link; the daemon listens on the host's end of that link, so both pages open
the same URL (the strong one's traffic stays on the host, through loopback). Both pages record what they
see (``testbed/page_trace.py``); a thread reads the daemon's ``/api/status`` and ``/metrics`` and the link's
own counts every second (:class:`DaemonWatch`). The tests and the bench read figures off all three.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Error as PlaywrightError
from prometheus_client.parser import text_string_to_metric_families

from edge.api.metrics import viewer_label
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.daemon import DaemonProcess, start_daemon
from testbed.netns.impair import Impairment
from testbed.netns.remote import chromium_in_namespace
from testbed.netns.scenarios import load_until_playing
from testbed.netns.topology import CameraNamespace, Link, ip, sysctl
from testbed.page_trace import Trace, percentile, record_js

CAMERA = "[camera]\nwidth = 1280\nheight = 720\nframerate = 30\nbitrate = 2000000\nkeyframe_interval = 10\n"
KEYFRAME_INTERVAL_S = 10  # as CAMERA says: the periodic keyframes, against which extra ones stand out
WEAK_RATE_BPS = 700_000
WEAK_DELAY_S = 0.060
WATCH_INTERVAL_S = 1.0
# The per-viewer counters of /metrics the rig keeps (video only), by name without _total. The bytes are
# counted only once the sender counts them (issue 28's bounded retransmissions).
VIEWER_COUNTERS = (
    "edge_viewer_nack_requests",
    "edge_viewer_retransmitted_packets",
    "edge_viewer_retransmitted_bytes",
    "edge_viewer_sent_bytes",
)


def launch_host_chromium(playwright: Any) -> Any:
    """Chromium on the host, as the ``chromium`` fixture launches it (tests/conftest.py)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    warm_up_webrtc(browser)
    return browser


@dataclass
class Snapshot:
    """What :class:`DaemonWatch` read at one moment."""

    at: float  # Unix time
    status: dict  # /api/status
    viewers: dict[str, dict[str, float]]  # viewer label -> counter (VIEWER_COUNTERS) -> value, video
    link: dict  # the impaired link's stats (ImpairedLinkProcess.stats)


def viewer_counters(metrics: str) -> dict[str, dict[str, float]]:
    viewers: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            name = sample.name.removesuffix("_total")
            if name in VIEWER_COUNTERS and sample.labels.get("kind") == "video":
                viewers.setdefault(sample.labels["viewer"], {})[name] = sample.value
    return viewers


class DaemonWatch:
    """Reads the daemon and the link every WATCH_INTERVAL_S, in a thread, until stopped."""

    def __init__(self, daemon: DaemonProcess, netns: CameraNamespace, link: Link) -> None:
        self.snapshots: list[Snapshot] = []
        self._url = f"http://{link.host_address}:{daemon.port}"  # where the daemon listens (not 127.0.0.1)
        self._auth = daemon.auth
        self._netns, self._link = netns, link
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            at = time.time()
            with contextlib.suppress(requests.RequestException, RuntimeError, ValueError):
                status = self._get("/api/status").json()
                metrics = self._get("/metrics").text
                link = self._netns.link_stats(self._link)
                self.snapshots.append(Snapshot(at, status, viewer_counters(metrics), link))
            self._stop.wait(WATCH_INTERVAL_S)

    def _get(self, path: str) -> requests.Response:
        response = requests.get(self._url + path, headers=self._auth, timeout=5)
        response.raise_for_status()
        return response

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def at(self, when: float) -> Snapshot:
        """The last snapshot taken at or before ``when`` (the first one if none was)."""
        before = [s for s in self.snapshots if s.at <= when]
        return before[-1] if before else self.snapshots[0]


@dataclass
class Viewer:
    name: str
    page: Any
    opened_at: float  # Unix time: when its page was opened

    def trace(self) -> Trace:
        return Trace.read(self.page)

    def wait_until(self, predicate: str, timeout_s: float) -> bool:
        """Until ``predicate`` (JavaScript over ``t``, the page's ``window.__trace``) holds; False on timeout."""
        try:
            self.page.wait_for_function(
                f"() => {{ const t = window.__trace; return {predicate}; }}", timeout=timeout_s * 1000, polling=100
            )
        except PlaywrightError:
            return False
        return True

    def first_frame_at(self) -> float | None:
        """When the page presented its first frame (Unix time), or None."""
        at = self.page.evaluate(
            "() => window.edgeViewer && window.edgeViewer.firstFrameAt !== null"
            " ? performance.timeOrigin + window.edgeViewer.firstFrameAt : null"
        )
        return None if at is None else at / 1000


@dataclass
class WeakLinkRig:
    """``weak_quality``: what the weak page's WHEP POSTs ask for (None: what the page asks); ``low``: whether the
    camera makes its low stream ([camera.low] enabled)."""

    playwright: Any
    host_browser: Any
    directory: Path
    weak_quality: str | None = None
    low: bool = True
    rate_bps: float = WEAK_RATE_BPS
    delay_s: float = WEAK_DELAY_S
    netns: CameraNamespace = field(init=False)
    _closers: list = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.netns = CameraNamespace()
        self._closers.append(self.netns.close)
        try:
            self.link = self.netns.add_impaired_link(Impairment(0.0, self.delay_s, self.rate_bps))
            # Chromium offers candidates only for the address its default route leaves from: without one it
            # offers none, and its end-of-candidates can reach the daemon before its first check does (aioice
            # then fails at once). The host forwards nothing that comes in on the link.
            ip("route", "add", "default", "dev", self.link.camera_if, ns=self.netns.name)
            sysctl(f"net.ipv4.conf.{self.link.host_if}.forwarding=0")
            self.netns.wait_until_host_settled()
            config = (
                f"{CAMERA}[camera.low]\nenabled = {str(self.low).lower()}\n"
                f'[webrtc]\ninterfaces = ["{self.link.host_if}"]\n'
            )
            self.daemon = start_daemon(config, self.directory / "daemon", host=self.link.host_address)
            self._closers.append(self.daemon.stop)
            self.url = f"http://{self.link.host_address}:{self.daemon.port}/?token={self.daemon.token}"
            self.strong = self._open("strong", self.host_browser, None)
            load_until_playing(self.strong.page, self.url)
            weak_browser = chromium_in_namespace(self.playwright, self.netns.name, self.directory)
            self._closers.append(weak_browser.close)
            self.weak = self._open("weak", weak_browser, self.weak_quality)
            # Through the narrow link the page takes a second or two; its first session starts at once.
            with contextlib.suppress(PlaywrightError):
                self.weak.page.goto(self.url, timeout=30000)
            self.watch = DaemonWatch(self.daemon, self.netns, self.link)
            self._closers.append(self.watch.stop)
        except BaseException:
            self.close()
            raise

    def _open(self, name: str, browser: Any, quality: str | None) -> Viewer:
        context = browser.new_context()
        self._closers.append(context.close)
        context.add_init_script(record_js(quality))
        return Viewer(name, context.new_page(), time.time())

    def set_rate(self, rate_bps: float | None) -> None:
        """The weak link's rate limit from now on (None: lifted); its delay stays."""
        self.netns.set_link_rate(self.link, rate_bps)

    def viewer_counter(self, viewer: Viewer, trace: Trace, name: str, start: float, end: float) -> float | None:
        """How much a /metrics counter of ``viewer``'s sessions grew from ``start`` to ``end`` (None: the
        daemon does not count it). A session that ended before ``end`` counts with its last figures."""
        labels = {viewer_label(session_id) for session_id in trace.session_ids}
        seen = [s for s in self.watch.snapshots if s.at <= end]
        if not any(name in counters for s in seen for counters in s.viewers.values()):
            return None
        total = 0.0
        for label in labels:
            values = [(s.at, s.viewers[label][name]) for s in seen if name in s.viewers.get(label, {})]
            if values:
                total += values[-1][1] - max([v for at, v in values if at <= start], default=0.0)
        return total

    def weak_session(self, when: float) -> dict | None:
        """The weak viewer's session in /api/status at ``when``: the newest of those but the oldest, which is the
        strong page's (it started first and stays; /api/status names no session, and both may use the same
        local address)."""
        sessions = self.watch.at(when).status["sessions"]
        if len(sessions) < 2:
            return None
        strong = max(sessions, key=lambda s: s["age_s"])
        others = [s for s in sessions if s is not strong]
        return min(others, key=lambda s: s["age_s"])

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()
        self._closers.clear()


@dataclass
class ViewerFigures:
    """One viewer's figures over a window, from its page and from the daemon's counters of its sessions."""

    seconds: float
    frame_rate: float  # frames decoded per second
    freeze_s: float  # Chromium's totalFreezesDuration, grown over the window
    freezes: int  # Chromium's freezeCount
    stalled_s: float  # no new frame shown for longer than a freeze (page_trace.Trace.stalled_s)
    longest_gap_s: float  # between frames presented (requestVideoFrameCallback)
    latency_p50_ms: float | None  # capture to expected display, by frame code
    latency_p95_ms: float | None
    unreadable: int  # frames presented with a damaged frame code
    keyframes: int  # keyFramesDecoded
    bytes_received: int  # video, at the page
    nacks: int  # NACK packets the page sent
    plis: int
    widths: set[int]
    sessions: int  # WHEP sessions the page started (from its first load, not only in the window)
    nack_requests: float | None  # packets NACKed, as the daemon counted them
    retransmitted_packets: float | None
    retransmitted_bytes: float | None  # None until the daemon counts them

    @property
    def freeze_s_per_minute(self) -> float:
        return self.freeze_s * 60 / self.seconds

    @property
    def stalled_s_per_minute(self) -> float:
        return self.stalled_s * 60 / self.seconds

    def line(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}"

        def count(value: float | None) -> str:
            return "not counted" if value is None else f"{value:.0f}"

        return (
            f"{self.frame_rate:.1f} fps, {self.freezes} freezes {self.freeze_s:.2f} s ({self.freeze_s_per_minute:.2f}"
            f" s/min), no new frame for {self.stalled_s:.2f} s ({self.stalled_s_per_minute:.2f} s/min), longest gap"
            f" {self.longest_gap_s:.2f} s, latency p50"
            f" {ms(self.latency_p50_ms)} ms p95 {ms(self.latency_p95_ms)} ms ({self.unreadable} frames unreadable),"
            f" {self.keyframes} keyframes, {self.bytes_received * 8 / self.seconds / 1000:.0f} kbit/s received,"
            f" {self.nacks} NACKs, {self.plis} PLIs, widths {sorted(self.widths)}, {self.sessions} WHEP sessions;"
            f" the daemon: {count(self.nack_requests)} packets NACKed, {count(self.retransmitted_packets)}"
            f" retransmitted ({count(self.retransmitted_bytes)} bytes)"
        )


@dataclass
class LinkFigures:
    """The weak link toward its viewer over a window, as the link counted (``to_camera``: into the namespace)."""

    offered_bps: float  # everything the daemon sent into it
    peak_offered_bps: float  # the most in one of DaemonWatch's intervals
    dropped: float  # the fraction its full queue dropped

    def line(self) -> str:
        return (
            f"the daemon sent {self.offered_bps / 1e6:.2f} Mbit/s into the link (peak {self.peak_offered_bps / 1e6:.1f}"
            f" Mbit/s over {WATCH_INTERVAL_S:g} s), which dropped {100 * self.dropped:.0f} % of it"
        )


def viewer_figures(rig: WeakLinkRig, viewer: Viewer, trace: Trace, start: float, end: float) -> ViewerFigures:
    latencies = trace.latencies_ms(start, end)

    def daemon(name: str) -> float | None:
        return rig.viewer_counter(viewer, trace, name, start, end)

    return ViewerFigures(
        seconds=end - start,
        frame_rate=trace.frame_rate(start, end),
        freeze_s=trace.increase("freeze_s", start, end),
        freezes=round(trace.increase("freeze_count", start, end)),
        stalled_s=trace.stalled_s(start, end),
        longest_gap_s=trace.longest_gap_s(start, end),
        latency_p50_ms=percentile(latencies, 50) if latencies else None,
        latency_p95_ms=percentile(latencies, 95) if latencies else None,
        unreadable=trace.unreadable_frames(start, end),
        keyframes=round(trace.increase("keyframes", start, end)),
        bytes_received=round(trace.increase("bytes", start, end)),
        nacks=round(trace.increase("nacks", start, end)),
        plis=round(trace.increase("plis", start, end)),
        widths=trace.widths(start, end),
        sessions=len(trace.session_ids),
        nack_requests=daemon("edge_viewer_nack_requests"),
        retransmitted_packets=daemon("edge_viewer_retransmitted_packets"),
        retransmitted_bytes=daemon("edge_viewer_retransmitted_bytes"),
    )


def link_figures(rig: WeakLinkRig, start: float, end: float) -> LinkFigures:
    snapshots = [s for s in rig.watch.snapshots if start <= s.at <= end]
    counts = [(s.at, s.link["to_camera"]["bytes"], s.link["to_camera"]["dropped_bytes"]) for s in snapshots]
    if len(counts) < 2:
        return LinkFigures(0.0, 0.0, 0.0)
    (t0, offered0, dropped0), (t1, offered1, dropped1) = counts[0], counts[-1]
    peak = max((b[1] - a[1]) * 8 / (b[0] - a[0]) for a, b in pairwise(counts))
    offered = offered1 - offered0
    return LinkFigures(offered * 8 / (t1 - t0), peak, (dropped1 - dropped0) / offered if offered else 0.0)


def main_keyframes_forced(rig: WeakLinkRig, start: float, end: float) -> int:
    """Keyframes asked of the main encoder from ``start`` to ``end`` (every viewer of main gets each)."""
    return (
        rig.watch.at(end).status["camera"]["keyframes_forced"]
        - rig.watch.at(start).status["camera"]["keyframes_forced"]
    )
