"""The RTP payloads that every viewer and publish target shares, and the clock each is timed on."""

from __future__ import annotations

from dataclasses import dataclass

from edge.webrtc.rtp_sender import EncodedMedia, SharedPayloads, h264_payloads, opus_payloads

VIDEO_CLOCK_RATE = 90_000  # H.264 over RTP (RFC 6184)
OPUS_CLOCK_RATE = 48_000  # Opus over RTP (RFC 7587), whatever the sample rate


@dataclass(frozen=True, slots=True)
class Payloads:
    """The hubs' items, packetized once for every peer connection (see ``rtp_sender``)."""

    video: SharedPayloads[EncodedMedia]
    audio: SharedPayloads[EncodedMedia]

    @classmethod
    def for_hubs(cls) -> Payloads:
        """H.264 access units and Opus packets, as the video and audio hubs give them."""
        return cls(video=SharedPayloads(h264_payloads), audio=SharedPayloads(opus_payloads))
