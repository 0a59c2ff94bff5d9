"""Sending RTP to many viewers at the cost of one: packetize once, write a header per viewer.

aiortc's sender packetizes every access unit again for every viewer and builds,
serializes and sends each RTP packet through several Python layers. Here the
payloads of an access unit (RFC 6184 single NAL / STAP-A / FU-A, by aiortc's own
packetizer) or of an Opus packet are made once and shared by every viewer
(:class:`SharedPayloads`); per viewer only the 12-byte header and the header
extensions are written, then the packet is protected with the viewer's SRTP
session and handed straight to the socket of the selected ICE pair, a frame's
packets in a few system calls where the kernel can segment UDP (``udp_batch``).

:class:`FastRtpSender` takes over an aiortc ``RTCRtpSender`` (its class is
swapped right after ``addTrack``, before aiortc starts it) and replaces exactly
its sending side, keeping everything else of aiortc: negotiation, DTLS/SRTP
keys, ICE, RTCP parsing. What it does itself:

- RTP with the negotiated header extensions: ``mid``, ``abs-send-time`` (the
  browser's bandwidth estimate uses it) and ``playout-delay``: min 0 / max
  10 ms puts Chromium in its low-latency renderer, which shows each frame as
  soon as it is decoded; a viewer that listens asks for lip sync instead
  (:attr:`FastRtpSender.playout_delay_ms`), which lets the browser hold video
  back until the sound has caught up.
- NACK: answered from a bounded per-viewer history that only references the
  shared payloads (RTX when negotiated), within what the viewer's link carries
  (``retransmission``: not too old, once per round trip, from a budget), counted
  for the metrics.
- What the viewer reports about its link (receiver reports, REMB) is kept in
  :attr:`FastRtpSender.feedback` (``link_feedback``) for the viewer's quality
  policy, which can also probe the link with :meth:`FastRtpSender.send_padding`.
- PLI/FIR: ask the camera for an IDR (one IDR serves every viewer).
- RTCP sender reports that map NTP time to the RTP clock exactly: both media
  are timestamped with their capture times on one clock, so the browser can
  line up audio and video to the sample (aiortc pairs the last send time with
  the last RTP timestamp, which folds encode and queueing delay into A/V sync).

Everything reached inside aiortc (the sender's private events and counters, the
DTLS transport's SRTP session, aioice's selected pair, the H.264 packetizer) is
named in :data:`AIORTC_INTERNALS` and checked by ``tests/test_rtp_sender.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from aiortc import RTCRtpSender
from aiortc.codecs import HEADER_EXTENSIONS, is_rtx
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)

from edge.webrtc.link_feedback import LinkFeedback
from edge.webrtc.peer_state import DtlsState
from edge.webrtc.retransmission import MIN_RTT_S, NEVER, UNKNOWN_RTT_S, RetransmissionGate
from edge.webrtc.udp_batch import DatagramBatcher
from hw.clock import monotonic_us

log = logging.getLogger(__name__)

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
PLAYOUT_DELAY = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

# What this module relies on inside aiortc/aioice (checked by the tests).
AIORTC_INTERNALS = (
    "RTCRtpSender._run_rtp",
    "RTCRtpSender._run_rtcp",
    "RTCRtpSender._send_keyframe",
    "RTCRtpSender._handle_rtcp_packet (wrapped: NACKs answered here, reports and REMB read, the rest passed on)",
    "RTCRtpSender.__encoder (stays None, so that aiortc's own REMB handling sets no encoder's bitrate)",
    "RTCRtpSender.__rtp_started / __rtp_exited / __rtcp_started / __rtcp_exited",
    "RTCRtpSender.__lsr / __lsr_time / __packet_count / __octet_count",
    "RTCDtlsTransport._tx_srtp",
    "RTCIceTransport._connection (aioice.Connection._nominated)",
    "H264Encoder._split_bitstream / _packetize",
)

# Packets kept per viewer for retransmission: references to shared payloads,
# so ~2 s of 1080p at 4 Mbit/s costs a few kilobytes per viewer, not megabytes.
HISTORY_SIZE = 1024
SEND_RATE_WINDOW_S = 1.0  # send_rate_bps: media sent over this long
# playout-delay (min, max) in ms. LOW_LATENCY: Chromium's low-latency renderer (min 0, max <= 500 ms) shows
# frames as they come, paced to the display, and a 10 ms ceiling keeps its jitter buffer from growing (with
# 100 ms it grew to ~20 ms within 20 s): capture to expected display p50 12-16 ms, p95 12-17 ms (bench.live).
# Not (0, 0): that hands every frame to the compositor at once, and its display then comes 1-2 frames later
# (p50 30-48 ms in most runs). LIP_SYNC: room for the browser to hold video back until the sound catches up.
LOW_LATENCY = (0, 10)
LIP_SYNC = (0, 1000)
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
_RTP_HEADER = struct.Struct("!BBHII")
_RTX_OSN = struct.Struct("!H")
_RTP_HEADER_SIZE = _RTP_HEADER.size


@dataclass(frozen=True, slots=True)
class RtpFrame:
    """One access unit or audio packet as RTP payloads, shared by every viewer."""

    payloads: tuple[bytes, ...]
    timestamp_us: int  # capture time on the monotonic clock


class EncodedMedia(Protocol):
    """A hub's item as the sender takes it: an H.264 access unit or an Opus packet."""

    @property
    def data(self) -> bytes: ...
    @property
    def timestamp_us(self) -> int: ...
    @property
    def keyframe(self) -> bool: ...


