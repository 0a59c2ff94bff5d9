"""A viewer on a weak link, with per-viewer adaptation on and off, and what the second encoder costs.

The rig of tests/netns/test_weak_link.py (``testbed/netns/weak_link.py``): the daemon on the host
(simulated camera 1280x720@30 2 Mbit/s, a keyframe every 10 s, the low stream at its defaults), one
Chromium on loopback and one in a namespace behind a link held to 700 kbit/s with 60 ms each way and a
250 ms queue. Run once with the shaped viewer's page asking ``?quality=auto`` (adaptation on) and once
``?quality=high`` (off: main whatever the link). After a warm-up (the page's load through the link, its
first frames, the switch), over a window: each viewer's frames, freeze time, frame-code latency,
keyframes and bytes received (its page's ``getStats()`` and ``requestVideoFrameCallback``), what the
daemon retransmitted to it (``/metrics``) and what went into the link and was dropped there (the
link's own counts).

The second encoder's cost: the daemon alone (no viewers), ``[camera.low]`` enabled and disabled in
turn, its CPU over a window each (simulated camera: the low stream is scaled by swscale and encoded by a
second libx264; a Pi scales in its ISP). The Pi 5 estimate scales it by the single-core ratio of
docs/picamera2.md ("The Pi 5's encode budget").

    .venv/bin/python -m bench.weak_link [--seconds 40] [--warmup 10] [--cpu-window 10] [--cpu-rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import charts
from bench.procstat import cpu_percent
from testbed.daemon import LOOPBACK_ONLY, start_daemon
from testbed.netns.weak_link import (
    CAMERA,
    WATCH_INTERVAL_S,
    WEAK_DELAY_S,
    WEAK_RATE_BPS,
    LinkFigures,
    ViewerFigures,
    WeakLinkRig,
    launch_host_chromium,
    link_figures,
    main_keyframes_forced,
    viewer_figures,
)
from testbed.page_trace import PLAUSIBLE_LATENCY_MS, Trace

MODES = {"auto": "adaptation on (auto)", "high": "adaptation off (HD)"}
PI5_CORE_RATIO = 0.85  # a Pi 5 core does about 0.85 of this machine's single-core work (docs/picamera2.md)
FRAMERATE = 30


@dataclass
class Run:
    mode: str
    weak: ViewerFigures
    strong: ViewerFigures
    link: LinkFigures
    main_keyframes_forced: int
    first_frame_s: float | None  # after the shaped viewer's page opened
    on_low_s: float | None
    frame_rates: dict[str, list[tuple[float, float]]]  # viewer -> (seconds since opened, frames shown that second)
    latencies: list[tuple[float, float]]  # the shaped viewer's frames: (seconds since opened, ms)


def frames_per_second(trace: Trace, opened: float, end: float) -> list[tuple[float, float]]:
    counts = Counter(int(f.at - opened) for f in trace.frames_within(opened, end))
    return [(second + 0.5, counts.get(second, 0)) for second in range(int(end - opened))]


def run_mode(playwright, host_browser, directory: Path, mode: str, warmup: float, seconds: float) -> Run:
    rig = WeakLinkRig(playwright, host_browser, directory, weak_quality=mode)
    try:
        opened = rig.weak.opened_at
        start, end = opened + warmup, opened + warmup + seconds
        time.sleep(max(0.0, end - time.time()) + WATCH_INTERVAL_S + 0.5)  # the window, and the daemon read after it
        weak, strong = rig.weak.trace(), rig.strong.trace()
        first_frame = rig.weak.first_frame_at()
        on_low = weak.first_sample(640)
        low, high = PLAUSIBLE_LATENCY_MS
        return Run(
            mode=mode,
            weak=viewer_figures(rig, rig.weak, weak, start, end),
            strong=viewer_figures(rig, rig.strong, strong, start, end),
            link=link_figures(rig, start, end),
            main_keyframes_forced=main_keyframes_forced(rig, start, end),
            first_frame_s=None if first_frame is None else first_frame - opened,
            on_low_s=None if on_low is None else on_low.at - opened,
            frame_rates={
                f"shaped viewer, {MODES[mode]}": frames_per_second(weak, opened, end),
                f"other viewer ({mode} run)": frames_per_second(strong, opened, end),
            },
            latencies=[
                (f.at - opened, f.latency_ms) for f in weak.frames_within(opened, end) if low <= f.latency_ms <= high
            ],
        )
    finally:
        rig.close()


def daemon_cpu(low: bool, window: float, directory: Path) -> float:
    """The daemon's CPU (% of one core) over ``window``, no viewers, with or without the low stream."""
    daemon = start_daemon(f"{LOOPBACK_ONLY}{CAMERA}[camera.low]\nenabled = {str(low).lower()}\n", directory)
    try:
        time.sleep(3)  # past its start (imports, the encoders' first frames)
        return cpu_percent(daemon.proc.pid, window)
    finally:
        daemon.stop()


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(runs: list[Run], seconds: float, warmup: float) -> None:
    columns = [(f"shaped, {run.mode}", run.weak, run) for run in runs] + [
        (f"other ({run.mode} run)", run.strong, run) for run in runs
    ]

    def retransmitted(v: ViewerFigures) -> str:
        if v.retransmitted_bytes is None:
            return f"{fmt(v.retransmitted_packets)} packets"
        return f"{v.retransmitted_bytes * 8 / v.seconds / 1000:.0f} kbit/s"

    rows: list[tuple[str, list[str]]] = [
        ("frame widths", ["/".join(map(str, sorted(v.widths))) or "-" for _, v, _ in columns]),
        ("frames decoded / s", [f"{v.frame_rate:.1f}" for _, v, _ in columns]),
        ("frozen (Chromium), s a minute", [f"{v.freeze_s_per_minute:.1f}" for _, v, _ in columns]),
        ("no new frame > 183 ms, s a minute", [f"{v.stalled_s_per_minute:.1f}" for _, v, _ in columns]),
        ("latency p50 / p95, ms", [f"{fmt(v.latency_p50_ms)} / {fmt(v.latency_p95_ms)}" for _, v, _ in columns]),
        ("keyframes decoded", [str(v.keyframes) for _, v, _ in columns]),
        ("received, kbit/s (video)", [f"{v.bytes_received * 8 / v.seconds / 1000:.0f}" for _, v, _ in columns]),
        ("NACKs / PLIs sent", [f"{v.nacks} / {v.plis}" for _, v, _ in columns]),
        ("WHEP sessions", [str(v.sessions) for _, v, _ in columns]),
        ("daemon: packets NACKed", [fmt(v.nack_requests) for _, v, _ in columns]),
        ("daemon: retransmitted", [retransmitted(v) for _, v, _ in columns]),
    ]
    shaped = len(runs)
    rows += [
        (
            "into the link: Mbit/s (peak)",
            [f"{r.link.offered_bps / 1e6:.2f} ({r.link.peak_offered_bps / 1e6:.1f})" for r in runs] + [""] * shaped,
        ),
        ("the link dropped", [f"{100 * r.link.dropped:.0f} %" for r in runs] + [""] * shaped),
        (
            "first frame / on low, s",
            [f"{fmt(r.first_frame_s, '.1f')} / {fmt(r.on_low_s, '.1f')}" for r in runs] + [""] * shaped,
        ),
        ("main encoder: keyframes asked", [str(r.main_keyframes_forced) for r in runs] + [""] * shaped),
    ]
    print(
        f"A weak link: {WEAK_RATE_BPS / 1000:.0f} kbit/s, {WEAK_DELAY_S * 1000:.0f} ms each way, 250 ms queue;"
        f" camera 1280x720@30 2 Mbit/s (a keyframe every 10 s) + low 640x360 450 kbit/s;"
        f" {seconds:g} s after {warmup:g} s of warm-up:"
    )
    names = [name for name, _, _ in columns]
    width = max(len(label) for label, _ in rows)
    cell = max(14, *(len(value) for _, values in rows for value in values), *(len(n) for n in names))
    print(f"  {'':<{width}}  " + "  ".join(f"{n:>{cell}}" for n in names))
    for label, values in rows:
        print(f"  {label:<{width}}  " + "  ".join(f"{v:>{cell}}" for v in values))


