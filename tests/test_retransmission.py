"""The rules for answering NACKs (edge/webrtc/retransmission.py), on a simulated clock.

The issue's weak viewer (700 kbit/s, 60 ms) had its NACKs answered with 12-75 Mbit/s; here a storm of NACKs at that
link's estimate gets at most the budget's share of it, and old or repeated requests are not answered.
"""

from __future__ import annotations

from edge.webrtc.retransmission import (
    DEPTH_S,
    MAX_AGE_S,
    MIN_DEPTH_BYTES,
    NEVER,
    SHARE,
    UNKNOWN_RTT_S,
    RetransmissionGate,
)

LINK_BPS = 700_000
PACKET = 1_200


def test_a_storm_of_nacks_for_2000_packets_gets_at_most_the_share_of_a_700_kbit_link_over_a_second():
    gate = RetransmissionGate()
    resent_at = [NEVER] * 2000
    sent_bytes = 0
    now = 100.0
    for _round in range(51):  # the viewer asks for all 2000 again every 20 ms, for a second
        gate.refill(LINK_BPS, now)
        for packet in range(2000):
            if gate.admit(PACKET, now - 0.5, resent_at[packet], now, UNKNOWN_RTT_S):
                resent_at[packet] = now
                sent_bytes += PACKET
        now += 0.020
    allowed = LINK_BPS * SHARE / 8 * (1 + DEPTH_S)  # a second of the share, and the bucket's depth at the start
    assert allowed * 0.9 < sent_bytes <= allowed  # ~175 kbit/s: the link keeps 3/4 for the picture
    assert gate.ignored_budget > 2000 * 50 * 0.9 and gate.ignored_old == 0


def test_a_packet_older_than_the_useful_age_is_not_sent_again():
    gate = RetransmissionGate()
    gate.refill(LINK_BPS, 10.0)
    assert not gate.admit(PACKET, 10.0 - 2.0, NEVER, 10.0, UNKNOWN_RTT_S)
    assert gate.admit(PACKET, 10.0 - MAX_AGE_S * 0.9, NEVER, 10.0, UNKNOWN_RTT_S)
    assert (gate.ignored_old, gate.ignored_repeat, gate.ignored_budget) == (1, 0, 0)


def test_the_same_packet_goes_again_at_most_once_per_round_trip():
    gate = RetransmissionGate()
    gate.refill(LINK_BPS * 100, 10.0)  # a budget that is no limit here
    assert gate.admit(PACKET, 9.9, NEVER, 10.0, 0.060)
    assert not gate.admit(PACKET, 9.9, 10.0, 10.0 + 0.050, 0.060)  # asked again before our answer could arrive
    assert gate.admit(PACKET, 9.9, 10.0, 10.0 + 0.061, 0.060)
    assert (gate.ignored_old, gate.ignored_repeat, gate.ignored_budget) == (0, 1, 0)


def test_any_one_packet_can_be_paid_for_on_the_slowest_link_and_the_bucket_refills_at_the_share():
    gate = RetransmissionGate()
    gate.refill(40_000, 0.0)  # 200 ms of a quarter of 40 kbit/s is 250 bytes: less than a packet
    assert gate.admit(MIN_DEPTH_BYTES, 0.0, NEVER, 0.0, UNKNOWN_RTT_S)
    assert not gate.admit(1, 0.0, NEVER, 0.0, UNKNOWN_RTT_S)
    gate.refill(40_000, 0.1)  # 0.1 s at 1250 bytes/s
    assert gate.admit(125, 0.0, NEVER, 0.1, UNKNOWN_RTT_S) and not gate.admit(1, 0.0, NEVER, 0.1, UNKNOWN_RTT_S)
    assert gate.ignored_budget == 2


def test_a_packet_sent_before_the_last_keyframe_is_not_sent_again():
    """After a keyframe (a switch to the other stream, an IDR after a PLI) the packets before it are no use."""
    gate = RetransmissionGate()
    now = 100.0
    gate.refill(LINK_BPS, now)
    assert not gate.admit(PACKET, now - 0.2, NEVER, now, UNKNOWN_RTT_S, keyframe_at=now - 0.1)
    assert gate.admit(PACKET, now - 0.1, NEVER, now, UNKNOWN_RTT_S, keyframe_at=now - 0.1)  # the keyframe's own
    assert gate.ignored_old == 1
