"""Recovery from network changes by in-place ICE restart, per scenario, in Debian's Chromium.

The daemon runs in a network namespace, Chromium on the host watches it
through a veth pair (see ``testbed/netns/scenarios.py``). For each scenario:
how long after the new path was usable the first new frame was presented
(the target: within 1 s, never more than 2 s), the pause the viewer saw, and
where the time went, from the page's own view: stall noticed -> restart PATCH
answered -> first new frame. Needs root (namespaces).

    .venv/bin/python -m bench.ice_restart [--runs 5] [--scenario NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import charts
from testbed.browser import CHROMIUM, CHROMIUM_ARGS, warm_up_webrtc
from testbed.netns import scenarios

# Marks, in the page, when a restart PATCH (If-Match: *) goes out and when the first one is answered.
MARK_RESTART_PATCHES_JS = """
() => {
  window.__restart = {sent: null, answered: null};
  const fetch = window.fetch;
  window.fetch = async (url, init = {}) => {
    const restart = init.method === 'PATCH' && init.headers && init.headers['If-Match'] === '*';
    if (restart) window.__restart.sent ??= Date.now();
    const response = await fetch(url, init);
    if (restart && response.ok) window.__restart.answered ??= Date.now();
    return response;
  };
}
"""


def run_once(name: str, browser, tmp_path: Path) -> dict:
    links, change = scenarios.SCENARIOS[name]
    rig = scenarios.Rig(browser, tmp_path, links)
    try:
        rig.page.evaluate(MARK_RESTART_PATCHES_JS)
        changed_at, usable_at = change(rig)
        recovery = rig.recovery(name, changed_at, usable_at)
        marks = rig.page.evaluate("window.__restart")
        rig_error = rig.page.evaluate("window.edgeViewer.lastError")
        resumed = scenarios.resumption(rig.page.evaluate("window.__frames"), changed_at)
        assert resumed is not None, "rig.recovery() waited for the frames to come back"
        paused_at, resumed_at = resumed
    finally:
        rig.close()
    sent = marks["sent"] / 1000 if marks["sent"] else None
    answered = marks["answered"] / 1000 if marks["answered"] else None
    return {
        "recovery": recovery.seconds,
        "pause": recovery.outage_s,
        "same_pc": recovery.same_pc and not recovery.new_sessions,
        "error": None
        if recovery.same_pc and not recovery.new_sessions
        else f"{rig_error}; console: {recovery.console}",
        "stall_to_patch": sent - paused_at if sent else None,
        "patch_to_answer": answered - sent if sent and answered else None,
        "answer_to_frame": resumed_at - answered if answered else None,
    }


def median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known) * 1000:5.0f}" if known else "    \N{EN DASH}"


def write_chart(results: dict[str, list[dict]]) -> Path:
    """Each run's recovery per scenario as docs/bench/ice-restart.png."""
    return charts.recovery_times(
        {name: [r["recovery"] for r in results[name]] for name in results},
        1.0,
        "Recovery from a network change: new path usable to first new frame in Chromium\n"
        "(daemon in a network namespace, 640x360@30; each run a dot, the median a bar)",
        charts.chart_path("ice-restart"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", choices=list(scenarios.SCENARIOS), action="append")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench.ice_restart needs root (network namespaces): skipped")
        return
    names = args.scenario or list(scenarios.SCENARIOS)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm_up_webrtc(browser)
        results = {
            name: [run_once(name, browser, Path(tmp) / f"{n}-{i}") for i in range(args.runs)]
            for n, name in enumerate(names)
        }
        browser.close()
    print(f"Recovery after a network change, {args.runs} runs each, 640x360@30 (ms; medians unless marked):")
    print(
        f"  {'scenario':34} {'recovery':>8} {'max':>5} {'pause':>6} {'stall→PATCH':>11} {'PATCH→200':>9} "
        f"{'200→frame':>9}  same pc"
    )
    for name, runs in results.items():
        recovery = [r["recovery"] for r in runs]
        print(
            f"  {name:34} {median(recovery):>8} {max(recovery) * 1000:5.0f} {median([r['pause'] for r in runs]):>6} "
            f"{median([r['stall_to_patch'] for r in runs]):>11} {median([r['patch_to_answer'] for r in runs]):>9} "
            f"{median([r['answer_to_frame'] for r in runs]):>9}  {sum(r['same_pc'] for r in runs)}/{len(runs)}"
        )
    for name, runs in results.items():
        for run in runs:
            if not run["same_pc"]:
                print(f"  {name}: fell back to a fresh session ({run['error']})")
    print("  recovery: new path usable -> first new frame presented; pause: what the viewer saw")
    print("  (the link-down pause includes its 3 s outage; there frames return on the old path, restart or not)")
    write_chart(results)


if __name__ == "__main__":
    main()