def print_cpu(cpu: dict[bool, list[float]], window: float) -> None:
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    added = on - off
    ms_per_frame = added / 100 * 1000 / FRAMERATE
    print(
        f"The second encoder (daemon alone, no viewers, simulated camera; medians of {len(cpu[True])} x {window:g} s):"
    )
    print(
        f"  [camera.low] enabled {on:.1f} %, disabled {off:.1f} % of one core:"
        f" +{added:.1f} % ({ms_per_frame:.2f} ms a frame)"
    )
    print(
        f"  a Pi 5 (software encoder, core ratio {PI5_CORE_RATIO}):"
        f" about {ms_per_frame / PI5_CORE_RATIO:.2f} ms a frame,"
        f" {added / PI5_CORE_RATIO:.1f} % of one core (up to twice that: x264's NEON kernels), less the scaling that"
        " the Pi's ISP does"
    )


def write_chart(
    frame_rates: dict[str, list[tuple[float, float]]], latencies: dict[str, list[tuple[float, float]]]
) -> Path:
    """The runs' frames shown a second and the shaped viewer's latencies, as docs/bench/weak-link.png."""
    return charts.weak_link(
        frame_rates,
        latencies,
        f"A viewer on a {WEAK_RATE_BPS // 1000} kbit/s, {WEAK_DELAY_S * 1000:.0f} ms link beside one on loopback,"
        " 1280x720@30 2 Mbit/s\n(Chromium; each frame's latency by its frame code)",
        charts.chart_path("weak-link"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--cpu-window", type=float, default=10)
    parser.add_argument("--cpu-rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        host = launch_host_chromium(p)
        try:
            runs = [run_mode(p, host, Path(tmp) / mode, mode, args.warmup, args.seconds) for mode in MODES]
        finally:
            host.close()
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for n in range(args.cpu_rounds):
            for low in (True, False):
                cpu[low].append(daemon_cpu(low, args.cpu_window, Path(tmp) / f"cpu{n}{low}"))
    print_table(runs, args.seconds, args.warmup)
    print_cpu(cpu, args.cpu_window)
    rates = [item for run in runs for item in run.frame_rates.items()]
    write_chart(
        dict(sorted(rates, key=lambda item: not item[0].startswith("shaped"))),  # coloured as the latencies
        {f"shaped viewer, {MODES[run.mode]}": run.latencies for run in runs},
    )


if __name__ == "__main__":
    main()
