"""Which of the camera's streams one viewer gets: ``main``, or ``low`` when its link cannot carry main.

A viewer chooses (``high``: always main, ``low``: always low) or leaves it to this
policy (``auto``), which reads what the browser says about its link (receiver
reports: loss and round-trip time; REMB: its estimate of what it can take) and
the clock. It is plain logic: the session calls :meth:`QualityPolicy.tick` after
each report or REMB and when :meth:`QualityPolicy.wake_in` says (while a probe
pads, right after each picture sent), then switches its track to
:attr:`QualityPolicy.stream`.

Down to low when the link cannot carry main: the receiver reports of the last
``LOSS_WINDOW_S`` lose more than ``LOSS_DOWN`` of the packets, or the REMB fell
below what main needs and stays there ``REMB_LOW_S``. *Fell*, because Chromium's
REMB (libwebrtc's receive-side estimator) rises by at most ~8 % a second and stays
under 1.5 times what it receives (measured here: 0.54 -> 0.85 Mbit/s in 10 s after a
700 kbit/s limit was lifted, while 2 Mbit/s came through), so a REMB below main's
need is no sign of trouble while it climbs, as after a switch up; what shows a
full queue is the estimate dropping (to 0.85 times what arrives): 3.07 -> 0.47
Mbit/s within 1.2 s of the limit, measured.

Back up to main only after the link has shown headroom. For the same reason the
REMB cannot show it while the viewer is on low (it stays under 1.5 times low's
rate), so after ``PROBE_AFTER_S`` on low the policy probes: the sender adds
padding (RTX copies, which the browser counts and discards) until media and
padding come to main's need, ramped up over ``PROBE_RAMP_S`` and held for
``PROBE_HOLD_S``, a chunk right after each picture: a full tail-drop queue loses
what comes last, the padding rather than the picture. The probe fails as soon as
the reports since it began lose more than ``PROBE_MAX_LOSS``, their round trip
grew by more than ``PROBE_MAX_RTT_RISE_S``, or the REMB fell: it cannot be asked
to reach the probe's rate (it climbs by 8 % a second at most), but libwebrtc
lowers it only when its queue grows (measured on a 700 kbit/s link: each probe
lowered it by 3-22 %; after the limit was lifted, a probe raised it by 5 %). It
passes when a report after the padding shows none of that. A failed probe is
tried again ``PROBE_RETRY_S`` later. Without RTX there is nothing to probe with:
on low, main is tried after ``BLIND_UP_AFTER_S``, and loss brings the viewer back
down.

At most one automatic switch per ``MIN_DWELL_S``, up or down, so that a link
whose rate swings does not make the picture change size all the time.

A switch down happens when the link's queue is full, and low's first keyframe
may be lost in it; the browser then waits for it (retransmissions, which compete
with those of main's lost packets, or a keyframe request after about 3 s of
retries, measured). So ``REFRESH_AFTER_S`` later, when main's backlog has left
the queue, the policy asks for one more keyframe of low
(:meth:`QualityPolicy.take_keyframe_request`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypedDict

from hw.camera import CameraSettings, StreamName

AUDIO_BPS = 40_000  # the sound's share of the link (Opus at 32 kbit/s, with its packets' headers)
OVERHEAD = 1.15  # RTP, UDP, IP and SRTP headers and RTCP, on top of the encoders' bitrates
LOSS_DOWN = 0.10  # the mean loss of the recent reports above which main does not fit
LOSS_WINDOW_S = 1.5  # recent: reports that arrived this long ago at most...
LOSS_REPORTS = 2  # ...and at least this many of them (one report may be a fluke)
REMB_LOW_S = 1.0  # a REMB that fell below main's need and stays there this long: down
REMB_FALL = 0.95  # a REMB below this fraction of the one before it fell (the browser's queue grew)
MIN_DWELL_S = 10.0  # at most one automatic switch in this time
PROBE_AFTER_S = 10.0  # on low this long before the first probe
PROBE_RETRY_S = 10.0  # after a first failed probe...
# ...and after the next ones: each failed probe costs the viewer a few lost packets (a short freeze), so a link that
# keeps failing is probed less often, yet soon enough to be back on main within 20 s of its limit going.
PROBE_BACKOFF_S = 17.0
# The padding grows to its full rate over this: slowly enough that the browser's REMB (every ~0.2 s) falls before
# a 250-ms queue overflows (0.7 s overflowed it: a lost packet, ~0.45 s of freeze a probe)...
PROBE_RAMP_S = 2.0
PROBE_HOLD_S = 0.2  # ...and stays there this long
PROBE_MAX_CHUNK_S = 0.1  # padding for this long at most in one chunk (a tick after each picture sent: ~33 ms)
PROBE_VERDICT_S = 1.0  # after the padding, how long a receiver report may take to come
PROBE_POLL_S = 0.1  # ticks while waiting for it
PROBE_MAX_LOSS = 0.02
PROBE_MAX_RTT_RISE_S = 0.050
PROBE_REMB_KEEP = 0.98  # the REMB may not fall (libwebrtc lowers its estimate only when its queue grows)
BLIND_UP_AFTER_S = 30.0  # on low this long without being able to probe (no RTX): try main anyway
REFRESH_AFTER_S = 0.5  # after a switch down: one more keyframe of low, once main's backlog has drained

NO_LOW_STREAM = "no low stream: main for everyone"


class QualityMode(StrEnum):
    """What the viewer asked for: ``auto`` (this policy), ``high`` (main: HD), ``low`` (low: SD)."""

    AUTO = "auto"
    HIGH = "high"
    LOW = "low"


def quality_mode(value: object) -> QualityMode | None:
    """``value`` as a mode if it names one (a query parameter, a page's message), else None."""
    return QualityMode(value) if isinstance(value, str) and value in QualityMode.__members__.values() else None


class QualityStatus(TypedDict):
    mode: QualityMode
    stream: StreamName
    reason: str
    switches: int


class Report(Protocol):
    """One receiver report about the viewer's stream (``edge.webrtc.link_feedback.ReceiverReport``)."""

    @property
    def at(self) -> float: ...
    @property
    def rtt_s(self) -> float | None: ...


class Feedback(Protocol):
    """What the viewer said about its link (``edge.webrtc.link_feedback.LinkFeedback``)."""

    @property
    def last_report(self) -> Report | None: ...
    @property
    def rtt_s(self) -> float | None: ...
    @property
    def remb_bps(self) -> int | None: ...
    @property
    def remb_at(self) -> float | None: ...
    def loss_since(self, since: float) -> float | None: ...


class Link(Protocol):
    """The viewer's video sender, as far as the policy uses it (``FastRtpSender``)."""

    @property
    def feedback(self) -> Feedback: ...
    @property
    def send_rate_bps(self) -> float: ...
    def send_padding(self, nbytes: int) -> int: ...
    @property
    def pads(self) -> bool: ...


def need_bps(settings: CameraSettings) -> float:
    """What a link must carry for a stream of ``settings`` and the sound."""
    return (settings.bitrate + AUDIO_BPS) * OVERHEAD


def rate_text(bps: float) -> str:
    return f"{bps / 1e6:.1f} Mbit/s" if bps >= 1e6 else f"{bps / 1e3:.0f} kbit/s"


@dataclass
class _Probe:
    started: float
    padding_bps: float  # the padding's full rate
    rate_bps: float  # media and padding together: main's need
    rtt_before: float | None
    remb_before: int | None
    padded_until: float
    sent: int = 0  # padding bytes the sender sent
    max_rtt: float | None = None
    min_remb: int | None = None
    reports_after_padding: int = 0

    @property
    def padding_ends(self) -> float:
        return self.started + PROBE_RAMP_S + PROBE_HOLD_S

    def padding_now(self, now: float) -> int:
        """The bytes of padding due since the last chunk (the rate ramps up, then holds)."""
        rate = self.padding_bps * min(1.0, (now - self.started) / PROBE_RAMP_S)
        nbytes = int(rate * min(now - self.padded_until, PROBE_MAX_CHUNK_S) / 8)
        self.padded_until = now
        return nbytes

    def report(self, report: Report) -> None:
        if report.rtt_s is not None:
            self.max_rtt = report.rtt_s if self.max_rtt is None else max(self.max_rtt, report.rtt_s)
        if report.at >= self.padding_ends:
            self.reports_after_padding += 1

    def remb(self, bps: int) -> None:
        self.min_remb = bps if self.min_remb is None else min(self.min_remb, bps)

    def failure(self, loss: float | None) -> str | None:
        """Why the link does not carry the probe, from what was reported since it started (``loss``: of the
        reports since then); None: nothing yet."""
        if loss is not None and loss > PROBE_MAX_LOSS:
            return f"loss {loss * 100:.0f} %"
        if self.rtt_before is not None and self.max_rtt is not None:
            rise = self.max_rtt - self.rtt_before
            if rise > PROBE_MAX_RTT_RISE_S:
                return f"round trip +{rise * 1000:.0f} ms"
        remb, before = self.min_remb, self.remb_before
        if remb is not None and before is not None and remb < PROBE_REMB_KEEP * before:
            return f"REMB fell to {rate_text(remb)}"
        return None


class QualityPolicy:
    """One viewer's choice between main and low (see the module doc). Times are ``time.monotonic()`` seconds."""

    def __init__(self, main: CameraSettings, low: CameraSettings | None, mode: QualityMode, now: float) -> None:
        self.main = main
        self.low = low
        self.need_bps = need_bps(main)
        self.mode = mode
        self.stream: StreamName = "low" if mode is QualityMode.LOW and low is not None else "main"
        self.reason = ""
        self.switches = 0
        self._since = now  # when the current stream was chosen
        self._auto_switched_at: float | None = None
        self._next_probe_at = 0.0
        self._failed_probes = 0  # since the stream was chosen
        self._probe: _Probe | None = None
        self._reports: deque[float] = deque()  # when the recent receiver reports arrived
        self._last_report: Report | None = None
        self._remb: int | None = None
        self._remb_at: float | None = None
        self._remb_low_since: float | None = None  # since when the REMB has been below main's need, having fallen
        self._refresh_at: float | None = None  # when to ask for one more keyframe of the stream switched to
        self._keyframe_wanted = False
        self.choose(mode, now)

    @property
    def probing(self) -> bool:
        return self._probe is not None

    def pads(self, now: float) -> bool:
        """Whether a probe sends padding now: tick the policy right after each picture sent (see the module doc)."""
        return self._probe is not None and now < self._probe.padding_ends

    def settings(self) -> CameraSettings:
        """The chosen stream's settings."""
        return self.low if self.stream == "low" and self.low is not None else self.main

    def status(self) -> QualityStatus:
        return {"mode": self.mode, "stream": self.stream, "reason": self.reason, "switches": self.switches}

    def take_keyframe_request(self) -> bool:
        """Whether the stream chosen wants one more keyframe now (once: the caller asks its encoder)."""
        wanted, self._keyframe_wanted = self._keyframe_wanted, False
        return wanted

    def choose(self, mode: QualityMode, now: float) -> None:
        """The viewer's choice, followed at once (a chosen stream has no dwell time)."""
        self.mode = mode
        self._probe = None
        self._refresh_at = None
        self._auto_switched_at = None
        self._next_probe_at = 0.0
        if self.low is None:
            self.reason = NO_LOW_STREAM
        elif mode is QualityMode.HIGH:
            self._switch("main", "chosen: HD", now)
        elif mode is QualityMode.LOW:
            self._switch("low", "chosen: SD", now)
        else:
            self._since = now
            self.reason = "auto: starting on main" if self.stream == "main" else "auto: on low until main fits"

    def wake_in(self, now: float) -> float | None:
        """Seconds until the policy wants to be ticked again without news from the link (None: only on news)."""
        if self._probe is not None:
            return PROBE_MAX_CHUNK_S if now < self._probe.padding_ends else PROBE_POLL_S
        return None if self._refresh_at is None else max(0.0, self._refresh_at - now)

    def tick(self, link: Link, now: float) -> None:
        """Take in what the link said since the last tick, and choose."""
        report = link.feedback.last_report
        if report is not None and report is not self._last_report:
            self._last_report = report
            self._take_report(report)
        if link.feedback.remb_bps is not None and link.feedback.remb_at != self._remb_at:
            self._remb_at = link.feedback.remb_at
            self._take_remb(link.feedback.remb_bps, now)
        if self.mode is not QualityMode.AUTO or self.low is None:
            return
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            self._keyframe_wanted = True
        if self._probe is not None:
            self._run_probe(link, now)
        elif self.stream == "main":
            self._down_if_main_does_not_fit(link.feedback, now)
        elif now - self._since >= PROBE_AFTER_S and now >= self._next_probe_at and self._may_switch(now):
            self._start_probe(link, now)

    # --- what the link says -----------------------------------------------------------------

    def _take_report(self, report: Report) -> None:
        self._reports.append(report.at)
        while self._reports[0] < report.at - LOSS_WINDOW_S:
            self._reports.popleft()
        if self._probe is not None and report.at >= self._probe.started:
            self._probe.report(report)

    def _take_remb(self, bps: int, now: float) -> None:
        before, self._remb = self._remb, bps
        if bps >= self.need_bps or (before is not None and bps > before):  # it fits, or climbs again
            self._remb_low_since = None
        elif before is not None and bps < REMB_FALL * before and self._remb_low_since is None:
            self._remb_low_since = now
        if self._probe is not None:
            self._probe.remb(bps)

    def _recent_loss(self, feedback: Feedback, now: float) -> float | None:
        """The loss of the reports of the last LOSS_WINDOW_S, weighed by the packets each covers (under loss the
        browser reports with every NACK, most reports covering a packet or two), if there are enough of them."""
        while self._reports and self._reports[0] < now - LOSS_WINDOW_S:
            self._reports.popleft()
        return feedback.loss_since(now - LOSS_WINDOW_S) if len(self._reports) >= LOSS_REPORTS else None

    # --- choosing ---------------------------------------------------------------------------

    def _may_switch(self, now: float) -> bool:
        return self._auto_switched_at is None or now - self._auto_switched_at >= MIN_DWELL_S

    def _down_if_main_does_not_fit(self, feedback: Feedback, now: float) -> None:
        loss = self._recent_loss(feedback, now)
        if not self._may_switch(now):
            return
        if loss is not None and loss > LOSS_DOWN:
            self._auto_switch("low", f"auto: loss {loss * 100:.0f} % on main", now)
        elif self._remb is not None and self._remb_low_since is not None and now - self._remb_low_since >= REMB_LOW_S:
            self._auto_switch("low", f"auto: REMB {rate_text(self._remb)} < main needs {rate_text(self.need_bps)}", now)
        elif self.reason == "auto: starting on main" and loss is not None:
            self.reason = "auto: link carries main"

    def _start_probe(self, link: Link, now: float) -> None:
        self._probe = _Probe(
            started=now,
            # What the wire carries (headers, the sound) must come to main's need, as the reason says.
            padding_bps=max(0.0, self.need_bps - (link.send_rate_bps + AUDIO_BPS) * OVERHEAD),
            rate_bps=self.need_bps,
            rtt_before=link.feedback.rtt_s,
            remb_before=self._remb,
            padded_until=now,
        )
        self.reason = f"auto: probing at {rate_text(self.need_bps)}"

    def _run_probe(self, link: Link, now: float) -> None:
        probe = self._probe
        assert probe is not None
        if now < probe.padding_ends:
            nbytes = probe.padding_now(now)
            if nbytes > 0:
                sent = link.send_padding(nbytes)
                probe.sent += sent
                if probe.sent == 0:
                    self._probe = None
                    if link.pads:
                        self._next_probe_at = now + PROBE_RETRY_S  # no path this moment (an ICE restart)
                    else:
                        self._cannot_probe(now)
                    return
        failure = probe.failure(link.feedback.loss_since(probe.started))
        if failure is None and now >= probe.padding_ends + PROBE_VERDICT_S and not probe.reports_after_padding:
            failure = "no receiver report"
        if failure is not None:
            self._probe = None
            self._failed_probes += 1
            self._next_probe_at = now + (PROBE_RETRY_S if self._failed_probes == 1 else PROBE_BACKOFF_S)
            self.reason = f"auto: probe at {rate_text(probe.rate_bps)} failed ({failure})"
        elif now >= probe.padding_ends and probe.reports_after_padding:
            self._probe = None
            self._auto_switch("main", f"auto: probe at {rate_text(probe.rate_bps)} passed", now)

    def _cannot_probe(self, now: float) -> None:
        """The sender could send no padding (no RTX negotiated): main is tried blind, now and then."""
        if now - self._since >= BLIND_UP_AFTER_S:
            self._auto_switch("main", "auto: trying main (cannot probe without RTX)", now)
        else:
            self._next_probe_at = now + PROBE_RETRY_S
            self.reason = "auto: on low (cannot probe without RTX)"

    def _auto_switch(self, stream: StreamName, reason: str, now: float) -> None:
        self._auto_switched_at = now
        self._switch(stream, reason, now)
        if stream == "low":
            self._refresh_at = now + REFRESH_AFTER_S

    def _switch(self, stream: StreamName, reason: str, now: float) -> None:
        self.reason = reason
        if stream == self.stream:
            return
        self.stream = stream
        self.switches += 1
        self._since = now
        self._next_probe_at = 0.0
        self._failed_probes = 0
        self._reports.clear()
        self._remb_low_since = None
