"""The daemon: builds every part from the config and the hardware, and runs them as services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import threading
from enum import StrEnum
from typing import TypedDict

from aiohttp import web

from edge import __version__, systemd
from edge.api import metrics as metrics_api
from edge.api import recordings as recordings_api
from edge.api import simulation
from edge.api import snapshot as snapshot_api
from edge.config import Config
from edge.hardware import Hardware
from edge.media.audio import AudioHub, MicrophoneStatus, NoMicrophone
from edge.media.snapshot import Snapshots, SnapshotsStatus
from edge.media.supervisor import SourceState
from edge.media.video import CameraStatus, VideoHub
from edge.mqtt import open_mqtt
from edge.mqtt.status import Audience, MqttStatus
from edge.network_follower import follow_network
from edge.onvif import open_onvif
from edge.onvif.status import OnvifStatus
from edge.publish.target import ON_AIR, PublishState, PublishTargetStatus
from edge.publish.targets import PublishTargets
from edge.recording.factory import build_recorder
from edge.recording.recorder import RecorderStatus, StorageState
from edge.rtsp import open_rtsp
from edge.rtsp.status import RtspState, RtspStatus
from edge.security import token as access_token
from edge.security.auth import Authenticator, add_auth
from edge.security.headers import add_security_headers
from edge.security.origin import add_request_checks, request_checks
from edge.service import Off, OffState, OffStatus, Service, start_all, stop_all
from edge.signaling import whep
from edge.signaling.refusals import RefusedOffers, RefusedOffersStatus
from edge.triggers.gpio import GpioStatus
from edge.triggers.motion import MotionOffStatus, MotionStatus
from edge.web import routes
from edge.web.forwarded import TrustedProxies, add_forwarded
from edge.web.server import WebServer
from edge.webrtc import aiortc_ext, rtp_sender
from edge.webrtc.session import SessionStatus
from edge.webrtc.turn_check import TurnState, TurnStatus
from edge.webrtc.viewers import Viewers
from hw.network_watch import NetworkWatchStatus

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # a part does not work: camera, microphone, storage, GPIO, a publish target, TURN, RTSP


class ProcessStatus(TypedDict):
    tasks: int
    threads: int
    fds: int | None
    rss_mib: float


class DaemonStatus(TypedDict):
    status: Health
    version: str
    simulated: bool
    camera: CameraStatus
    microphone: MicrophoneStatus
    viewers: int
    sessions: list[SessionStatus]
    refused_offers: RefusedOffersStatus
    snapshots: SnapshotsStatus
    network: NetworkWatchStatus | OffStatus
    process: ProcessStatus
    recording: RecorderStatus
    gpio: GpioStatus
    motion: MotionStatus | MotionOffStatus
    mqtt: MqttStatus | OffStatus
    rtsp: RtspStatus | OffStatus
    onvif: OnvifStatus | OffStatus
    publish: list[PublishTargetStatus]
    turn: TurnStatus


class PublicCameraStatus(TypedDict):
    backend: str
    state: SourceState
    width: int
    height: int
    framerate: int


class PublicMicrophoneStatus(TypedDict):
    backend: str
    state: SourceState | OffState


class PublicSessionStatus(TypedDict):
    restarts: int
    recoveries: int
    last_recovery_s: float | None


class PublicStatus(TypedDict):
    """``/healthz``: anyone may read it."""

    status: Health
    version: str
    camera: PublicCameraStatus
    microphone: PublicMicrophoneStatus
    storage: StorageState
    viewers: int
    sessions: list[PublicSessionStatus]


def process_status() -> ProcessStatus:
    """Resource use, to spot leaks from outside (tests compare it over 500 sessions)."""
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as f:
        rss_kib = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return {
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "fds": fds,
        "rss_mib": round(rss_kib / 1024, 1),
    }


class Daemon:
    def __init__(self, config: Config, hardware: Hardware) -> None:
        self.config = config
        self.hardware = hardware
        self.token_created = False
        self.token = self._resolve_token() if config.auth.enabled else None
        self.video = VideoHub(hardware.camera)
        audio = AudioHub(hardware.microphone, config.microphone.bitrate) if hardware.microphone else None
        self.microphone: AudioHub | NoMicrophone = audio or NoMicrophone()
        self.viewers = Viewers(self.video, audio, config.webrtc)
        self.publish = PublishTargets(
            config.publish, self.video, audio, self.viewers.payloads, config.server.state_path / "publish"
        )
        self.refused_offers = RefusedOffers()
        self.snapshots = Snapshots(self.video)
        self.network = follow_network(
            config.network, config.webrtc.interfaces, (self.viewers.network_changed, self.publish.network_changed)
        )
        self.recorder, self.triggers = build_recorder(
            config,
            self.video,
            audio,
            hardware.camera,
            hardware.gpio,
            gpio_simulated=hardware.simulated_devices.gpio is not None,
        )
        self.triggers.add_listener(self.viewers.trigger_changed)
        self.mqtt = open_mqtt(
            config.mqtt,
            self.recorder,
            self.triggers,
            {trigger.name: trigger.device_class for trigger in config.triggers},
            self.audience,
            self.snapshots,
            lambda: self.web.urls()[0],
        )
        self.rtsp = open_rtsp(config.rtsp, config.server.host, self.video, audio, self.token)
        self.onvif = open_onvif(
            config, self.video, self.triggers, audio is not None, self.rtsp.status, lambda: self.web.port, self.token
        )
        self.web = WebServer(config.server, self.make_app)
        # Started in this order, each after what it needs; stopped in reverse, within the
        # 4.5 s that systemd is promised (serve()), so what must happen on a clean stop comes
        # last: the recorder (an open clip gets its index before anything else goes), then
        # MQTT (says "offline": a clean stop sends no will), then the publish targets (each
        # DELETEs its session). Motion comes before the camera: a Pi's camera sets its small
        # luma stream up as it starts.
        self.services: list[Service] = [
            self.triggers.motion,
            self.video,
            self.microphone,
            self.triggers.gpio,
            self.viewers.turn,
            self.viewers,
            self.network,
            self.web,
            self.rtsp,
            self.onvif,
            self.publish,
            self.mqtt,
            self.recorder,
        ]
        self._logouts: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int | None:
        return self.web.port

    def _resolve_token(self) -> str:
        if self.config.auth.token:
            return self.config.auth.token
        token, self.token_created = access_token.load_or_create_token(self.config.server.state_path)
        return token

    def audience(self) -> Audience:
        return {
            "webrtc": len(self.viewers),
            "rtsp": 0 if isinstance(self.rtsp, Off) else self.rtsp.clients,
            "publish": sum(t["state"] in ON_AIR for t in self.publish.status()),
        }

    def status(self) -> DaemonStatus:
        camera = self.video.status()
        microphone = self.microphone.status()
        degraded = (
            camera["state"] != SourceState.RUNNING
            or microphone["state"] not in (SourceState.RUNNING, OffState.OFF)
            or self.recorder.storage != StorageState.OK
            or any(t["state"] in (PublishState.RETRYING, PublishState.REFUSED) for t in self.publish.status())
            or self.viewers.turn.state in (TurnState.UNREACHABLE, TurnState.REFUSED)
            or self.rtsp.status()["state"] == RtspState.FAILED
            or self.triggers.gpio.status()["last_error"] is not None
        )
        return {
            "status": Health.DEGRADED if degraded else Health.OK,
            "version": __version__,
            "simulated": self.hardware.simulated,
            "camera": camera,
            "microphone": microphone,
            "viewers": len(self.viewers),
            "sessions": self.viewers.status(),
            "refused_offers": self.refused_offers.status(),
            "snapshots": self.snapshots.status(),
            "network": self.network.status(),
            "process": process_status(),
            "recording": self.recorder.status(),
            "gpio": self.triggers.gpio.status(),
            "motion": self.triggers.motion.status(),
            "mqtt": self.mqtt.status(),
            "rtsp": self.rtsp.status(),
            "onvif": self.onvif.status(),
            "publish": self.publish.status(),
            "turn": self.viewers.turn.status(),
        }

    def public_status(self) -> PublicStatus:
        """What ``/healthz`` shows anyone: is it working. Nothing about who or what is seen."""
        full = self.status()
        camera, microphone = full["camera"], full["microphone"]
        return {
            "status": full["status"],
            "version": full["version"],
            "camera": {
                "backend": camera["backend"],
                "state": camera["state"],
                "width": camera["width"],
                "height": camera["height"],
                "framerate": camera["framerate"],
            },
            "microphone": {"backend": microphone["backend"], "state": microphone["state"]},
            "storage": full["recording"]["storage"]["state"],
            "viewers": full["viewers"],
            # How viewers' paths held up (ICE restarts): figures only, no ids or addresses.
            "sessions": [
                {
                    "restarts": session["ice"]["restarts"],
                    "recoveries": session["ice"]["recoveries"],
                    "last_recovery_s": session["ice"]["last_recovery_s"],
                }
                for session in full["sessions"]
            ],
        }

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        add_security_headers(app)
        add_request_checks(app, request_checks(self.config.server, self.config.auth.enabled))
        server = self.config.server
        if self.token:
            authenticator = Authenticator(
                self.token, self.config.auth.session_days, server.state_path, self._browsers_logged_out
            )
            add_auth(app, authenticator)
        routes.add_routes(app, self.public_status, self.status)
        whep.add_routes(app, self.viewers, self.refused_offers)
        simulation.add_routes(app, self.hardware.simulated_devices)
        recordings_api.add_routes(app, self.recorder)
        snapshot_api.add_routes(app, self.snapshots)
        self.onvif.add_routes(app)
        metrics_api.add_routes(app, self, self.config.metrics.token if self.token else "")
        add_forwarded(app, TrustedProxies(server.trusted_proxies))  # outermost: the others see the browser's side
        return app

    async def start(self) -> None:
        aiortc_ext.restrict_host_interfaces(self.config.webrtc.interfaces)
        aiortc_ext.offer_dtls_ciphers_for_rsa_peers()
        rtp_sender.offer_playout_delay()
        await start_all(self.services)

    def _browsers_logged_out(self) -> None:
        """Every browser was logged out (the page's button, ``edge token --logout-all``): what
        they watch ends too, so a lost phone's open page stops (players with the token reconnect)."""
        if len(self.viewers):
            log.info("every browser was logged out: ending the %d live viewer sessions", len(self.viewers))
            task = asyncio.create_task(self.viewers.close_all(), name="end viewers")
            self._logouts.add(task)
            task.add_done_callback(self._logouts.discard)

    async def stop(self) -> None:
        await stop_all(self.services)
        for task in self._logouts:
            task.cancel()
        await asyncio.gather(*self._logouts, return_exceptions=True)
        self.hardware.gpio.close()
        aiortc_ext.restrict_host_interfaces(())

    def urls(self) -> list[str]:
        return self.web.urls()


async def serve(config: Config, hardware: Hardware) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly."""
    daemon = Daemon(config, hardware)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await daemon.start()
    log.info("edge %s listening on port %d; open %s", __version__, daemon.port, " or ".join(daemon.urls()))
    if daemon.token_created:
        # Printed once, when the token is made, like Jupyter's token URL; `edge token` shows it again.
        log.info("access token created; log in once with: %s?token=%s", daemon.urls()[0], daemon.token)
    elif not config.auth.enabled:
        log.warning("access control is off ([auth] enabled = false): anyone on the network can watch")
    systemd.notify_ready(f"serving on port {daemon.port}")
    watchdog = asyncio.create_task(_pet_watchdog(daemon))
    await stop.wait()
    log.info("shutting down")
    systemd.notify_stopping()
    watchdog.cancel()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(daemon.stop(), 4.5)


async def _pet_watchdog(daemon: Daemon) -> None:
    """Ping systemd's watchdog from the event loop itself: a stuck loop gets us restarted."""
    period = systemd.watchdog_period()
    if period is None:
        return
    while True:
        systemd.notify_watchdog()
        systemd.notify_status(f"{len(daemon.viewers)} viewers; camera {daemon.video.supervisor.state}")
        await asyncio.sleep(period)
