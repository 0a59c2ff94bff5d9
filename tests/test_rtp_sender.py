"""The RTP sending path (edge/webrtc/rtp_sender.py): payloads made once, headers per viewer,
NACK and PLI answered, retransmissions bounded, the viewer's reports and REMB read, padding
to probe the link, sender reports on the capture clock, playout-delay negotiated.

A real aiortc receiver in this process watches a FastRtpSender fed by the simulated
camera; the plain RTP leaving the sender is read just before SRTP protects it.
If one of these fails after an aiortc upgrade, read the module's docstring first.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)

from edge.media.fanout import Fanout
from edge.media.h264 import NAL_SPS
from edge.webrtc import aiortc_ext, rtp_sender
from edge.webrtc.payloads import Payloads
from edge.webrtc.retransmission import DEPTH_S, MAX_AGE_S, MIN_RTT_S, SHARE
from edge.webrtc.rtp_sender import PLAYOUT_DELAY, FastRtpSender, SharedPayloads, h264_payloads
from edge.webrtc.sdp import extension_sendonly
from edge.webrtc.session import ViewerSession
from hw.camera import CameraSettings, H264AccessUnit
from hw.camera.simulated import SimulatedCamera
from hw.clock import monotonic_us

pytestmark = pytest.mark.timeout(60)

STAP_A = 24
FU_A = 28


# --- what we rely on inside aiortc -------------------------------------------------------


def test_aiortc_still_starts_and_stops_a_sender_the_way_we_take_over():
    send = inspect.getsource(RTCRtpSender.send)
    assert "self._run_rtp(parameters.codecs[0])" in send and "self._run_rtcp()" in send
    stop = inspect.getsource(RTCRtpSender.stop)
    assert "self.__rtp_started.wait()" in stop and "self.__rtcp_exited.wait()" in stop
    handle = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self._send_keyframe()" in handle
    assert "self.__lsr == report.lsr" in handle and "self.__lsr_time" in handle
    # aiortc hands a REMB's bitrate to its own encoder, which a sender that never encodes does not have.
    assert 'if self.__encoder and hasattr(self.__encoder, "target_bitrate")' in handle
    assert inspect.getsource(RTCRtpSender).count("self.__encoder = get_encoder(codec)") == 1
    assert "self.__encoder = get_encoder(codec)" in inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "await self._next_encoded_frame(codec)" in inspect.getsource(RTCRtpSender._run_rtp)  # which we replace
    stats = inspect.getsource(RTCRtpSender.getStats)
    assert "self.__packet_count" in stats and "self.__octet_count" in stats
    assert "self._tx_srtp.protect(data)" in inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "self._nominated.get(component)" in inspect.getsource(aioice.ice.Connection.sendto)
    assert callable(H264Encoder._split_bitstream) and callable(H264Encoder._packetize)


async def test_a_new_sender_has_the_private_state_we_share():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        sender = pc.addTransceiver("video", direction="sendonly").sender
        for name in FastRtpSender.__annotations__:
            if name.startswith("_RTCRtpSender__"):
                assert hasattr(sender, name), f"aiortc's RTCRtpSender no longer has {name}"
        assert hasattr(sender, "_ssrc") and hasattr(sender, "_rtx_ssrc") and hasattr(sender, "_enabled")
    finally:
        await pc.close()


# --- payloads -----------------------------------------------------------------------------


def test_an_idr_is_packetized_as_stap_a_then_fu_a_and_reassembles_exactly():
    sps, pps = bytes([0x67, 0x42, 0xC0, 0x1F]) + b"\x11" * 8, bytes([0x68]) + b"\x22" * 4
    idr = bytes([0x65]) + bytes(range(256)) * 12  # larger than one packet
    payloads = h264_payloads(b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps + b"\x00\x00\x01" + idr)
    assert payloads[0][0] & 0x1F == STAP_A
    assert all(p[0] & 0x1F == FU_A for p in payloads[1:]) and len(payloads) > 2
    assert all(len(p) <= 1300 for p in payloads)
    assert payloads[1][1] & 0x80 and payloads[-1][1] & 0x40  # start and end bits
    assert payloads[1][0] & 0xE0 | payloads[1][1] & 0x1F == idr[0]
    assert b"".join(p[2:] for p in payloads[1:]) == idr[1:]


def test_every_viewer_shares_one_packetization():
    shared: SharedPayloads = SharedPayloads(h264_payloads)
    units = [H264AccessUnit(b"\x00\x00\x01\x65" + bytes([i]) * 50, i == 0, i * 33_333, 0.0) for i in range(3)]
    frames = [[shared.frame(unit) for unit in units] for _viewer in range(16)]
    assert shared.packetized == 3
    assert all(viewer == frames[0] for viewer in frames)
    assert all(viewer[i] is frames[0][i] for viewer in frames for i in range(3))


# --- a real receiver ------------------------------------------------------------------------


class Recorder:
    """Stands in for the SRTP session: keeps each plain packet, then protects it."""

    def __init__(self, session) -> None:
        self._session = session
        self.rtp: list[bytes] = []
        self.at: list[float] = []  # time.monotonic() of each

    def protect(self, packet: bytes) -> bytes:
        self.rtp.append(packet)
        self.at.append(time.monotonic())
        return self._session.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._session.protect_rtcp(packet)


@dataclass
class Link:
    sender: FastRtpSender
    receiver: RTCPeerConnection
    recorder: Recorder
    frames: list = field(default_factory=list)
    keyframe_requests: list = field(default_factory=list)


class CameraSource:
    """The simulated camera's access units, from when :attr:`opened` is set (the recorder is in place)."""

    def __init__(self) -> None:
        self._frames = SimulatedCamera(CameraSettings(width=320, height=240, framerate=30)).frames()
        self.sent: list[H264AccessUnit] = []
        self.opened = asyncio.Event()

    async def recv(self) -> H264AccessUnit:
        await self.opened.wait()
        unit = await anext(self._frames)
        self.sent.append(unit)
        return unit


