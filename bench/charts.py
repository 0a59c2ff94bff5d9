"""The benchmarks' figures as PNG charts, for docs/benchmarks.md: each bench calls its chart at the end of ``main()``.

One function per chart, each taking plain numbers and the PNG's path. Charts are drawn
with matplotlib's object API (``Figure``, no pyplot): no display and no global state, and
PNGs are rendered by Agg. Every chart is 800x450 pixels.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

# Where charts go: docs/bench/ in the repository, or $EDGE_BENCH_CHARTS (the tests' tmp_path).
CHART_DIR = Path(__file__).resolve().parent.parent / "docs" / "bench"
CHART_DIR_ENV = "EDGE_BENCH_CHARTS"
WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100


def chart_path(name: str) -> Path:
    """Where the chart ``name`` (without ``.png``) is written."""
    return Path(os.environ.get(CHART_DIR_ENV) or CHART_DIR) / f"{name}.png"


def _figure() -> Figure:
    return Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)


def _save(fig: Figure, path: Path) -> Path:
    """Writes the PNG (without matplotlib's version in its metadata, so a rerun changes only what moved)."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    print(f"chart: {_shown(path)}")
    return path


def _shown(path: Path) -> str:
    """The path as printed: relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _strip(ax: Axes, groups: Mapping[str, Sequence[float]], unit: str, noun: str) -> None:
    """One row per group, top to bottom: each value a dot, the median a bar and its number (x from 0: the caller
    sets it last, after anything else that widens the axis). The row labels take room on the left: the caller
    titles the figure (``suptitle``), centred on it, not on the axes."""
    labels = list(groups)
    for row, label in enumerate(labels):
        values = list(groups[label])
        # Spread the dots a little vertically (evenly, not randomly) so equal values stay visible.
        offsets = [0.0] if len(values) == 1 else [0.24 * (i / (len(values) - 1) - 0.5) for i in range(len(values))]
        ax.scatter(values, [row + o for o in offsets], s=28, alpha=0.6, color="C0", zorder=3)
        median = statistics.median(values)
        ax.plot([median, median], [row - 0.3, row + 0.3], color="C3", linewidth=2, alpha=0.8, zorder=2)
        ax.annotate(
            f"median {median:.0f} {unit}",
            (median, row - 0.3),
            xytext=(0, 1),
            textcoords="offset points",
            ha="center",
            va="bottom",
            color="C3",
            fontsize=9,
        )
    counted = [f"{label}\n({len(groups[label])} {noun}{'' if len(groups[label]) == 1 else 's'})" for label in labels]
    ax.set_yticks(range(len(labels)), counted)
    ax.set_ylim(len(labels) - 0.5, -0.75)
    ax.grid(axis="x", alpha=0.3)


def viewers_cpu(profiles: Mapping[str, Sequence[tuple[int, float]]], window_s: float, path: Path) -> Path:
    """bench.viewers: the daemon's CPU against viewer count, one line per camera profile.

    ``profiles`` maps a profile's name to (viewers, CPU % of one core) points; the 0-viewer point is the idle
    baseline, from which the right panel's per-viewer figure, (total - idle) / viewers, is taken.
    """
    fig = _figure()
    total, per_viewer = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for name, points in profiles.items():
        points = sorted(points)
        idle = dict(points)[0]
        total.plot([n for n, _ in points], [cpu for _, cpu in points], marker="o", label=name)
        added = [(n, (cpu - idle) / n) for n, cpu in points if n > 0]
        per_viewer.plot([n for n, _ in added], [c for _, c in added], marker="o", label=name)
    total.set(xlabel="viewers", ylabel="daemon CPU (% of one core)", title="Total (0 viewers: camera only)")
    per_viewer.set(xlabel="viewers", ylabel="% of one core per viewer", title="Per viewer: (total - idle) / viewers")
    for ax in (total, per_viewer):
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    total.legend(loc="lower right", fontsize=9)
    fig.suptitle(
        f"Daemon CPU by number of WebRTC viewers (x86 core, simulated camera; one {window_s:g} s window per point)",
        fontsize=11,
    )
    return _save(fig, path)


def janus_cpu(senders: Mapping[str, tuple[Sequence[tuple[int, float]], float]], window_s: float, path: Path) -> Path:
    """bench.janus: CPU added per viewer, this daemon against Janus.

    ``senders`` maps a name to its (viewers, CPU % of one core) points and their least-squares slope. The
    totals differ by what each sender does besides sending (our daemon also encodes the simulated camera),
    so each is drawn from its own first point: what more viewers add.
    """
    fig = _figure()
    ax = fig.subplots()
    first_counts = set()
    for (name, (points, slope)), color in zip(senders.items(), ("C0", "C1", "C2"), strict=False):
        points = sorted(points)
        first_n, first_cpu = points[0]
        first_counts.add(first_n)
        xs, ys = [n for n, _ in points], [cpu - first_cpu for _, cpu in points]
        ax.plot(xs, ys, marker="o", linestyle="none", color=color)
        intercept = statistics.fmean(ys) - slope * statistics.fmean(xs)  # the fitted line passes through the mean
        fitted = [intercept + slope * x for x in (xs[0], xs[-1])]
        ax.plot([xs[0], xs[-1]], fitted, color=color, label=f"{name}: {slope:.2f} % per viewer")
    (first,) = first_counts  # the benches measure every sender at the same counts
    ax.set(xlabel="viewers", ylabel=f"CPU above {first} viewer{'s' if first > 1 else ''} (% of one core)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title(
        f"CPU per added viewer, 1080p30 4 Mbit/s H.264 + Opus: the sending process, one {window_s:g} s window\n"
        "per point (dots: measured; lines: least-squares fit)",
        fontsize=11,
    )
    return _save(fig, path)


def latency_histogram(latencies_ms: Sequence[float], seconds: float, path: Path) -> Path:
    """bench.live: per-frame capture-to-display latency (frame code against ``expectedDisplayTime``).

    The counts are on a log scale: most frames fall within a millisecond or two, and the few late ones
    (one or two frames each) would not show on a linear one.
    """
    fig = _figure()
    ax = fig.subplots()
    top = max(latencies_ms)
    ax.hist(latencies_ms, bins=[b / 2 for b in range(0, int(2 * top) + 2)], color="C0")
    for p, style in ((50, "-"), (95, "--")):
        value = _percentile(latencies_ms, p)
        ax.axvline(value, color="C3", linestyle=style, linewidth=1, label=f"p{p}: {value:.1f} ms")
    ax.set_yscale("log")
    ax.set(xlabel="capture to display (ms)", ylabel="frames (0.5 ms bins, log scale)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0.7)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax.set_title(
        "Capture-to-display latency of each frame, 1280x720@30, Chromium muted, on loopback\n"
        f"({len(latencies_ms)} frames over {seconds:g} s, max {top:.0f} ms; frame code vs expectedDisplayTime)",
        fontsize=11,
    )
    return _save(fig, path)


def _percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, as bench.live prints it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def first_frames(loads_ms: Mapping[str, Sequence[float]], path: Path) -> Path:
    """bench.live: time to the first frame of each page load, per kind of load."""
    fig = _figure()
    ax = fig.subplots()
    _strip(ax, loads_ms, "ms", "load")
    ax.set_xlim(left=0)
    ax.set_xlabel("first frame presented (ms after navigation start)")
    fig.suptitle(
        "Time to first frame of a page load, 1280x720@30, Chromium on loopback\n(each load a dot, the median a bar)",
        fontsize=11,
    )
    return _save(fig, path)


def recovery_times(scenarios: Mapping[str, Sequence[float]], target_s: float | None, title: str, path: Path) -> Path:
    """bench.ice_restart, bench.publish: seconds to recover, per scenario, each run a dot."""
    fig = _figure()
    ax = fig.subplots()
    _strip(ax, {name: [s * 1000 for s in runs] for name, runs in scenarios.items()}, "ms", "run")
    if target_s is not None:
        ax.axvline(target_s * 1000, color="0.4", linestyle="--", linewidth=1, label=f"target: {target_s:g} s")
        ax.legend(loc="upper right")
    ax.set_xlim(left=0)
    ax.set_xlabel("ms until media flows again")
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def weak_link(
    frame_rates: Mapping[str, Sequence[tuple[float, float]]],
    latencies: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    path: Path,
) -> Path:
    """bench.weak_link: over time since the shaped viewer's page opened, frames each viewer was shown a second
    (top) and each of the shaped viewer's frames' capture-to-display latency (bottom, log scale: seconds late
    and tens of milliseconds late on one axis). Both map a series' name to (seconds, value) points; the colours
    go in order, so the latencies' series match the first frame rates'."""
    fig = _figure()
    rates, late = fig.subplots(2, 1, sharex=True)
    for name, points in frame_rates.items():
        rates.plot([t for t, _ in points], [v for _, v in points], label=name, linewidth=1.2)
    for (name, points), color in zip(latencies.items(), ("C0", "C1", "C2"), strict=False):
        late.scatter([t for t, _ in points], [v for _, v in points], s=4, alpha=0.5, color=color, label=name)
    rates.set(ylabel="frames shown / s")
    rates.set_ylim(bottom=0)
    late.set(xlabel="seconds since the shaped viewer's page opened", ylabel="latency (ms, log)")
    late.set_yscale("log")
    late.yaxis.set_major_locator(LogLocator(subs=(1.0, 3.0)))
    late.yaxis.set_major_formatter(ScalarFormatter())
    late.yaxis.set_minor_formatter(NullFormatter())
    late.set_xlim(left=0)
    for ax, where in ((rates, "center right"), (late, "best")):
        ax.grid(alpha=0.3)
        ax.legend(loc=where, fontsize=8, markerscale=3)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)
