"""ONVIF Profile S: the device, media and events services Home Assistant and NVRs find and use.

Loaded only when ``[onvif] enabled = true``: a daemon without ONVIF starts without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from edge.config import Config
from edge.media.video import VideoHub
from edge.service import Off
from edge.triggers.source import TriggerSource

if TYPE_CHECKING:
    from edge.onvif.media import Rtsp
    from edge.onvif.server import OnvifServer


class OnvifOff(Off):
    """ONVIF left off: no routes."""

    def add_routes(self, app: web.Application) -> None:
        pass


def open_onvif(
    config: Config,
    video: VideoHub,
    triggers: TriggerSource,
    microphone: bool,
    rtsp_status: Callable[[], Mapping[str, object]],
    http_port: Callable[[], int | None],
    token: str | None,
) -> OnvifServer | OnvifOff:
    """The ONVIF device when ``[onvif] enabled``; off otherwise.

    A profile per stream of ``video``'s; with sound when RTSP sends AAC: ONVIF's media service (ver10) names no Opus.
    """
    if not config.onvif.enabled:
        return OnvifOff("onvif")
    from edge.onvif.identity import read_identity
    from edge.onvif.media import rtsp_from_status
    from edge.onvif.server import OnvifServer

    def rtsp() -> Rtsp:
        return rtsp_from_status(rtsp_status())

    aac = microphone and config.rtsp.audio == "aac"
    return OnvifServer(config, read_identity(aac), video, triggers, aac, rtsp, http_port, token)