@contextlib.asynccontextmanager
async def link(payloads: SharedPayloads | None = None) -> AsyncIterator[Link]:
    rtp_sender.offer_playout_delay()
    sending = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiving = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    source = CameraSource()
    requests: list[int] = []
    transceiver = sending.addTransceiver("video", direction="sendonly")
    sender = FastRtpSender.adopt(
        transceiver.sender, source, payloads or SharedPayloads(h264_payloads), 90_000, lambda: requests.append(1)
    )
    transceiver.setCodecPreferences(aiortc_ext.h264_preferences("42c00d"))
    frames: list = []
    receivers: list[asyncio.Task[None]] = []  # referenced, so that a running one is not collected

    @receiving.on("track")
    def on_track(track) -> None:
        async def receive() -> None:
            with contextlib.suppress(Exception):
                while True:
                    frames.append(await track.recv())

        receivers.append(asyncio.create_task(receive()))

    receiving.addTransceiver("video", direction="recvonly")
    await receiving.setLocalDescription(await receiving.createOffer())
    await sending.setRemoteDescription(receiving.localDescription)
    await sending.setLocalDescription(await sending.createAnswer())
    answer = extension_sendonly(sending.localDescription.sdp, PLAYOUT_DELAY)
    await receiving.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    recorder = Recorder(None)

    async def wait_for_dtls() -> None:
        while sender.transport.state != "connected":
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait_for_dtls(), 20)
    recorder._session = sender.transport._tx_srtp
    sender.transport._tx_srtp = recorder
    source.opened.set()  # every packet from the first frame on is recorded
    try:
        yield Link(sender, receiving, recorder, frames, requests)
    finally:
        await receiving.close()
        await sending.close()


async def wait_until(condition, timeout: float = 20) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def parse(packet: bytes) -> tuple[int, int, int, int, dict[int, bytes], bytes]:
    """(marker, payload type, sequence, timestamp, one-byte extensions, payload) of a plain RTP packet."""
    first, second, sequence, timestamp, _ssrc = struct.unpack_from("!BBHII", packet)
    assert first >> 6 == 2 and first & 0x10, "RTP version 2 with header extensions"
    profile, words = struct.unpack_from("!HH", packet, 12)
    assert profile == 0xBEDE
    block, extensions, i = packet[16 : 16 + 4 * words], {}, 0
    while i < len(block) and block[i]:
        ext_id, length = block[i] >> 4, (block[i] & 0x0F) + 1
        extensions[ext_id] = block[i + 1 : i + 1 + length]
        i += 1 + length
    return second >> 7, second & 0x7F, sequence, timestamp, extensions, packet[16 + 4 * words :]


