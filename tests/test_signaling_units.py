import pytest

from edge.signaling.offer import OfferError, accepted_media, check_offer
from edge.signaling.sdpfrag import SdpFragError, parse_sdpfrag
from edge.webrtc.session import without_mdns_candidates
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
    with pytest.raises(OfferError, match="no video section"):
        check_offer(make_offer(video=False))
    with pytest.raises(OfferError, match="no H.264"):
        check_offer(make_offer(video_codecs="video/VP8"))


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
