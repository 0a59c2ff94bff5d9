"""The ONVIF device as a service of the daemon: its SOAP endpoints on the HTTP server, its
pull points, and WS-Discovery while it runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from edge.config import Config
from edge.media.video import VideoHub
from edge.onvif.auth import OnvifAuth
from edge.onvif.device import DEVICE_PATH, EVENTS_PATH, MEDIA_PATH, DeviceService
from edge.onvif.discovery import Discovery
from edge.onvif.endpoint import SoapEndpoint
from edge.onvif.event_service import SUBSCRIPTION_PATH, EventService
from edge.onvif.events import PullPoints, utc_now
from edge.onvif.identity import Identity
from edge.onvif.instance_id import next_instance_id
from edge.onvif.media import VIDEO_SOURCE_CONFIGURATION_TOKEN, MediaService, Rtsp
from edge.onvif.status import DiscoveryState, OnvifState, OnvifStatus
from edge.triggers.source import TriggerSource

log = logging.getLogger(__name__)


class OnvifServer:
    name = "onvif"

    def __init__(
        self,
        config: Config,
        identity: Identity,
        video: VideoHub,
        triggers: TriggerSource,
        audio: bool,
        rtsp: Callable[[], Rtsp],
        http_port: Callable[[], int | None],
        token: str | None,
    ) -> None:
        self._auth = OnvifAuth(token)
        most = config.onvif.max_subscriptions
        self.pull_points = PullPoints(triggers, most, video_source_token=VIDEO_SOURCE_CONFIGURATION_TOKEN)
        events = EventService(self.pull_points, most, utc_now)
        self._device = SoapEndpoint(DeviceService(identity, config.server.host, most).operations(), self._auth)
        low = None if video.low is None else video.low.settings
        self._media = SoapEndpoint(MediaService(video.settings, low, audio, rtsp).operations(), self._auth)
        self._events = SoapEndpoint(events.operations(), self._auth)
        self._subscription = SoapEndpoint(events.subscription_operations(), self._auth)
        scheme = "https" if config.server.https else "http"
        self._discovery = (
            Discovery(identity, config.server.host, scheme, http_port, next_instance_id(config.server.state_path))
            if config.onvif.discovery
            else None
        )
        self._rtsp = rtsp
        self.state = OnvifState.STOPPED

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(DEVICE_PATH, self._device.handle)
        app.router.add_post(MEDIA_PATH, self._media.handle)
        app.router.add_post(EVENTS_PATH, self._events.handle)
        app.router.add_post(SUBSCRIPTION_PATH + "{subscription}", self._subscription.handle)

    async def start(self) -> None:
        self.pull_points.start()
        self.state = OnvifState.SERVING
        rtsp = self._rtsp()
        if rtsp.port is None:
            log.warning("ONVIF: there is no RTSP stream to offer clients (%s)", rtsp.reason)
        access = "open to anyone: access control is off" if self._auth.open else "user edge, the access token"
        log.info("ONVIF device service at %s on the HTTP port (%s)", DEVICE_PATH, access)
        if self._discovery is not None:
            await self._discovery.start()

    async def stop(self) -> None:
        if self._discovery is not None:
            await self._discovery.stop()
        self.pull_points.stop()
        self.state = OnvifState.STOPPED

    def status(self) -> OnvifStatus:
        discovery = self._discovery
        return {
            "state": self.state,
            "discovery": DiscoveryState.OFF if discovery is None else discovery.state,
            "discovery_addresses": [] if discovery is None else list(discovery.addresses),
            "subscriptions": self.pull_points.count(),
        }