M = TypeVar("M", bound=EncodedMedia)


def h264_payloads(access_unit: bytes) -> tuple[bytes, ...]:
    """RFC 6184 payloads (packetization-mode 1) of an Annex-B access unit, by aiortc's packetizer."""
    return tuple(H264Encoder._packetize(H264Encoder._split_bitstream(access_unit)))


def opus_payloads(packet: bytes) -> tuple[bytes, ...]:
    return (packet,)  # RFC 7587: one Opus packet per RTP packet


class SharedPayloads(Generic[M]):
    """Packetizes each item once, however many viewers send it.

    Viewers take the same items from the hub in the same loop iteration, so a
    few recent results are enough; a viewer that lags behind further still gets
    correct payloads, made again for it.
    """

    def __init__(self, packetize: Callable[[bytes], tuple[bytes, ...]], keep: int = 8) -> None:
        self._packetize = packetize
        self._keep = keep
        self._recent: list[tuple[M, RtpFrame]] = []
        self.packetized = 0

    def frame(self, item: M) -> RtpFrame:
        for known, frame in self._recent:
            if known is item:
                return frame
        frame = RtpFrame(self._packetize(item.data), item.timestamp_us)
        self.packetized += 1
        self._recent.append((item, frame))
        if len(self._recent) > self._keep:
            del self._recent[0]
        return frame


class ItemSource(Protocol):
    async def recv(self) -> EncodedMedia: ...


def offer_playout_delay() -> None:
    """Let aiortc accept the playout-delay extension in video offers (idempotent)."""
    video = HEADER_EXTENSIONS["video"]
    if not any(e.uri == PLAYOUT_DELAY for e in video):
        video.append(RTCRtpHeaderExtensionParameters(id=max(e.id for e in video) + 1, uri=PLAYOUT_DELAY))


def ntp_time() -> tuple[float, int]:
    """Now as Unix seconds and as a 64-bit NTP timestamp."""
    now = time.time()
    return now, int((now + NTP_EPOCH_OFFSET) * (1 << 32))