async def test_the_receiver_decodes_frames_and_the_packets_carry_what_was_negotiated():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 10)
        assert (ln.frames[-1].width, ln.frames[-1].height) == (320, 240)
        packets = [parse(p) for p in ln.recorder.rtp]
        ids = ln.sender._extension_ids
        assert PLAYOUT_DELAY in ids and rtp_sender.MID in ids and rtp_sender.ABS_SEND_TIME in ids
        sequences = [p[2] for p in packets]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(sequences))
        for _marker, payload_type, _seq, _timestamp, extensions, _payload in packets:
            assert payload_type == ln.sender._payload_type
            assert extensions[ids[PLAYOUT_DELAY]] == b"\x00\x00\x01"  # min 0, max 10 ms (10 ms units)
            assert extensions[ids[rtp_sender.MID]] == ln.sender._mid
        # The marker ends each frame; a frame's packets share its timestamp, ~3000 ticks (1/30 s) apart.
        ends = [i for i, p in enumerate(packets) if p[0]]
        assert ends[-1] == len(packets) - 1 or not any(p[0] for p in packets[ends[-1] + 1 :])
        for start, end in zip([0, *[e + 1 for e in ends]], ends, strict=False):
            assert len({p[3] for p in packets[start : end + 1]}) == 1
        # Each frame's RTP time is its capture time on the 90 kHz clock.
        origin = ln.sender._timestamp_origin
        captured = [(origin + u.timestamp_us * 90_000 // 1_000_000) & 0xFFFFFFFF for u in ln.sender._source.sent]
        assert [packets[i][3] for i in ends] == captured[: len(ends)]
        first_nal = packets[0][5]
        assert first_nal[0] & 0x1F == STAP_A and first_nal[3] & 0x1F == NAL_SPS  # the IDR's SPS comes first


ROOMY_LINK_BPS = 20_000_000  # an estimate whose retransmission budget is no limit to a few packets


def nack(sender: FastRtpSender, *lost: int) -> RtcpRtpfbPacket:
    return RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=list(lost))


def media(ln: Link) -> list[tuple[float, tuple[int, int, int, int, dict[int, bytes], bytes]]]:
    """(time sent, parsed packet) of the media packets sent so far, retransmissions and padding left out."""
    packets = ((at, parse(p)) for at, p in zip(ln.recorder.at, ln.recorder.rtp, strict=True))
    return [(at, p) for at, p in packets if p[1] == ln.sender._payload_type]


async def test_a_nack_is_answered_by_rtx_from_the_history_and_counted():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 5)
        _, _, lost, timestamp, _, payload = parse(ln.recorder.rtp[-3])
        _, _, other, other_timestamp, _, other_payload = parse(ln.recorder.rtp[-4])
        ln.sender.feedback.remb(ROOMY_LINK_BPS, time.monotonic())
        before = len(ln.recorder.rtp)
        await ln.sender._handle_rtcp_packet(nack(ln.sender, lost, (lost - 5000) & 0xFFFF))
        assert ln.sender.nack_requests == 2 and ln.sender.retransmitted_packets == 1  # the old one is gone
        rtx = next(p for p in ln.recorder.rtp[before:] if parse(p)[1] == ln.sender._rtx_payload_type)
        _, _, _, rtx_timestamp, _, rtx_payload = parse(rtx)
        assert struct.unpack_from("!I", rtx, 8)[0] == ln.sender._rtx_ssrc
        assert rtx_timestamp == timestamp and rtx_payload == struct.pack("!H", lost) + payload
        assert ln.sender.retransmitted_bytes == len(rtx)

        # A viewer without RTX gets the packet again as it was (SRTP allows the repeat).
        ln.sender._rtx_payload_type = None
        before = len(ln.recorder.rtp)
        await ln.sender._handle_rtcp_packet(nack(ln.sender, other))
        assert ln.sender.retransmitted_packets == 2
        again = [parse(p) for p in ln.recorder.rtp[before:] if parse(p)[2] == other]
        assert again and again[0][1] == ln.sender._payload_type and again[0][3:6:2] == (other_timestamp, other_payload)


async def test_a_nack_storm_at_a_700_kbit_estimate_is_answered_within_a_quarter_of_it():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 10)
        sender = ln.sender
        rounds = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.0:  # a viewer asking for the last 2000 packets every 20 ms, for 1 s
            sender.feedback.remb(700_000, time.monotonic())  # the link's estimate (over the receiver's own REMB)
            newest = media(ln)[-1][1][2]
            await sender._handle_rtcp_packet(nack(sender, *((newest - i) & 0xFFFF for i in range(2000))))
            rounds += 1
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
        share = 700_000 * SHARE / 8  # bytes per second
        assert sender.nack_requests == 2000 * rounds
        assert share * elapsed * 0.5 < sender.retransmitted_bytes <= share * (elapsed + DEPTH_S)
        assert sender.nacks_ignored_budget > 0 and sender.nacks_ignored_old > 0  # the history holds more than 1 s


