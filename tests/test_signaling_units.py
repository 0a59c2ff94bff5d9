import logging

import pytest

from edge.signaling.offer import NO_H264, NO_VIDEO, OfferError, accepted_media, check_offer
from edge.signaling.refusals import MAX_USER_AGENT_CHARS, RefusedOffers, one_line
from edge.webrtc.sdp import extension_sendonly, without_mdns_candidates
from edge.webrtc.sdp_fragments import SdpFragError, parse_sdpfrag
from tests.offers import make_offer


@pytest.fixture(scope="module")
def good_offer() -> str:
    return make_offer()


def test_a_browser_like_offer_passes(good_offer):
    description = check_offer(good_offer)
    assert [m.kind for m in description.media] == ["video", "audio"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda o: "hello", "malformed SDP: an offer starts with v=0"),
        (lambda o: o[: len(o) // 3], "malformed SDP"),
        (lambda o: o.replace("a=ice-ufrag:", "a=x-ufrag:"), "no ice-ufrag/ice-pwd"),
        (lambda o: o.replace("a=fingerprint:", "a=x-fingerprint:"), "no DTLS fingerprint"),
        (lambda o: o.replace("a=recvonly", "a=sendonly", 1), "the camera only sends"),
    ],
)
def test_bad_offers_get_a_one_line_reason(good_offer, mutate, message):
    with pytest.raises(OfferError) as error:
        check_offer(mutate(good_offer))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_offers_without_video_or_without_h264_are_refused():
    with pytest.raises(OfferError, match="no video section") as no_video:
        check_offer(make_offer(video=False))
    assert no_video.value.code == NO_VIDEO
    with pytest.raises(OfferError, match=r"no H\.264") as no_h264:
        check_offer(make_offer(video_codecs="video/VP8"))
    assert no_h264.value.code == NO_H264 == "no-h264"  # the page stops retrying on this X-Edge-Reason


def test_sdpfrag_trickle_and_restart():
    frag = parse_sdpfrag(
        "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\na=end-of-candidates\r\n"
    )
    assert frag.credentials == ("abcd", "0123456789abcdefghijkl")
    assert frag.candidates == ["1 1 udp 2130706431 192.0.2.1 50000 typ host"]
    assert frag.end_of_candidates


@pytest.mark.parametrize(
    "body, message",
    [
        ("not sdp at all", "not an SDP line"),
        ("a=candidate:1 1 udp", "malformed candidate"),
        ("a=ice-ufrag:abcd\r\n", "needs ice-pwd too"),
        ("a=ice-ufrag:ab\r\na=ice-pwd:0123456789abcdefghijkl\r\n", "invalid ice-ufrag"),
        ("a=x\r\n" * 500, "too many lines"),
    ],
)
def test_bad_sdpfrags(body, message):
    with pytest.raises(SdpFragError, match=message):
        parse_sdpfrag(body)


def test_an_offer_loses_its_mdns_candidates_and_then_its_end_of_candidates():
    offer = (
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:1 1 udp 2130706431 6f1e2d4c.local 40000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 192.0.2.7 40001 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    kept, hides = without_mdns_candidates(offer)
    assert hides and kept == (
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:2 1 udp 2130706431 192.0.2.7 40001 typ host\r\n"
    )
    plain = offer.replace("6f1e2d4c.local", "192.0.2.8")
    assert without_mdns_candidates(plain) == (plain, False)


def bundle_only_audio(offer: str) -> str:
    """The offer as a max-bundle offerer (GStreamer's webrtcbin) writes it: audio on port 0, bundle-only."""
    head, audio = offer.split("m=audio ", 1)
    return head + "m=audio 0 " + audio.split(" ", 1)[1].replace("a=mid:", "a=bundle-only\r\na=mid:", 1)


def test_a_bundle_only_section_wants_media_and_a_rejected_one_does_not(good_offer):
    bundled = check_offer(bundle_only_audio(good_offer))
    assert [m.port for m in bundled.media if m.kind == "audio"] == [0]
    assert len(accepted_media(bundled, "audio")) == 1
    rejected = bundle_only_audio(good_offer).replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
    assert "a=group:BUNDLE 0\r\n" in rejected
    assert accepted_media(check_offer(rejected), "audio") == []


# --- refused offers: counted, and logged once per address per minute ----------------

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NO_H264_REASON = "the offer's video has no H.264 with packetization-mode=1 in Baseline/Constrained Baseline"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "edge.signaling.refusals"]


