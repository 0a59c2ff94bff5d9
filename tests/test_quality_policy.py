"""The per-viewer quality policy (edge/webrtc/quality.py) on a fake clock, fed by a simulated link.

:class:`SimulatedViewer` stands in for the browser at the end of a link of a given
capacity: every 0.2 s (Chromium's report interval once it is under way) it reports
the loss of what was offered beyond the capacity, the round trip (grown by a full
queue), and a REMB that behaves as libwebrtc's estimator does (measured, see the
module doc of quality.py): it starts at what arrives, climbs by 8 % a second, stays
under 1.5 times what arrives, and falls to 0.85 times the capacity when more is sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from edge.webrtc import quality
from edge.webrtc.quality import NO_LOW_STREAM, QualityMode, QualityPolicy, need_bps, quality_mode
from hw.camera import CameraSettings

MAIN = CameraSettings(width=1280, height=720, framerate=30, bitrate=2_000_000)
LOW = CameraSettings(width=640, height=360, framerate=30, bitrate=450_000)
WEAK = 700_000
STRONG = 5_000_000
STEP_S = 0.02
REPORT_S = 0.2
BASE_RTT_S = 0.12  # 60 ms each way


@dataclass(frozen=True, slots=True)
class Report:  # edge.webrtc.link_feedback.ReceiverReport
    at: float
    loss_fraction: float
    jitter_s: float
    rtt_s: float | None


@dataclass
class Feedback:  # edge.webrtc.link_feedback.LinkFeedback, as far as the policy reads it
    reports: int = 0
    last_report: Report | None = None
    rtt_s: float | None = None
    remb_bps: int | None = None
    remb_at: float | None = None
    history: list[Report] = field(default_factory=list)

    def loss_since(self, since: float) -> float | None:
        losses = [r.loss_fraction for r in self.history if r.at > since]  # each covers as many packets here
        return sum(losses) / len(losses) if losses else None

    def report(self, report: Report) -> None:
        self.history.append(report)
        self.last_report = report
        self.reports += 1


@dataclass
class Link:  # FastRtpSender, as far as the policy uses it
    rtx: bool = True
    send_rate_bps: float = 0.0
    feedback: Feedback = field(default_factory=Feedback)
    padding: list[tuple[float, int]] = field(default_factory=list)  # (when, bytes)
    now: float = 0.0

    @property
    def pads(self) -> bool:
        return self.rtx

    def send_padding(self, nbytes: int) -> int:
        if not self.rtx:
            return 0
        self.padding.append((self.now, nbytes))
        return nbytes


class SimulatedViewer:
    def __init__(
        self,
        capacity: Callable[[float], float],
        mode: QualityMode = QualityMode.AUTO,
        low: CameraSettings | None = LOW,
        remb: bool = True,
        reports: bool = True,
        rtx: bool = True,
    ) -> None:
        self.capacity = capacity
        self.policy = QualityPolicy(MAIN, low, mode, 0.0)
        self.link = Link(rtx=rtx)
        self.now = 0.0
        self._remb = remb
        self._reports = reports
        self._next_report = REPORT_S
        self._padded_before = 0
        self._wake_at: float | None = None
        self.switches: list[tuple[float, str, str]] = []  # (when, stream, reason)
        self.probes: list[tuple[float, str]] = []  # (when it ended, the reason it left)
        self.offered: list[tuple[float, float]] = []  # (when, bits/s) sent into the link, per report interval
        self.keyframes: list[tuple[float, str]] = []  # (when, stream) of the policy's keyframe requests

    def media_bps(self) -> float:
        return need_bps(self.policy.settings())

    def run(self, until: float) -> SimulatedViewer:
        while self.now < until - 1e-9:
            self.now = round(self.now + STEP_S, 6)
            self.link.now = self.now
            self.link.send_rate_bps = self.policy.settings().bitrate
            if self.now >= self._next_report - 1e-9:
                self._next_report += REPORT_S
                self._report()
                self._tick()
            elif self.policy.pads(self.now) or (self._wake_at is not None and self.now >= self._wake_at - 1e-9):
                self._tick()  # while padding: after each picture sent (here, every step)
        return self

    def _tick(self) -> None:
        stream, probing = self.policy.stream, self.policy.probing
        self.policy.tick(self.link, self.now)
        if self.policy.stream != stream:
            self.switches.append((self.now, self.policy.stream, self.policy.reason))
        if probing and not self.policy.probing:
            self.probes.append((self.now, self.policy.reason))
        if self.policy.take_keyframe_request():
            self.keyframes.append((self.now, self.policy.stream))
        wake = self.policy.wake_in(self.now)
        self._wake_at = None if wake is None else self.now + wake

    def _report(self) -> None:
        padded = sum(n for _, n in self.link.padding)
        offered = self.media_bps() + (padded - self._padded_before) * 8 * quality.OVERHEAD / REPORT_S
        self._padded_before = padded
        self.offered.append((self.now, offered))
        capacity = self.capacity(self.now)
        full = offered > capacity
        feedback = self.link.feedback
        if self._reports:
            rtt = BASE_RTT_S + (0.1 if full else 0.0)
            feedback.report(Report(self.now, max(0.0, 1 - capacity / offered), 0.005, rtt))
            feedback.rtt_s = rtt if feedback.rtt_s is None else feedback.rtt_s + (rtt - feedback.rtt_s) / 8
        if self._remb and self.now >= 1.0:
            arriving = min(offered, capacity)
            if feedback.remb_bps is None:
                remb = arriving
            elif full:
                remb = 0.85 * capacity
            else:
                remb = min(feedback.remb_bps * 1.08**REPORT_S, max(feedback.remb_bps, 1.5 * arriving))
            feedback.remb_bps, feedback.remb_at = int(remb), self.now


def alternating(period_s: float) -> Callable[[float], float]:
    return lambda t: WEAK if int(t // period_s) % 2 == 0 else STRONG


# --- down ---------------------------------------------------------------------------------------


def test_a_link_that_cannot_carry_main_goes_to_low_within_5_s_by_its_loss():
    viewer = SimulatedViewer(lambda t: WEAK, remb=False).run(5.0)
    (when, stream, reason), *later = viewer.switches
    assert stream == "low" and when < 5.0 and later == [], viewer.switches
    assert reason == "auto: loss 70 % on main"  # 700 kbit/s of main's 2.4 Mbit/s arrive


def test_low_gets_one_more_keyframe_once_mains_backlog_has_drained():
    """Low's first keyframe went into a full queue: the viewer may never have had it."""
    viewer = SimulatedViewer(lambda t: WEAK if t < 30 else STRONG).run(60.0)
    down, _up = viewer.switches
    ((when, stream),) = viewer.keyframes  # none after the switch up: main's encoder serves every viewer
    assert stream == "low" and when == pytest.approx(down[0] + quality.REFRESH_AFTER_S, abs=STEP_S)
    assert SimulatedViewer(lambda t: WEAK, mode=QualityMode.LOW).run(10).keyframes == []


