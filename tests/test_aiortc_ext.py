"""What we rely on inside aiortc/aioice. If one of these fails after an upgrade,
read edge/webrtc/aiortc_ext.py before anything else."""

import inspect

import aioice
import aioice.ice
import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcrtpsender import RTCRtpSender as SenderClass

from edge.webrtc import aiortc_ext


def test_the_versions_we_were_built_against():
    assert aiortc.__version__.startswith("1.16."), aiortc.__version__
    assert aioice.__version__.startswith("0.13."), aioice.__version__


def test_pli_and_fir_still_end_in_send_keyframe():
    source = inspect.getsource(SenderClass._handle_rtcp_packet)
    assert "self._send_keyframe()" in source


async def test_keyframe_requests_reach_our_callback():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        calls = []
        aiortc_ext.on_keyframe_request(transceiver.sender, lambda: calls.append(1))
        transceiver.sender._send_keyframe()
        assert calls == [1]
    finally:
        await pc.close()


def test_codec_matching_is_by_profile_and_first_local_codec_wins():
    from aiortc.rtcpeerconnection import find_common_codecs, filter_preferred_codecs
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    preferences = aiortc_ext.h264_preferences("42c028")
    browser = [
        RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=109,
                              parameters={"packetization-mode": "1", "profile-level-id": "42e01f"}),
    ]
    common = filter_preferred_codecs(find_common_codecs(CODECS["video"], browser), preferences)
    assert common and common[0].parameters["profile-level-id"] == "42c028"
    assert common[0].payloadType == 109
    assert aiortc_ext.h264_preferences("42c028") == preferences  # registered once
    assert sum(c.parameters.get("profile-level-id") == "42c028" for c in CODECS["video"]) == 1


def test_host_addresses_come_from_a_module_function_we_can_replace():
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)
    try:
        aiortc_ext.restrict_host_interfaces(["lo"])
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    finally:
        aiortc_ext.restrict_host_interfaces([])
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def test_opus_is_available():
    assert [c.mimeType for c in aiortc_ext.opus_preferences()] == ["audio/opus"]
    assert RTCRtpSender.getCapabilities("audio")
