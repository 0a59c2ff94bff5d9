"""Everything we rely on inside aiortc and aioice, in one place.

aiortc has no public hook for four things this daemon needs; each is reached
here, and ``tests/test_aiortc_ext.py`` fails loudly if a new release moves what
we touch. Two larger reaches have sibling modules, guarded by their own tests:
the in-place ICE restart (``ice_restart``) and the RTP sending path, which
packetizes once for every viewer and answers keyframe requests (``rtp_sender``).

1. Honest H.264 negotiation: aiortc only lists Constrained Baseline and Baseline
   at level 3.1. We register the camera's exact ``profile-level-id`` (read from
   its SPS) so the answer describes the stream actually sent.
2. Host candidates: aioice offers every address but loopback. We choose which
   interfaces are offered (a Pi often also has docker0, a VPN, usb0), by the
   rule in ``hw/host_addresses.py`` that the network watch shares.
3. Candidate gathering's wait: aioice waits up to 5 s for STUN and TURN
   servers before the answer can go out. Each viewer's connection waits only
   ``turn_timeout`` (a TURN server that is slow or down must not hold up a LAN
   viewer's first picture).
4. DTLS cipher suites: aiortc offers only ECDHE-ECDSA suites, so a peer whose
   DTLS server has an RSA certificate (GStreamer's webrtcbin, under ``whepsrc``
   and many NVRs) fails with "no shared cipher". We offer RSA suites as well.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import aioice.ice
from aiortc import RTCRtpSender
from aiortc.codecs import CODECS
from aiortc.rtcdtlstransport import RTCCertificate, SRTPProtectionProfile
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecCapability, RTCRtpCodecParameters
from OpenSSL import SSL

from hw.host_addresses import host_addresses

_original_get_host_addresses = aioice.ice.get_host_addresses
_original_create_ssl_context = RTCCertificate._create_ssl_context

# AEAD suites first, for ECDSA peers (browsers, aiortc) and RSA peers (webrtcbin);
# aiortc's own two CBC suites last, so that no peer that worked before is refused.
DTLS_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA",
    )
).encode()


def h264_fmtp(profile_level_id: str) -> dict[str, int | str | None]:
    return {"level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": profile_level_id}


def h264_preferences(profile_level_id: str) -> list[RTCRtpCodecCapability]:
    """Codec preferences for a video transceiver: exactly this H.264 stream, plus RTX.

    Registers the profile in aiortc's codec table the first time it is seen.
    aiortc matches offers by profile (not level), so a browser offering
    ``42e01f`` gets our ``42c028`` (Constrained Baseline, level 4.0) stream.
    """
    parameters = h264_fmtp(profile_level_id.lower())
    video = CODECS["video"]
    if not any(c.mimeType == "video/H264" and c.parameters == parameters for c in video):
        payload_type = max(c.payloadType or 0 for c in video) + 1
        # First in the table: aiortc answers with the first local codec whose
        # profile matches the offer, and only then applies our preferences.
        video[:0] = [
            RTCRtpCodecParameters(
                mimeType="video/H264",
                clockRate=90000,
                payloadType=payload_type,
                rtcpFeedback=[
                    RTCRtcpFeedback(type="nack"),
                    RTCRtcpFeedback(type="nack", parameter="pli"),
                    RTCRtcpFeedback(type="goog-remb"),
                ],
                parameters=parameters,
            ),
            RTCRtpCodecParameters(
                mimeType="video/rtx", clockRate=90000, payloadType=payload_type + 1, parameters={"apt": payload_type}
            ),
        ]
    return [
        RTCRtpCodecCapability(mimeType="video/H264", clockRate=90000, parameters=parameters),
        RTCRtpCodecCapability(mimeType="video/rtx", clockRate=90000),
    ]


def opus_preferences() -> list[RTCRtpCodecCapability]:
    return [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]


def restrict_host_interfaces(interfaces: Iterable[str]) -> None:
    """Offer host candidates only on ``interfaces``; an empty list restores aioice's default.

    Either way the addresses are those of :func:`hw.host_addresses.host_addresses`, which the network
    watch reads too (with no interfaces named it is aioice's own rule; the tests check).
    """
    names = tuple(interfaces)
    if not names:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        by_interface = host_addresses(names, use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        return [address for addresses in by_interface.values() for address in addresses]

    aioice.ice.get_host_addresses = get_host_addresses


def bound_gathering(transport: RTCIceTransport, timeout: float) -> None:
    """Gather for at most ``timeout`` seconds (aioice: 5) on this transport's connection: the STUN and
    TURN servers that answered by then give candidates, the others none. Call before ``setLocalDescription``."""
    connection = transport._connection
    connection.get_component_candidates = functools.partial(  # type: ignore[method-assign]
        connection.get_component_candidates,
        timeout=timeout,  # type: ignore[arg-type]  # annotated int, used as asyncio.wait's float
    )


def offer_dtls_ciphers_for_rsa_peers() -> None:
    """Make every new DTLS association offer :data:`DTLS_CIPHERS` (idempotent).

    As the WHEP answerer the daemon is the DTLS client: its hello must name a
    suite that fits the viewer's certificate, whatever its key type.
    """

    def create_ssl_context(certificate: RTCCertificate, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        context = _original_create_ssl_context(certificate, srtp_profiles)
        context.set_cipher_list(DTLS_CIPHERS)
        return context

    RTCCertificate._create_ssl_context = create_ssl_context  # type: ignore[assignment]