def test_25_percent_loss_is_enough():
    viewer = SimulatedViewer(lambda t: need_bps(MAIN) * 0.75, remb=False).run(5.0)
    assert [(s, r) for _, s, r in viewer.switches] == [("low", "auto: loss 25 % on main")]
    assert viewer.switches[0][0] <= 1.0


def test_a_falling_remb_alone_brings_it_down():
    """A link with a deep queue: no loss, but the browser's estimate drops (a viewer whose reports say nothing)."""
    viewer = SimulatedViewer(lambda t: STRONG if t < 6 else WEAK, reports=False).run(6.0)
    assert viewer.switches == [] and viewer.policy.reason == "auto: starting on main"
    viewer.run(10.0)
    ((when, stream, reason),) = viewer.switches
    assert stream == "low" and 6.0 < when <= 6.0 + quality.REMB_LOW_S + 2 * REPORT_S, viewer.switches
    assert reason == "auto: REMB 595 kbit/s < main needs 2.3 Mbit/s"


def test_a_climbing_remb_below_mains_need_is_no_reason_to_go_down():
    """Chromium's first REMB is what arrives, a little under what is sent: it climbs from there."""
    viewer = SimulatedViewer(lambda t: STRONG).run(30.0)
    assert viewer.switches == [] and viewer.policy.stream == "main"
    assert viewer.policy.reason == "auto: link carries main"