def test_two_refused_offers_within_a_minute_give_one_warning_and_both_are_counted(caplog):
    caplog.set_level(logging.WARNING, logger="edge.signaling.refusals")
    clock = FakeClock()
    refused = RefusedOffers(clock=clock)
    refused.refused("192.0.2.7", 400, "no-h264", NO_H264_REASON + "\n", FIREFOX)
    clock.now += 30
    refused.refused("192.0.2.7", 400, "no-h264", NO_H264_REASON + "\n", FIREFOX)

    lines = refusal_lines(caplog)
    assert len(lines) == 1, lines
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert "192.0.2.7" in lines[0] and "400 no-h264" in lines[0] and NO_H264_REASON in lines[0]
    assert FIREFOX in lines[0] and "\n" not in lines[0]
    assert refused.status() == {"total": 2, "by_reason": {"no-h264": 2}, "not_logged": 1}

    # A minute after the warning, the next refusal is logged again, with what was left out.
    clock.now += 30
    refused.refused("192.0.2.7", 503, "viewer-limit", "this camera has its maximum of 4 viewers", FIREFOX)
    lines = refusal_lines(caplog)
    assert len(lines) == 2 and "503 viewer-limit" in lines[1]
    assert "1 more from this address" in lines[1]
    assert refused.status() == {"total": 3, "by_reason": {"no-h264": 2, "viewer-limit": 1}, "not_logged": 1}


def test_each_address_has_its_own_minute(caplog):
    caplog.set_level(logging.WARNING, logger="edge.signaling.refusals")
    refused = RefusedOffers(clock=FakeClock())
    for address in ("192.0.2.1", "192.0.2.2", "2001:db8::1", None):
        refused.refused(address, 415, "content-type", "Content-Type must be application/sdp", None)
    lines = refusal_lines(caplog)
    assert len(lines) == 4
    assert "from unknown" in lines[3] and "User-Agent: -" in lines[3]


def test_user_agent_and_reason_are_one_short_line():
    hostile = "Evil/1.0\r\nWARNING edge: forged line\x1b[31m" + "x" * 1000
    flat = one_line(hostile, MAX_USER_AGENT_CHARS)
    assert len(flat) == MAX_USER_AGENT_CHARS and flat.endswith("…")
    assert flat.isprintable() and "\n" not in flat
    assert one_line(None, 10) == one_line("", 10) == "-"
    assert one_line(FIREFOX, MAX_USER_AGENT_CHARS) == FIREFOX


def test_many_addresses_are_not_remembered_for_ever():
    clock = FakeClock()
    refused = RefusedOffers(clock=clock)
    for n in range(3000):
        refused.refused(f"10.0.{n // 256}.{n % 256}", 400, "malformed", "malformed SDP", None)
    assert len(refused._addresses) <= 1024
    clock.now += 61
    refused.refused("10.9.9.9", 400, "malformed", "malformed SDP", None)
    assert len(refused._addresses) == 1  # the others' minutes are over, with nothing left unlogged
    assert refused.status()["total"] == 3001


def test_our_answer_marks_an_extension_sendonly():
    uri = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
    answer = f"v=0\r\na=extmap:6 {uri}\r\na=extmap:3 x\r\n"
    assert extension_sendonly(answer, uri) == f"v=0\r\na=extmap:6/sendonly {uri}\r\na=extmap:3 x\r\n"
