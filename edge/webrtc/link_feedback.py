"""What a viewer tells its sender about the link: receiver reports (loss, jitter, round-trip time) and REMB.

Receiver reports come in RTCP RR packets (or in the report blocks of an SR) about once a second. Their round-trip
time is ours to work out: the report echoes the middle 32 bits of the NTP time of the last sender report it got
(LSR) and how long it held it since (DLSR), so the sender keeps the send times of its last few reports; aiortc
matches only the very last one, which a report crossing the next sender report on the wire misses.

REMB (draft-alvestrand-rmcat-remb) is the browser's delay-based estimate of what the link carries, made from the
abs-send-time of every RTP packet it receives (retransmissions and probe padding included). We negotiate it
rather than transport-wide congestion control, which aiortc 1.16 neither offers nor parses.

Seen from Chromium 156 and Firefox ESR 153: REMB about every 0.2 s, for the video SSRC only; receiver reports
about every 0.2 s for video and 5 s for audio on a clean link, but one with every NACK under loss (every ~15 ms
on a 700 kbit/s link fed 2 Mbit/s), most of those covering a packet or two. So :meth:`LinkFeedback.loss_since`
weighs each report by the packets it covers: there, a plain mean of their loss fractions read 0.30, weighed by
packets 0.80 (about what 2 Mbit/s of video into what is left of 700 kbit/s loses).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiortc.rtp import RtcpReceiverInfo

log = logging.getLogger(__name__)

SMOOTHING = 1 / 8  # RFC 6298's alpha for the smoothed round-trip time
SENDER_REPORTS_KEPT = 8  # sent every 0.5-1.5 s: a report about an older one is too late to time anything
REPORTS_KEPT = 64  # about a minute of receiver reports, for loss_since()


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """One RTCP report block about our SSRC (from an RR or an SR)."""

    at: float  # time.monotonic() when it arrived
    loss_fraction: float  # 0..1 (report.fraction_lost / 256)
    jitter_s: float  # report.jitter / clock rate
    rtt_s: float | None  # from LSR/DLSR against our own sender reports' NTP times, None if it cannot be matched
    packets: int = 0  # packets the report covers (its highest sequence number's advance), 0 when not known


class LinkFeedback:
    """What the viewer tells us about its link: receiver reports, REMB, NACK volume."""

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._sender_reports: deque[tuple[int, float]] = deque(maxlen=SENDER_REPORTS_KEPT)  # (lsr, monotonic)
        self._highest_sequence: int | None = None  # extended, of the last report
        self._reports: deque[ReceiverReport] = deque(maxlen=REPORTS_KEPT)
        self._callbacks: list[Callable[[], None]] = []
        self.reports = 0  # receiver reports seen
        self.last_report: ReceiverReport | None = None
        self.rtt_s: float | None = None  # smoothed, None until known
        self.remb_bps: int | None = None  # the latest REMB for our SSRC, None if none came
        self.remb_at: float | None = None
        self.rembs = 0  # REMB messages for our SSRC seen
        self.nacked_packets = 0  # sequence numbers the viewer asked for again (counted by the sender)

    def on_update(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each receiver report or REMB is taken in."""
        self._callbacks.append(callback)

    def loss_since(self, since: float) -> float | None:
        """The mean loss fraction of the reports that arrived after ``since``, weighed by the packets each covers
        where known (None if none arrived)."""
        reports = [report for report in self._reports if report.at > since]
        if not reports:
            return None
        packets = sum(report.packets for report in reports)
        if packets == 0:
            return sum(report.loss_fraction for report in reports) / len(reports)
        return sum(report.loss_fraction * report.packets for report in reports) / packets

    # --- what the sender hands in ------------------------------------------------------------

    def sender_report_sent(self, ntp_timestamp: int, at: float) -> None:
        """Our sender report with this 64-bit NTP time left at ``at`` (time.monotonic())."""
        self._sender_reports.append(((ntp_timestamp >> 16) & 0xFFFFFFFF, at))

    def receiver_report(self, block: RtcpReceiverInfo, at: float) -> ReceiverReport:
        rtt = self._round_trip(block, at)
        if rtt is not None:
            self.rtt_s = rtt if self.rtt_s is None else self.rtt_s + SMOOTHING * (rtt - self.rtt_s)
        report = ReceiverReport(
            at, block.fraction_lost / 256, block.jitter / self._clock_rate, rtt, self._covers(block)
        )
        self._reports.append(report)
        self.last_report = report
        self.reports += 1
        self._updated()
        return report

    def remb(self, bitrate_bps: int, at: float) -> None:
        self.remb_bps = bitrate_bps
        self.remb_at = at
        self.rembs += 1
        self._updated()

    # --- internals ---------------------------------------------------------------------------

    def _round_trip(self, block: RtcpReceiverInfo, at: float) -> float | None:
        if not block.lsr:
            return None  # the viewer has had no sender report yet
        for lsr, sent_at in reversed(self._sender_reports):
            if lsr == block.lsr:
                return max(0.0, at - sent_at - block.dlsr / 65536)
        return None

    def _covers(self, block: RtcpReceiverInfo) -> int:
        previous, self._highest_sequence = self._highest_sequence, block.highest_sequence
        if previous is None:
            return 0
        advance = (block.highest_sequence - previous) & 0xFFFFFFFF
        return advance if advance < 1 << 15 else 0  # a report out of order, or a receiver that started over

    def _updated(self) -> None:
        # Called from aiortc's DTLS receive loop, which an exception would end (and the viewer's connection with it).
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                log.exception("link feedback callback failed")