def test_without_any_feedback_it_stays_on_main():
    viewer = SimulatedViewer(lambda t: WEAK, remb=False, reports=False).run(60.0)
    assert viewer.switches == [] and viewer.policy.reason == "auto: starting on main"


def test_a_single_lossy_report_is_no_reason():
    viewer = SimulatedViewer(lambda t: STRONG, remb=False)
    viewer.run(3.0)
    viewer.link.feedback.report(Report(3.01, 0.5, 0.0, BASE_RTT_S))
    viewer.policy.tick(viewer.link, 3.01)
    assert viewer.policy.stream == "main"


# --- up ------------------------------------------------------------------------------------------


def test_back_to_main_after_a_passed_probe_within_20_s_of_the_limit_going():
    lifted = 30.0
    viewer = SimulatedViewer(lambda t: WEAK if t < lifted else STRONG).run(60.0)
    streams = [(s, r) for _, s, r in viewer.switches]
    assert streams == [("low", "auto: loss 70 % on main"), ("main", "auto: probe at 2.3 Mbit/s passed")]
    up = viewer.switches[1][0]
    assert lifted < up <= lifted + 20, viewer.switches
    # The probes before the limit went failed, each soon after it started; the one after passed.
    failed = [(t, r) for t, r in viewer.probes if "failed" in r]
    assert failed and all(r.startswith("auto: probe at 2.3 Mbit/s failed (loss") for _, r in failed), viewer.probes
    starts = sorted({round(t - t % 10, 0) for t, _ in viewer.probes})
    assert len(starts) == len(viewer.probes), f"at most one probe in 10 s: {viewer.probes}"
    # On main it stays: the REMB, climbing from low's rate, is no reason to go down again.
    assert viewer.policy.stream == "main"


def test_a_probe_pads_up_to_mains_need_in_small_chunks():
    viewer = SimulatedViewer(lambda t: WEAK if t < 5 else STRONG).run(30.0)
    probe = [(t, n) for t, n in viewer.link.padding]
    assert probe, "no padding was sent"
    first = probe[0][0]
    chunks = [(t, n) for t, n in probe if t < first + quality.PROBE_RAMP_S + quality.PROBE_HOLD_S + 0.01]
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(chunks)]
    assert max(gaps) <= STEP_S + 1e-6
    span = chunks[-1][0] - first
    assert quality.PROBE_RAMP_S <= span + STEP_S <= quality.PROBE_RAMP_S + quality.PROBE_HOLD_S + 0.05
    # At full rate, media and padding come to main's need.
    full = [n for t, n in chunks if t >= first + quality.PROBE_RAMP_S]
    padding_bps = sum(full) * 8 / (len(full) * STEP_S)
    on_the_wire = padding_bps + (LOW.bitrate + quality.AUDIO_BPS) * quality.OVERHEAD
    assert on_the_wire == pytest.approx(quality.need_bps(MAIN), rel=0.05)


def test_a_failed_probe_costs_the_weak_viewer_little_and_comes_again_in_10_s():
    viewer = SimulatedViewer(lambda t: WEAK).run(65.0)
    assert [s for _, s, _ in viewer.switches] == ["low"], viewer.switches
    ends = [t for t, _ in viewer.probes]
    assert len(ends) >= 4 and all(b - a >= quality.PROBE_RETRY_S for a, b in itertools.pairwise(ends))
    # Each probe ends at the first report that shows its loss: a few kilobytes more than low's own
    # media reach the link, for about one report interval.
    per_probe = {}
    for t, n in viewer.link.padding:
        key = next(end for end in ends if end >= t)
        per_probe[key] = per_probe.get(key, 0) + n
    assert max(per_probe.values()) < 16_000, per_probe
    on_low = viewer.switches[0][0]
    over = [t for t, bps in viewer.offered if bps > WEAK and t > on_low]
    assert len(over) <= len(ends), f"more than one report interval over the link's rate per probe: {over}"


def test_without_rtx_main_is_tried_after_30_s_and_left_again_on_loss():
    viewer = SimulatedViewer(lambda t: WEAK, remb=False, rtx=False).run(70.0)
    assert viewer.link.padding == []
    down, up, down_again, *_ = viewer.switches
    assert up[1:] == ("main", "auto: trying main (cannot probe without RTX)")
    assert up[0] - down[0] == pytest.approx(quality.BLIND_UP_AFTER_S, abs=quality.PROBE_RETRY_S)
    assert down_again[1] == "low" and down_again[0] - up[0] == pytest.approx(quality.MIN_DWELL_S, abs=0.5)


