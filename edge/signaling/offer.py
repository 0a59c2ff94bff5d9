"""Checks on a viewer's SDP offer, so that bad input gets a clear one-line 4xx."""

from __future__ import annotations

import re

from aiortc import RTCRtpCodecParameters, sdp

MAX_OFFER_BYTES = 64 * 1024
H264_PROFILES_WE_SEND = ("42",)  # profile_idc 66: Baseline and Constrained Baseline


_SDP_LINE = re.compile(r"^[a-z]=")


# Machine-readable reasons for refusing an offer: sent as the X-Edge-Reason
# header (see whep.py) and counted in the daemon's status.
MALFORMED = "malformed"
NO_VIDEO = "no-video"
WRONG_DIRECTION = "wrong-direction"
NO_H264 = "no-h264"


class OfferError(ValueError):
    """What is wrong with an offer: a one-line message for people, ``code`` for programs."""

    def __init__(self, message: str, code: str = MALFORMED) -> None:
        super().__init__(message)
        self.code = code


def accepted_media(description: sdp.SessionDescription, kind: str) -> list[sdp.MediaDescription]:
    """The offer's sections of ``kind`` that want media.

    Port 0 rejects a section, except in a BUNDLE group: a ``bundle-only`` section
    (RFC 8843; GStreamer's webrtcbin with max-bundle offers audio so) has port 0
    and rides on the group's transport. aiortc's parser drops the ``bundle-only``
    line, so group membership tells.
    """
    bundled = {mid for group in description.group if group.semantic == "BUNDLE" for mid in group.items}
    return [m for m in description.media if m.kind == kind and (m.port != 0 or m.rtp.muxId in bundled)]


def check_offer(text: str) -> sdp.SessionDescription:
    """Parse an offer; raise :class:`OfferError` naming what is wrong with it."""
    if not text.startswith("v=0"):
        raise OfferError("malformed SDP: an offer starts with v=0")
    for number, line in enumerate(text.splitlines(), start=1):
        if line and not _SDP_LINE.match(line):
            raise OfferError(f"malformed SDP: line {number} is not of the form <letter>=<value>")
    try:
        description = sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise OfferError(f"malformed SDP: {exc or type(exc).__name__}") from None
    videos = accepted_media(description, "video")
    if not videos:
        raise OfferError("the offer has no video section: add a recvonly video transceiver", NO_VIDEO)
    video = videos[0]
    if video.direction not in (None, "recvonly", "sendrecv"):
        raise OfferError(
            f"the offer's video is {video.direction}: the camera only sends (use recvonly)", WRONG_DIRECTION
        )
    # aiortc's parser copies session-level ICE and DTLS attributes into each media section.
    if not video.ice or not video.ice.usernameFragment or not video.ice.password:
        raise OfferError("malformed SDP: no ice-ufrag/ice-pwd")
    if not video.dtls or not video.dtls.fingerprints:
        raise OfferError("malformed SDP: no DTLS fingerprint")
    if not any(_is_usable_h264(c) for c in video.rtp.codecs):
        raise OfferError(
            "the offer's video has no H.264 with packetization-mode=1 in Baseline/Constrained Baseline", NO_H264
        )
    return description


def _is_usable_h264(codec: RTCRtpCodecParameters) -> bool:
    if codec.mimeType.lower() != "video/h264":
        return False
    params = codec.parameters
    if str(params.get("packetization-mode", "0")) != "1":
        return False
    profile = str(params.get("profile-level-id", "42e01f")).lower()
    return profile[:2] in H264_PROFILES_WE_SEND
