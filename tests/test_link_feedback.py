"""What a viewer reports about its link (edge/webrtc/link_feedback.py): loss, jitter, round-trip time, REMB.

The reports are built as a receiver would send them; the sender's side of it (RTCP arriving at a real sender)
is in tests/test_rtp_sender.py.
"""

from __future__ import annotations

import pytest
from aiortc.rtp import RtcpReceiverInfo

from edge.webrtc.link_feedback import LinkFeedback, ReceiverReport

CLOCK_RATE = 90_000
SR_NTP = 0x1234_5678_9ABC_0000  # a sender report's 64-bit NTP time: its middle 32 bits are the LSR
SR_LSR = 0x5678_9ABC


def block(lsr: int = 0, dlsr: int = 0, fraction_lost: int = 0, jitter: int = 0, highest: int = 0) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=1, fraction_lost=fraction_lost, packets_lost=0, highest_sequence=highest, jitter=jitter, lsr=lsr, dlsr=dlsr
    )


def test_the_round_trip_is_the_reports_arrival_less_our_send_time_less_the_receivers_hold():
    feedback = LinkFeedback(CLOCK_RATE)
    feedback.sender_report_sent(SR_NTP, 50.0)
    report = feedback.receiver_report(block(SR_LSR, dlsr=int(0.25 * 65536)), 50.31)  # held 250 ms: RTT 60 ms
    assert report.rtt_s == pytest.approx(0.060, abs=1e-4)
    assert feedback.rtt_s == report.rtt_s and feedback.last_report == report and feedback.reports == 1


def test_a_report_about_an_earlier_sender_report_still_gives_a_round_trip():
    feedback = LinkFeedback(CLOCK_RATE)
    feedback.sender_report_sent(SR_NTP, 50.0)
    feedback.sender_report_sent(SR_NTP + (1 << 32), 51.0)  # the next one crossed the receiver's report on the wire
    assert feedback.receiver_report(block(SR_LSR, dlsr=int(0.9 * 65536)), 51.0).rtt_s == pytest.approx(0.1, abs=1e-4)


def test_without_a_sender_report_to_match_there_is_no_round_trip():
    feedback = LinkFeedback(CLOCK_RATE)
    feedback.sender_report_sent(SR_NTP, 50.0)
    assert feedback.receiver_report(block(), 50.5).rtt_s is None  # the receiver had none yet (LSR 0)
    assert feedback.receiver_report(block(SR_LSR + 1, dlsr=100), 50.5).rtt_s is None  # not one of ours
    assert feedback.rtt_s is None and feedback.reports == 2


def test_the_round_trip_is_smoothed_by_an_eighth():
    feedback = LinkFeedback(CLOCK_RATE)
    for n, rtt in enumerate((0.100, 0.180)):
        feedback.sender_report_sent(SR_NTP + (n << 16), 10.0 * n)
        feedback.receiver_report(block(SR_LSR + n, dlsr=0), 10.0 * n + rtt)
    assert feedback.rtt_s == pytest.approx(0.110)


def test_loss_and_jitter_in_their_units_and_the_mean_loss_since_a_moment():
    feedback = LinkFeedback(CLOCK_RATE)
    assert feedback.loss_since(0.0) is None
    first = feedback.receiver_report(block(fraction_lost=64, jitter=900), 1.0)
    assert first == ReceiverReport(at=1.0, loss_fraction=0.25, jitter_s=0.01, rtt_s=None)
    feedback.receiver_report(block(fraction_lost=0), 2.0)
    feedback.receiver_report(block(fraction_lost=128), 3.0)
    assert feedback.loss_since(0.0) == pytest.approx(0.25)
    assert feedback.loss_since(1.0) == pytest.approx(0.25)  # the reports after 1.0: 0 and 50 %
    assert feedback.loss_since(2.5) == pytest.approx(0.5)
    assert feedback.loss_since(3.0) is None


def test_remb_is_kept_and_every_update_is_announced_even_past_a_failing_listener():
    feedback = LinkFeedback(CLOCK_RATE)
    assert feedback.remb_bps is None and feedback.remb_at is None
    heard: list[int | None] = []

    def broken() -> None:
        raise RuntimeError("a listener's bug must not end the viewer's RTCP handling")

    feedback.on_update(broken)
    feedback.on_update(lambda: heard.append(feedback.remb_bps))
    feedback.remb(612_000, 7.0)
    feedback.receiver_report(block(), 7.5)
    assert (feedback.remb_bps, feedback.remb_at, feedback.rembs) == (612_000, 7.0, 1)
    assert heard == [612_000, 612_000]


def test_under_loss_the_many_small_reports_weigh_by_the_packets_they_cover():
    """Chromium sends a report with every NACK: many cover a packet or two, and read no loss."""
    feedback = LinkFeedback(CLOCK_RATE)
    feedback.receiver_report(block(highest=(1 << 16) - 10), 1.0)  # the first: what it covers is not known
    big = feedback.receiver_report(block(fraction_lost=204, highest=(1 << 16) + 90), 1.2)  # 80 % of 100, across a wrap
    for n in range(8):
        feedback.receiver_report(block(fraction_lost=0, highest=(1 << 16) + 91 + n), 1.3 + n / 100)  # 1 packet each
    assert big.packets == 100 and feedback.last_report is not None and feedback.last_report.packets == 1
    assert feedback.loss_since(1.1) == pytest.approx(0.797 * 100 / 108, abs=1e-3)  # a plain mean: 0.09
    assert feedback.receiver_report(block(highest=5), 2.0).packets == 0  # a receiver that started over
