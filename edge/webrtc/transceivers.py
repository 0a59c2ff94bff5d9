"""Sending a hub's track on a peer connection: our sender, the shared payloads, the codec we really send.

A viewer's session (the answerer) and a publish session (the offerer) add their
tracks differently, then make each aiortc sender a
:class:`~edge.webrtc.rtp_sender.FastRtpSender` the same way, here. The codec
preferences must be set before aiortc picks codecs (``setRemoteDescription``
for an answer, ``createOffer`` for an offer).
"""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver

from edge.webrtc import aiortc_ext
from edge.webrtc.payloads import OPUS_CLOCK_RATE, VIDEO_CLOCK_RATE, Payloads
from edge.webrtc.rtp_sender import FastRtpSender, ItemSource
from edge.webrtc.tracks import HubTrack

# How long an answer or an offer waits for the camera's first SPS, to name its exact H.264 profile.
PROFILE_WAIT_S = 5.0


def transceiver_of(pc: RTCPeerConnection, sender: RTCRtpSender) -> RTCRtpTransceiver:
    return next(t for t in pc.getTransceivers() if t.sender is sender)


def send_video(
    pc: RTCPeerConnection,
    sender: RTCRtpSender,
    track: ItemSource,
    payloads: Payloads,
    profile_level_id: str,
    request_keyframe: Callable[[], None],
) -> FastRtpSender:
    """``sender`` sends the camera's H.264 as it is, described by its exact ``profile_level_id``."""
    fast = FastRtpSender.adopt(sender, track, payloads.video, VIDEO_CLOCK_RATE, request_keyframe)
    transceiver_of(pc, fast).setCodecPreferences(aiortc_ext.h264_preferences(profile_level_id))
    return fast


def send_audio(pc: RTCPeerConnection, sender: RTCRtpSender, track: HubTrack, payloads: Payloads) -> FastRtpSender:
    """``sender`` sends the microphone's Opus packets as they are."""
    fast = FastRtpSender.adopt(sender, track, payloads.audio, OPUS_CLOCK_RATE)
    transceiver_of(pc, fast).setCodecPreferences(aiortc_ext.opus_preferences())
    return fast