# --- hysteresis --------------------------------------------------------------------------------


def test_a_link_alternating_every_10_s_switches_at_most_once_per_10_s():
    viewer = SimulatedViewer(alternating(10.0)).run(120.0)
    times = [t for t, _, _ in viewer.switches]
    assert len(times) >= 4, f"it should still follow the link: {viewer.switches}"
    for a, b in itertools.pairwise(times):
        assert b - a >= quality.MIN_DWELL_S, viewer.switches
    for start in range(120):
        assert sum(start <= t < start + 10 for t in times) <= 1, viewer.switches


# --- the viewer's choice --------------------------------------------------------------------------


def test_hd_stays_on_main_even_on_a_weak_link():
    viewer = SimulatedViewer(lambda t: WEAK, mode=QualityMode.HIGH).run(60.0)
    assert viewer.switches == [] and viewer.link.padding == []
    assert viewer.policy.status() == {"mode": "high", "stream": "main", "reason": "chosen: HD", "switches": 0}


def test_sd_stays_on_low_even_on_a_strong_link_and_never_probes():
    viewer = SimulatedViewer(lambda t: STRONG, mode=QualityMode.LOW).run(60.0)
    assert viewer.switches == [] and viewer.link.padding == []
    assert viewer.policy.status() == {"mode": "low", "stream": "low", "reason": "chosen: SD", "switches": 0}


def test_choosing_switches_at_once_and_auto_takes_over_from_there():
    viewer = SimulatedViewer(lambda t: STRONG).run(2.0)
    viewer.policy.choose(QualityMode.LOW, 2.0)
    assert (viewer.policy.stream, viewer.policy.reason, viewer.policy.switches) == ("low", "chosen: SD", 1)
    viewer.policy.choose(QualityMode.HIGH, 2.5)  # at once: no dwell for a person's choice
    assert (viewer.policy.stream, viewer.policy.reason, viewer.policy.switches) == ("main", "chosen: HD", 2)
    viewer.policy.choose(QualityMode.LOW, 3.0)
    viewer.policy.choose(QualityMode.AUTO, 3.0)
    assert (viewer.policy.stream, viewer.policy.reason) == ("low", "auto: on low until main fits")
    viewer.run(3.0 + quality.PROBE_AFTER_S + quality.PROBE_RAMP_S + quality.PROBE_HOLD_S + 1.5)
    assert viewer.policy.stream == "main" and viewer.policy.reason == "auto: probe at 2.3 Mbit/s passed"


def test_a_choice_calls_off_a_probe():
    viewer = SimulatedViewer(lambda t: WEAK if t < 5 else STRONG).run(1.0)
    assert viewer.policy.stream == "low"
    while not viewer.policy.probing:
        viewer.run(viewer.now + STEP_S)
    viewer.policy.choose(QualityMode.LOW, viewer.now)
    padded = len(viewer.link.padding)
    viewer.run(viewer.now + 20)
    assert not viewer.policy.probing and len(viewer.link.padding) == padded and viewer.policy.stream == "low"


def test_without_a_low_stream_everyone_is_on_main_and_told_why():
    viewer = SimulatedViewer(lambda t: WEAK, low=None).run(30.0)
    assert viewer.switches == [] and viewer.link.padding == []
    assert viewer.policy.status() == {"mode": "auto", "stream": "main", "reason": NO_LOW_STREAM, "switches": 0}
    viewer.policy.choose(QualityMode.LOW, 30.0)
    assert viewer.policy.stream == "main" and viewer.policy.reason == NO_LOW_STREAM


@pytest.mark.parametrize("value", ["auto", "high", "low"])
def test_modes_are_read_from_their_names(value):
    assert quality_mode(value) == QualityMode(value)


@pytest.mark.parametrize("value", ["", "AUTO", "hd", None, 1, ["low"], {"mode": "low"}])
def test_anything_else_is_no_mode(value):
    assert quality_mode(value) is None