async def test_a_remb_of_any_size_does_not_lift_the_bound():
    """A hostile viewer claims a huge REMB and asks for everything again and again: the budget stays a quarter
    of twice what it is sent."""
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 10)
        sender = ln.sender
        started = time.monotonic()
        sending = []
        while time.monotonic() - started < 1.0:
            sender.feedback.remb(2**60, time.monotonic())
            sending.append(sender.send_rate_bps)
            newest = media(ln)[-1][1][2]
            await sender._handle_rtcp_packet(nack(sender, *((newest - i) & 0xFFFF for i in range(500))))
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
        bound = 2 * max(sending) * SHARE / 8 * (elapsed + DEPTH_S)
        assert 0 < sender.retransmitted_bytes <= bound, (sender.retransmitted_bytes, bound)


async def test_a_nack_repeated_within_the_round_trip_is_answered_once():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 5)
        sender = ln.sender
        lost = media(ln)[-1][1][2]
        sender.feedback.remb(ROOMY_LINK_BPS, time.monotonic())
        sender.feedback.rtt_s = 0.5  # no await below until the NACKs are in: no receiver report changes it
        for _ in range(3):
            await sender._handle_rtcp_packet(nack(sender, lost))
        assert (sender.retransmitted_packets, sender.nacks_ignored_repeat) == (1, 2)
        sender.feedback.rtt_s = 0.0  # a made-up DLSR: the rule's floor still holds
        await sender._handle_rtcp_packet(nack(sender, lost))
        assert (sender.retransmitted_packets, sender.nacks_ignored_repeat) == (1, 3)
        await asyncio.sleep(MIN_RTT_S)
        await sender._handle_rtcp_packet(nack(sender, lost))
        assert (sender.retransmitted_packets, sender.nacks_ignored_repeat) == (2, 3)


async def test_a_nack_for_a_packet_sent_over_a_second_ago_is_not_answered():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 2)
        sent_at, first = media(ln)[0]
        await wait_until(lambda: time.monotonic() > sent_at + MAX_AGE_S + 0.1)
        fresh = media(ln)[-1][1][2]
        await ln.sender._handle_rtcp_packet(nack(ln.sender, first[2], fresh))
        assert (ln.sender.nacks_ignored_old, ln.sender.retransmitted_packets) == (1, 1)


async def test_the_receivers_reports_and_remb_reach_the_link_feedback():
    async with link() as ln:
        sender, feedback = ln.sender, ln.sender.feedback
        # aiortc's receiver reports with LSR/DLSR and sends REMB from abs-send-time, as a browser does.
        await wait_until(lambda: feedback.rtt_s is not None and feedback.remb_bps is not None)
        assert 0 <= feedback.rtt_s < 0.5 and feedback.remb_bps > 0 and feedback.last_report is not None

        sender_report = sender._sender_report()[0]  # as if sent now
        sent_at = time.monotonic()
        await wait_until(lambda: time.monotonic() > sent_at + 0.15)
        lsr = (sender_report.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
        report = RtcpReceiverInfo(
            ssrc=sender._ssrc, fraction_lost=64, packets_lost=3, highest_sequence=0, jitter=4500, lsr=lsr, dlsr=6554
        )  # 25 % lost, 50 ms of jitter, held 100 ms
        await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[report]))
        last = feedback.last_report
        assert last is not None and (last.loss_fraction, last.jitter_s) == (0.25, 0.05)
        assert last.rtt_s is not None and 0.05 - 0.001 < last.rtt_s < 1.0

        def remb(bitrate: int, ssrcs: list[int]) -> RtcpPsfbPacket:
            return RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs))

        await sender._handle_rtcp_packet(remb(650_000, [sender._ssrc]))
        assert feedback.remb_bps == 650_000
        await sender._handle_rtcp_packet(remb(90_000, [sender._ssrc + 1]))  # about another stream
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"junk"))
        assert feedback.remb_bps == 650_000
        assert sender._RTCRtpSender__encoder is None  # aiortc's own REMB handling had nothing to set