class FastRtpSender(RTCRtpSender):
    """An aiortc sender whose RTP, retransmissions and sender reports are ours (see the module doc).

    Never constructed: :func:`adopt` turns the sender aiortc made into one.
    """

    _source: ItemSource
    _payloads: SharedPayloads[EncodedMedia]
    _clock_rate: int
    _on_keyframe_request: Callable[[], None]
    _timestamp_origin: int
    _sequence: int
    _rtx_sequence: int
    # By sequence number modulo HISTORY_SIZE: (sequence, timestamp, marker, payload, first sent, last resent),
    # the times on time.monotonic().
    _history: list[tuple[int, int, int, bytes, float, float] | None]
    _sent: deque[tuple[float, int]]  # (time.monotonic(), payload bytes) of each frame sent, for send_rate_bps
    _retransmissions: RetransmissionGate
    _keyframe_sent_at: float  # time.monotonic() the last video keyframe went out
    _payload_type: int
    _rtx_payload_type: int | None
    _extension_ids: dict[str, int]
    _mid: bytes
    _cname: str
    _batcher: DatagramBatcher | None
    playout_delay_ms: tuple[int, int]  # sent as the playout-delay extension, when negotiated
    feedback: LinkFeedback  # what the viewer reports about its link
    retransmitted_packets: int
    retransmitted_bytes: int  # RTP packets (header included) sent again on a NACK
    padding_bytes: int  # RTP packets (header included) sent by send_padding
    last_rtcp_at: float | None  # time.monotonic() of the receiver's last RTCP for this stream
    # aiortc's own private state, which its stop(), getStats() and RTT estimate read:
    _RTCRtpSender__rtp_started: asyncio.Event
    _RTCRtpSender__rtp_exited: asyncio.Event
    _RTCRtpSender__rtcp_started: asyncio.Event
    _RTCRtpSender__rtcp_exited: asyncio.Event
    _RTCRtpSender__lsr: int | None
    _RTCRtpSender__lsr_time: float | None
    _RTCRtpSender__packet_count: int
    _RTCRtpSender__octet_count: int
    _RTCRtpSender__encoder: object  # None: aiortc makes it in the _run_rtp we replace

    @classmethod
    def adopt(
        cls,
        sender: RTCRtpSender,
        source: ItemSource,
        payloads: SharedPayloads[EncodedMedia],
        clock_rate: int,
        on_keyframe_request: Callable[[], None] = lambda: None,
    ) -> FastRtpSender:
        sender.__class__ = cls
        assert isinstance(sender, FastRtpSender)
        sender._source = source
        sender._payloads = payloads
        sender._clock_rate = clock_rate
        sender._on_keyframe_request = on_keyframe_request
        sender._timestamp_origin = random.getrandbits(32)
        sender._sequence = random.getrandbits(15)  # the lower half: no early wrap (SRTP index guessing)
        sender._rtx_sequence = random.getrandbits(15)
        sender._history = [None] * HISTORY_SIZE
        sender._sent = deque(maxlen=256)  # a second of frames at up to 256 frames/s
        sender._retransmissions = RetransmissionGate()
        sender._keyframe_sent_at = NEVER
        sender._payload_type = 0
        sender._rtx_payload_type = None
        sender._extension_ids = {}
        sender._mid = b""
        sender._cname = ""
        sender._batcher = None
        sender.playout_delay_ms = LOW_LATENCY
        sender.feedback = LinkFeedback(clock_rate)
        sender.retransmitted_packets = 0
        sender.retransmitted_bytes = 0
        sender.padding_bytes = 0
        sender.last_rtcp_at = None
        return sender

    @property
    def bytes_sent(self) -> int:
        """RTP payload bytes sent (what the sender reports count)."""
        return self._RTCRtpSender__octet_count

    @property
    def send_rate_bps(self) -> float:
        """Media (RTP payload) bits sent over the last :data:`SEND_RATE_WINDOW_S`, per second; not retransmissions."""
        since = time.monotonic() - SEND_RATE_WINDOW_S
        octets = 0
        for at, size in reversed(self._sent):
            if at < since:
                break
            octets += size
        return octets * 8 / SEND_RATE_WINDOW_S

    @property
    def nack_requests(self) -> int:
        """Sequence numbers the viewer asked for again."""
        return self.feedback.nacked_packets

    @property
    def nacks_ignored_old(self) -> int:
        return self._retransmissions.ignored_old

    @property
    def nacks_ignored_repeat(self) -> int:
        return self._retransmissions.ignored_repeat

    @property
    def nacks_ignored_budget(self) -> int:
        return self._retransmissions.ignored_budget

    @property
    def pads(self) -> bool:
        """Whether :meth:`send_padding` can send anything (RTX was negotiated)."""
        return self._rtx_payload_type is not None

    def send_padding(self, nbytes: int) -> int:
        """Probe the link: send about ``nbytes`` (RTP packets, header included) of RTX copies of the latest media
        packets, which the viewer drops as duplicates but counts in its bandwidth estimate (REMB, from their
        abs-send-time). Returns the bytes sent: 0 without RTX negotiated or without a path this moment."""
        if self._rtx_payload_type is None or nbytes <= 0 or self.transport.state != DtlsState.CONNECTED:
            return 0
        path = self._path()
        if path is None:
            return 0
        extensions = self._header_extensions()
        packets = []
        sent = 0
        history = self._history
        sequence = self._sequence
        for _ in range(HISTORY_SIZE):
            sequence = (sequence - 1) & 0xFFFF
            kept = history[sequence % HISTORY_SIZE]
            if kept is None or kept[0] != sequence:
                break
            packet = self._rtx_packet(kept, extensions)
            packets.append(packet)
            sent += len(packet)
            if sent >= nbytes:
                break
        if packets:
            self._send_protected(path, packets)
        self.padding_bytes += sent
        return sent

    # --- aiortc's entry points -----------------------------------------------------

    async def send(self, parameters: RTCRtpSendParameters) -> None:
        codec = parameters.codecs[0]
        self._payload_type = codec.payloadType or 0
        self._rtx_payload_type = next(
            (c.payloadType for c in parameters.codecs if is_rtx(c) and c.parameters.get("apt") == codec.payloadType),
            None,
        )
        self._extension_ids = {e.uri: e.id for e in parameters.headerExtensions}
        self._mid = (parameters.muxId or "").encode()
        self._cname = parameters.rtcp.cname or ""
        await super().send(parameters)

    def _send_keyframe(self) -> None:
        self._on_keyframe_request()

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        # Receivers report about once a second: when they stop, the far end is gone
        # (long before ICE consent fails, which takes aiortc ~30 s).
        now = self.last_rtcp_at = time.monotonic()
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self._answer_nack(packet.lost, now)
            return  # aiortc's own answer would retransmit each one separately, without the rules
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for block in packet.reports:
                if block.ssrc == self._ssrc:
                    report = self.feedback.receiver_report(block, now)
                    log.debug(
                        "%s %08x: receiver report %s (lost %d)", self.kind, self._ssrc, report, block.fraction_lost
                    )
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                pass
            else:
                if self._ssrc in ssrcs:
                    self.feedback.remb(bitrate, now)
                    log.debug("%s %08x: REMB %d bit/s for %d streams", self.kind, self._ssrc, bitrate, len(ssrcs))
        await super()._handle_rtcp_packet(packet)

    async def _run_rtp(self, codec: object) -> None:
        self._RTCRtpSender__rtp_started.set()
        try:
            while True:
                item = await self._source.recv()
                if self._enabled:
                    self._send_frame(self._payloads.frame(item), self.kind == "video" and item.keyframe)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:
            log.exception("%s sender stopped", self.kind)
        if self.track is not None:
            self.track.stop()
        if self._batcher is not None:
            self._batcher.close()
        self._RTCRtpSender__rtp_exited.set()

    async def _run_rtcp(self) -> None:
        self._RTCRtpSender__rtcp_started.set()
        try:
            while True:
                await asyncio.sleep(0.5 + random.random())  # RFC 3550: 0.5 to 1.5 times the interval
                await self._send_rtcp(self._sender_report())
        except asyncio.CancelledError:
            pass
        await self._send_rtcp([RtcpByePacket(sources=[self._ssrc])])
        self._RTCRtpSender__rtcp_exited.set()

    # --- ours ------------------------------------------------------------------------

    def _send_frame(self, frame: RtpFrame, keyframe: bool = False) -> None:
        path = self._path()
        if path is None:
            return  # no selected pair this moment (an ICE restart): the viewer will NACK or ask for an IDR
        now = time.monotonic()
        if keyframe:
            self._keyframe_sent_at = now  # what was sent before it is no use to the viewer any more
        protect = self.transport._tx_srtp.protect
        timestamp = (self._timestamp_origin + frame.timestamp_us * self._clock_rate // 1_000_000) & 0xFFFFFFFF
        extensions = self._header_extensions()
        last = len(frame.payloads) - 1
        marks = self.kind == "video"
        history = self._history
        sequence = self._sequence
        packets = []
        octets = 0
        for index, payload in enumerate(frame.payloads):
            marker = 1 if marks and index == last else 0
            packets.append(
                protect(
                    self._header(self._payload_type, marker, sequence, timestamp, self._ssrc) + extensions + payload
                )
            )
            history[sequence % HISTORY_SIZE] = (sequence, timestamp, marker, payload, now, NEVER)
            sequence = (sequence + 1) & 0xFFFF
            octets += len(payload)
        path.send(packets)
        self._sent.append((now, octets))
        self._sequence = sequence
        self._RTCRtpSender__packet_count += len(frame.payloads)
        self._RTCRtpSender__octet_count += octets

    def _answer_nack(self, lost: list[int], now: float) -> None:
        """Send again what the rules let through (``retransmission``), in one batch."""
        feedback = self.feedback
        feedback.nacked_packets += len(lost)
        path = self._path()
        if path is None:
            return  # no selected pair this moment: the viewer will ask again
        gate = self._retransmissions
        # The viewer's word for its link, but never more than twice what it is sent: a REMB of any size (a hostile
        # peer's) must not lift the bound, nor a tiny round trip (a made-up DLSR) the once-per-RTT rule.
        sending = self.send_rate_bps
        gate.refill(sending if feedback.remb_bps is None else min(feedback.remb_bps, 2 * sending), now)
        rtt = UNKNOWN_RTT_S if feedback.rtt_s is None else max(MIN_RTT_S, feedback.rtt_s)
        extensions = self._header_extensions()
        overhead = _RTP_HEADER_SIZE + len(extensions) + (_RTX_OSN.size if self._rtx_payload_type is not None else 0)
        history = self._history
        packets = []
        for sequence in lost:
            sequence &= 0xFFFF  # aiortc's NACK parser does not wrap the numbers after 65535
            index = sequence % HISTORY_SIZE
            kept = history[index]
            if kept is None or kept[0] != sequence:
                continue  # long gone (or never sent)
            if gate.admit(overhead + len(kept[3]), kept[4], kept[5], now, rtt, self._keyframe_sent_at):
                history[index] = (*kept[:5], now)
                packets.append(self._rtx_packet(kept, extensions))
        if packets:
            self._send_protected(path, packets)
            self.retransmitted_packets += len(packets)
            self.retransmitted_bytes += sum(len(p) for p in packets)

    def _rtx_packet(self, kept: tuple[int, int, int, bytes, float, float], extensions: bytes) -> bytes:
        """A history entry sent again: on the RTX stream if negotiated, else as it was (SRTP allows the repeat)."""
        sequence, timestamp, marker, payload = kept[:4]
        if self._rtx_payload_type is None:
            return self._header(self._payload_type, marker, sequence, timestamp, self._ssrc) + extensions + payload
        header = self._header(self._rtx_payload_type, marker, self._rtx_sequence, timestamp, self._rtx_ssrc)
        self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        return header + extensions + _RTX_OSN.pack(sequence) + payload

    def _send_protected(self, path: DatagramBatcher, packets: list[bytes]) -> None:
        protect = self.transport._tx_srtp.protect
        path.send([protect(packet) for packet in packets])

    def _path(self) -> DatagramBatcher | None:
        """The selected ICE pair's socket and address (None when there is none this moment)."""
        if self.transport.state != DtlsState.CONNECTED:
            raise ConnectionError("DTLS is not connected")
        pair = self.transport.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            return None
        batcher = self._batcher
        if batcher is None or batcher.transport is not pair.protocol.transport or batcher.address != pair.remote_addr:
            if batcher is not None:
                batcher.close()
            batcher = self._batcher = DatagramBatcher(pair.protocol.transport, pair.remote_addr)
        return batcher

    @staticmethod
    def _header(payload_type: int, marker: int, sequence: int, timestamp: int, ssrc: int) -> bytes:
        return _RTP_HEADER.pack(0x90, marker << 7 | payload_type, sequence, timestamp, ssrc)

    def _header_extensions(self) -> bytes:
        """The RFC 8285 one-byte header extensions, this moment's abs-send-time included."""
        ids = self._extension_ids
        elements = b""
        if self._mid and MID in ids:
            elements += bytes([ids[MID] << 4 | (len(self._mid) - 1)]) + self._mid
        if ABS_SEND_TIME in ids:
            abs_send_time = int((time.time() + NTP_EPOCH_OFFSET) * (1 << 18)) & 0xFFFFFF
            elements += bytes([ids[ABS_SEND_TIME] << 4 | 2]) + abs_send_time.to_bytes(3, "big")
        if PLAYOUT_DELAY in ids:
            low, high = (ms // 10 for ms in self.playout_delay_ms)  # 12 bits each, in 10 ms units
            elements += bytes([ids[PLAYOUT_DELAY] << 4 | 2]) + (low << 12 | high).to_bytes(3, "big")
        elements += b"\x00" * (-len(elements) % 4)
        return b"\xbe\xde" + struct.pack("!H", len(elements) // 4) + elements

    def _sender_report(self) -> list[AnyRtcpPacket]:
        unix_now, ntp_now = ntp_time()
        rtp_now = (self._timestamp_origin + monotonic_us() * self._clock_rate // 1_000_000) & 0xFFFFFFFF
        self._RTCRtpSender__lsr = (ntp_now >> 16) & 0xFFFFFFFF
        self._RTCRtpSender__lsr_time = unix_now
        self.feedback.sender_report_sent(ntp_now, time.monotonic())
        report = RtcpSrPacket(
            ssrc=self._ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp_now,
                rtp_timestamp=rtp_now,
                packet_count=self._RTCRtpSender__packet_count & 0xFFFFFFFF,
                octet_count=self._RTCRtpSender__octet_count & 0xFFFFFFFF,
            ),
        )
        sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=self._ssrc, items=[(1, self._cname.encode())])])
        return [report, sdes]
