"""RTSP for NVRs and Home Assistant: GStreamer's gst-rtsp-server, fed with the hubs' packets.

GStreamer is imported only when ``[rtsp] enabled = true``: the daemon runs without it
otherwise, and an enabled RTSP server whose GStreamer is missing is one error line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from edge.config import RtspConfig
from edge.media.audio import AudioHub
from edge.media.video import VideoHub
from edge.service import Off

if TYPE_CHECKING:
    from edge.rtsp.server import RtspServer

log = logging.getLogger(__name__)

MISSING = (
    "RTSP is enabled but GStreamer's RTSP server cannot be loaded (%s); install python3-gi, "
    "gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-base, -good and -bad: no RTSP for now"
)


def open_rtsp(
    config: RtspConfig, host: str, video: VideoHub, audio: AudioHub | None, token: str | None
) -> RtspServer | Off:
    """The RTSP server when it is enabled and GStreamer is there; off otherwise (then logged)."""
    if not config.enabled:
        return Off("rtsp")
    try:
        from edge.rtsp.server import RtspServer
    except (ImportError, ValueError) as exc:  # gi.require_version raises ValueError for a missing typelib
        log.error(MISSING, exc)
        return Off("rtsp")
    return RtspServer(config, host, video, audio, token)
