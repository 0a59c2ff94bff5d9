"""The benchmarks' charts: each bench turns its own results into a PNG of the right size,
docs/benchmarks.md shows every chart in docs/bench/ (and nothing that is not there), and the README
shows some of them. No daemon, no browser."""

from __future__ import annotations

import inspect
import re
import struct
from pathlib import Path

import pytest

from bench import charts, ice_restart, janus, live, publish, viewers, weak_link
from bench.receivers import Measurement

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def chart_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Charts go to tmp_path, never to docs/bench."""
    monkeypatch.setenv(charts.CHART_DIR_ENV, str(tmp_path))
    return tmp_path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the file decodes as a picture."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    from matplotlib.image import imread

    assert imread(path).shape[:2] == (height, width)
    return width, height


def assert_chart(path: Path, tmp_path: Path, name: str) -> None:
    assert path == tmp_path / f"{name}.png"
    assert png_size(path) == (charts.WIDTH_PX, charts.HEIGHT_PX)
    assert path.stat().st_size < 100_000


def test_viewers_chart(chart_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(0, 13.0, 0.0, 0.0), (1, 14.5, 30.0, 30.0), (4, 16.0, 30.0, 30.0), (16, 20.0, 29.5, 30.0)]
    path = viewers.write_chart({"720p": rows, "1080p": [(n, c + 10, f, s) for n, c, f, s in rows]}, 8.0)
    assert_chart(path, chart_dir, "viewers")
    assert f"chart: {path}" in capsys.readouterr().out


def test_live_charts(chart_dir: Path) -> None:
    loads = {
        "fresh browser": [{"first frame presented": 320.0, "offer made": 80.0}],
        "same tab again": [{"first frame presented": 130.0 + i} for i in range(10)],
        "new private window": [{"first frame presented": 220.0 + 3 * i} for i in range(10)],
    }
    samples = [{"latency": 9.0 + (i % 7), "composited": 2.0, "index": i} for i in range(600)]
    first, latency = live.write_charts(loads, samples, 20)
    assert_chart(first, chart_dir, "live-first-frame")
    assert_chart(latency, chart_dir, "live-latency")


def test_ice_restart_chart(chart_dir: Path) -> None:
    results = {
        "link down 3 s, same address": [{"recovery": 0.08, "pause": 3.1, "same_pc": True}] * 5,
        "camera address changes": [{"recovery": 0.7 + i / 100, "pause": 0.75, "same_pc": True} for i in range(5)],
    }
    assert_chart(ice_restart.write_chart(results), chart_dir, "ice-restart")


def test_janus_chart(chart_dir: Path) -> None:
    ours = [Measurement(n, 20 + 0.35 * n, 30, 5, 30) for n in (1, 4, 8, 16)]
    theirs = [Measurement(n, 1 + 0.7 * n, 30, 5, 30) for n in (1, 4, 8, 16)]
    assert_chart(janus.write_chart(ours, theirs, (0.35, 0.7), 8.0), chart_dir, "janus")


def test_publish_chart(chart_dir: Path) -> None:
    assert_chart(publish.write_chart([2.9, 1.3, 1.2, 2.7, 2.2], [0.12] * 5), chart_dir, "publish")


def test_weak_link_chart(chart_dir: Path) -> None:
    seconds = [t + 0.5 for t in range(50)]
    frame_rates = {"shaped, auto": [(t, 29.0) for t in seconds], "shaped, HD": [(t, 0.3) for t in seconds]}
    latencies = {
        "shaped, auto": [(t, 90.0 * (1 + t % 3)) for t in seconds],
        "shaped, HD": [(t, 3000.0) for t in seconds],
    }
    assert_chart(weak_link.write_chart(frame_rates, latencies), chart_dir, "weak-link")


def test_a_single_run_still_draws(chart_dir: Path) -> None:
    """A bench run with --runs 1 (or --counts 1) draws too: one dot, no spread to compute."""
    assert_chart(publish.write_chart([2.0], [0.1]), chart_dir, "publish")
    assert_chart(viewers.write_chart({"720p": [(0, 13.0, 0, 0), (1, 14.0, 30, 30)]}, 8.0), chart_dir, "viewers")


@pytest.mark.parametrize(
    "module, writer",
    [
        (viewers, "write_chart"),
        (live, "write_charts"),
        (ice_restart, "write_chart"),
        (janus, "write_chart"),
        (publish, "write_chart"),
        (weak_link, "write_chart"),
    ],
)
def test_each_bench_draws_its_chart_at_the_end(module, writer: str) -> None:
    """``make bench`` regenerates the charts only if each bench's main() calls its writer."""
    assert f"{writer}(" in inspect.getsource(module.main)


def charts_shown(page: Path) -> set[str]:
    """The bench charts a page shows as images, as paths from the repository's root."""
    images = re.findall(r"!\[[^\]]+\]\(([^)\s]+\.png)\)", page.read_text())
    paths = {(page.parent / image).resolve().relative_to(ROOT).as_posix() for image in images}
    return {path for path in paths if path.startswith("docs/bench/")}


def test_the_benchmarks_page_shows_every_chart_in_docs_bench() -> None:
    shown = charts_shown(BENCHMARKS)
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "bench").glob("*.png")}
    assert shown, "docs/benchmarks.md shows no bench chart"
    assert shown - on_disk == set(), "docs/benchmarks.md shows charts that are not in docs/bench/"
    assert on_disk - shown == set(), "charts in docs/bench/ that docs/benchmarks.md does not show"


def test_the_readme_shows_headline_charts_from_docs_bench() -> None:
    shown = charts_shown(README)
    assert shown, "the README shows no bench chart"
    assert all((ROOT / path).is_file() for path in shown), "the README shows charts that are not in docs/bench/"


def test_charts_go_to_docs_bench_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(charts.CHART_DIR_ENV)
    assert charts.chart_path("viewers") == ROOT / "docs" / "bench" / "viewers.png"
