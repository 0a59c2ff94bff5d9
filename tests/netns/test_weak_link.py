"""A viewer on a weak link still watches, and costs the others nothing (issue 28, "How to prove it").

The rig (``testbed/netns/weak_link.py``): the daemon on the host (simulated camera 1280x720@30, 2 Mbit/s,
a keyframe every 10 s so that extra ones stand out; the low stream at its defaults, 640x360 450 kbit/s),
a "strong" Chromium on the host (loopback) and a "weak" one in a network namespace whose only way out is
a link held to 700 kbit/s with 60 ms each way and a 250 ms queue (``testbed/netns/impair.py``). Both pages
record their video statistics every 100 ms and every presented frame's frame code
(``testbed/page_trace.py``); the rig reads the daemon's ``/api/status`` and ``/metrics`` and the link's
counts every second.

On main before per-viewer switching (2026-12-07) the weak viewer stayed on main: 0.2-0.3 frames a second,
1-5 s late, its page starting a new WHEP session every 10-15 s, the strong viewer decoding 15-21 keyframes
in 30 s where 3-4 are periodic, and the daemon answering the weak viewer's NACKs with about 40 Mbit/s of
retransmissions (80-90 at peak) into the 700 kbit/s link, which dropped 98 % of what it was sent. These
tests pass once the sender bounds its retransmissions and the policy switches the viewer (issue 28).
"""

from __future__ import annotations

import math
import time
from itertools import pairwise

import pytest

from testbed.netns.weak_link import (
    KEYFRAME_INTERVAL_S,
    WATCH_INTERVAL_S,
    WEAK_RATE_BPS,
    WeakLinkRig,
    launch_host_chromium,
    link_figures,
    main_keyframes_forced,
    viewer_figures,
)

LOW_WIDTH, MAIN_WIDTH = 640, 1280
ON_LOW_JS = f"t.samples.some((s) => s[2] === {LOW_WIDTH})"
WAIT_FOR_LOW_S = 25  # from opening the weak page: its load through the link, its first frame, the switch
SWITCH_WITHIN_S = 5  # from the weak page's first frame to its first 640-wide frame (the 5 s)
SETTLE_S = 2  # after the switch, before measuring: what main left in the link's queue drains
WINDOW_S = 30  # the "30-60 s" of watching on low
FREEZE_S_PER_MINUTE = 1.0
# The median, not a higher percentile: latency on a 700 kbit/s link is what the queue holds, and each periodic
# keyframe (and a lost packet's retransmission, one round trip of 120 ms later) makes a few frames late in a
# burst. The median is the picture a person watches; p95 and the worst are printed.
LATENCY_P50_MS = 400
# Of 30: the weak viewer watches a moving picture. Chromium counts no freezes when nearly every frame is late
# (it judges against the frame rate it sees): this catches a picture that hardly moves.
LOW_MIN_FPS = 20
STRONG_MIN_FPS = 27  # of 30: full frame rate, less 10 % for a busy machine
BACK_WITHIN_S = 20
SWITCH_GAP_S = 0.5  # the longest pause between presented frames around the return to main
FLAP_PERIOD_S = 10
FLAP_RATES_BPS = (WEAK_RATE_BPS, 5_000_000)
FLAPS = 6  # 60 s
# Switches seen by the page (its frameWidth) lag the daemon's by the new stream's first keyframe's trip:
# 10 s apart at the daemon may look 9 s apart at the page.
MIN_SWITCH_INTERVAL_S = FLAP_PERIOD_S - 1
HIGH_WATCH_S = 20


@pytest.fixture(scope="module")
def host_chromium(playwright):
    browser = launch_host_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def rig_factory(playwright, host_chromium, tmp_path):
    rigs: list[WeakLinkRig] = []

    def make(**kwargs) -> WeakLinkRig:
        rigs.append(WeakLinkRig(playwright, host_chromium, tmp_path / f"rig{len(rigs)}", **kwargs))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def wait_until(when: float) -> None:
    """Until the wall clock reaches ``when`` and the rig's watch has read the daemon after it."""
    time.sleep(max(0.0, when - time.time()) + WATCH_INTERVAL_S + 0.5)


def report(rig: WeakLinkRig, start: float, end: float) -> str:
    """Both viewers' figures, the link's and the daemon's, from ``start`` to ``end``, in lines for a failure."""
    weak = viewer_figures(rig, rig.weak, rig.weak.trace(), start, end)
    strong = viewer_figures(rig, rig.strong, rig.strong.trace(), start, end)
    session = rig.weak_session(end) or {}
    return "\n".join(
        (
            f"over {end - start:.0f} s from {start - rig.weak.opened_at:.1f} s after the weak page was opened:",
            f"  weak viewer: {weak.line()}",
            f"  strong viewer: {strong.line()}",
            f"  {link_figures(rig, start, end).line()}",
            f"  the main encoder was asked for {main_keyframes_forced(rig, start, end)} keyframes;"
            f" the weak session's quality: {session.get('quality', 'not reported')}",
        )
    )