async def test_padding_is_rtx_copies_of_the_latest_packets_that_the_receiver_unwraps():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 5)
        sender = ln.sender
        sent = {p[2]: p for _, p in media(ln)}
        newest = max(sent, key=lambda s: (s - sender._sequence) & 0xFFFF)
        before = len(ln.recorder.rtp)
        padded = sender.send_padding(5000)
        packets = ln.recorder.rtp[before:]
        assert 5000 <= padded == sum(len(p) for p in packets) == sender.padding_bytes < 5000 + 1400
        for n, packet in enumerate(packets):
            rtx = RtpPacket.parse(packet)
            assert (rtx.payload_type, rtx.ssrc) == (sender._rtx_payload_type, sender._rtx_ssrc)
            assert rtp_sender.ABS_SEND_TIME in sender._extension_ids and parse(packet)[4]
            original = unwrap_rtx(rtx, sender._payload_type, sender._ssrc)
            assert original.sequence_number == (newest - n) & 0xFFFF  # the latest first, going back
            marker, _, _, timestamp, _, payload = sent[original.sequence_number]
            assert (original.marker, original.timestamp, original.payload) == (marker, timestamp, payload)
        decoded = len(ln.frames)
        await wait_until(lambda: len(ln.frames) >= decoded + 5)  # the receiver dropped the copies and carried on

        sender._rtx_payload_type = None
        assert sender.send_padding(5000) == 0


async def test_the_send_rate_is_the_media_sent_over_the_last_second():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 45)
        await ln.sender._handle_rtcp_packet(nack(ln.sender, media(ln)[-1][1][2]))  # not counted
        rate, now = ln.sender.send_rate_bps, time.monotonic()
        packets = media(ln)
        recent = sum(len(p[5]) for at, p in packets if at >= now - 1.0) * 8
        frames: dict[int, int] = {}
        for _, p in packets:
            frames[p[3]] = frames.get(p[3], 0) + len(p[5]) * 8
        assert recent > 0 and abs(rate - recent) <= max(frames.values())  # a frame on the edge of the second


async def test_a_pli_asks_the_camera_for_a_keyframe():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 2)
        ln.sender._send_keyframe()  # where aiortc's RTCP handling ends for PLI and FIR
        assert ln.keyframe_requests == [1]


async def test_sender_reports_map_ntp_time_to_the_capture_clock():
    async with link() as ln:
        await wait_until(lambda: len(ln.frames) >= 3)
        report = ln.sender._sender_report()[0]
        now_us = monotonic_us()
        unit = ln.sender._source.sent[-1]
        frame_rtp = (ln.sender._timestamp_origin + unit.timestamp_us * 90_000 // 1_000_000) & 0xFFFFFFFF
        elapsed_us = ((report.sender_info.rtp_timestamp - frame_rtp) & 0xFFFFFFFF) / 0.09
        assert abs(elapsed_us - (now_us - unit.timestamp_us)) < 20_000
        assert report.sender_info.packet_count == len(ln.recorder.rtp)


class FakeHub:
    """A VideoHub with one stream, which is itself (no low stream)."""

    class supervisor:  # lower case: stands in for VideoHub.supervisor
        state = "running"

    settings = CameraSettings()
    low = None

    def __init__(self) -> None:
        self._fanout: Fanout = Fanout(gated=True)
        self.main = self

    def stream(self, _name: str) -> FakeHub:
        return self

    def subscribe(self):
        return self._fanout.subscribe(30)

    def unsubscribe(self, queue) -> None:
        self._fanout.unsubscribe(queue)

    def request_keyframe(self) -> None:
        pass


async def test_the_pages_lip_sync_request_switches_the_playout_delay_hint():
    viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer.addTransceiver("video", direction="recvonly")
    await viewer.setLocalDescription(await viewer.createOffer())
    payloads = Payloads.for_hubs()
    session = ViewerSession(FakeHub(), None, payloads, (), lambda _session: None)  # type: ignore[arg-type]
    try:
        await session.answer(viewer.localDescription.sdp, "42c00d", wants_audio=False)
        video = session.senders["video"]
        video._extension_ids = {PLAYOUT_DELAY: 5}
        assert video.playout_delay_ms == rtp_sender.LOW_LATENCY and b"\x52\x00\x00\x01" in video._header_extensions()
        session._on_control_message('{"type": "lip-sync", "enabled": true}')
        assert video.playout_delay_ms == rtp_sender.LIP_SYNC and b"\x52\x00\x00\x64" in video._header_extensions()
        for ignored in ("not json", "[]", '{"type": "other"}', b"\xff"):
            session._on_control_message(ignored)
            assert video.playout_delay_ms == rtp_sender.LIP_SYNC
        session._on_control_message('{"type": "lip-sync", "enabled": false}')
        assert video.playout_delay_ms == rtp_sender.LOW_LATENCY
    finally:
        await session.close()
        await viewer.close()