def test_the_weak_viewer_goes_to_low_and_the_strong_one_is_not_disturbed(rig_factory):
    rig = rig_factory()
    rig.weak.wait_until(ON_LOW_JS, WAIT_FOR_LOW_S)
    first_frame = rig.weak.first_frame_at()
    switched = rig.weak.trace().first_sample(LOW_WIDTH)
    start = (switched.at if switched else rig.weak.opened_at + WAIT_FOR_LOW_S) + SETTLE_S
    end = start + WINDOW_S
    wait_until(end)
    weak = viewer_figures(rig, rig.weak, rig.weak.trace(), start, end)
    strong = viewer_figures(rig, rig.strong, rig.strong.trace(), start, end)
    periodic = math.floor(WINDOW_S / KEYFRAME_INTERVAL_S) + 1  # a window's ends may both fall just by one
    after_first = None if switched is None or first_frame is None else round(switched.at - first_frame, 2)
    after_open = None if first_frame is None else round(first_frame - rig.weak.opened_at, 2)
    figures = (
        f"first frame {after_open} s after opening the weak page, on low {after_first} s after it\n"
        f"{report(rig, start, end)}"
    )
    print(figures)

    assert after_first is not None and after_first <= SWITCH_WITHIN_S, f"not on low within 5 s: {figures}"
    assert weak.freeze_s_per_minute < FREEZE_S_PER_MINUTE, f"the weak viewer froze: {figures}"
    assert weak.latency_p50_ms is not None and weak.latency_p50_ms < LATENCY_P50_MS, f"latency: {figures}"
    assert weak.frame_rate >= LOW_MIN_FPS, f"the weak viewer's frame rate: {figures}"
    assert strong.widths == {MAIN_WIDTH} and strong.frame_rate >= STRONG_MIN_FPS, f"the strong viewer: {figures}"
    assert strong.keyframes <= periodic + 1, f"extra keyframes for the strong viewer (periodic {periodic}): {figures}"


def test_when_the_limit_is_lifted_the_weak_viewer_returns_to_main_without_a_freeze(rig_factory):
    rig = rig_factory()
    if not rig.weak.wait_until(ON_LOW_JS, WAIT_FOR_LOW_S):
        pytest.fail(f"never on low\n{report(rig, rig.weak.opened_at, time.time())}")
    time.sleep(SETTLE_S)  # watching on low a moment: the policy may want some time there before it tries main
    lifted_at = time.time()
    rig.set_rate(None)
    rig.weak.wait_until(f"t.samples.some((s) => s[0] >= {lifted_at * 1000} && s[2] === {MAIN_WIDTH})", 25)
    returned = rig.weak.trace().first_sample(MAIN_WIDTH, after=lifted_at)
    around = (returned.at - 2, returned.at + 2) if returned else (lifted_at, time.time())
    wait_until(around[1])
    trace = rig.weak.trace()
    gap = trace.longest_gap_s(*around)
    back_s = None if returned is None else round(returned.at - lifted_at, 2)
    figures = (
        f"back on main {back_s} s after the limit was lifted; longest pause between frames {gap:.2f} s"
        f" from 2 s before to 2 s after; Chromium's freezes then {trace.increase('freeze_s', *around):.2f} s\n"
        f"{report(rig, lifted_at, around[1])}"
    )
    print(figures)

    assert back_s is not None and back_s <= BACK_WITHIN_S, f"not back on main within 20 s: {figures}"
    assert gap <= SWITCH_GAP_S, f"a freeze at the switch: {figures}"


def test_a_flapping_link_does_not_make_the_viewer_switch_more_than_once_per_10_s(rig_factory):
    rig = rig_factory()
    start = rig.weak.opened_at
    for n in range(FLAPS):  # 700 kbit/s (as the rig starts), 5 Mbit/s, 700 kbit/s, ...
        rig.set_rate(FLAP_RATES_BPS[n % 2])
        time.sleep(max(0.0, start + (n + 1) * FLAP_PERIOD_S - time.time()))  # the link's schedule
    end = time.time()
    wait_until(end)
    changes = rig.weak.trace().width_changes(start, end)
    intervals = [b[0] - a[0] for a, b in pairwise(changes)]
    quality = (rig.weak_session(end) or {}).get("quality")
    figures = (
        f"the page's frame width changed {[(round(at - start, 1), width) for at, width in changes]} (s after"
        f" opening), {[round(s, 1) for s in intervals]} s apart; the daemon says {quality}\n{report(rig, start, end)}"
    )
    print(figures)

    assert all(interval >= MIN_SWITCH_INTERVAL_S for interval in intervals), f"switched too often: {figures}"
    if quality is not None:
        assert quality["switches"] <= FLAPS + 1, f"switched too often: {figures}"


def test_hd_stays_on_main_even_on_the_weak_link(rig_factory):
    """The page's HD (its WHEP POSTs ask ``?quality=high``): main, whatever the link; freezes are the viewer's
    choice then, and only printed."""
    rig = rig_factory(weak_quality="high")
    time.sleep(HIGH_WATCH_S)  # watching: nothing to wait for but time
    end = time.time()
    wait_until(end)
    widths = rig.weak.trace().widths(rig.weak.opened_at, end)
    # Each second's weak session (frozen on main, the page may open new ones: each must be on HD).
    seen = [rig.weak_session(s.at) for s in rig.watch.snapshots if rig.weak.opened_at <= s.at <= end]
    qualities = [session.get("quality") for session in seen if session is not None]
    figures = f"widths decoded {sorted(widths)}; the weak sessions' quality {qualities}\n"
    figures += report(rig, rig.weak.opened_at, end)
    print(figures)

    assert LOW_WIDTH not in widths, f"HD went to low: {figures}"
    assert qualities, f"no weak session seen: {figures}"
    assert all(q is not None and (q["mode"], q["stream"]) == ("high", "main") for q in qualities), figures
