"""The daemon: wires hardware, hubs, viewers and HTTP together, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import threading
from typing import TYPE_CHECKING

from aiohttp import web

from edge import __version__, systemd
from edge.api import metrics as metrics_api
from edge.api import recordings as recordings_api
from edge.api import simulation
from edge.api import snapshot as snapshot_api
from edge.config import Config
from edge.hardware import Hardware
from edge.media.audio import AudioHub
from edge.media.snapshot import Snapshots
from edge.media.video import VideoHub
from edge.mqtt.client import MqttBridge
from edge.network_follower import follow_network
from edge.publish.targets import PublishTargets
from edge.recording.factory import build_recorder
from edge.rtsp import open_rtsp
from edge.security import token as access_token
from edge.security.auth import Authenticator, add_auth
from edge.security.headers import add_security_headers
from edge.security.origin import add_request_checks, request_checks
from edge.security.tls import server_ssl_context
from edge.signaling import whep
from edge.signaling.refusals import RefusedOffers
from edge.triggers.combined import Triggers
from edge.triggers.motion import NAME as MOTION
from edge.triggers.motion import MotionTrigger
from edge.web import routes
from edge.webrtc import aiortc_ext, rtp_sender
from edge.webrtc.viewers import Viewers
from hw.network_watch import open_netwatch

if TYPE_CHECKING:
    from edge.rtsp.server import RtspServer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Idle HTTP connections close soon: after the camera's address changes, a browser
# reusing a kept-alive connection to the old address would hang (aiohttp keeps
# them an hour by default), and the page's ICE restart would wait for it.
KEEPALIVE_S = 2.0


def process_status() -> dict:
    """Resource use, to spot leaks from outside (tests compare it over 500 sessions)."""
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/statm") as f:
            rss_kib = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return {
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "fds": fds,
        "rss_mib": round(rss_kib / 1024, 1),
    }


def dual_stack_socket(port: int) -> socket.socket:
    """A listening socket on ``::`` that takes IPv4 too (as ``::ffff:a.b.c.d``).

    asyncio makes each IPv6 listening socket IPv6-only (``IPV6_V6ONLY``), so ``"::"``
    given as a host would refuse 127.0.0.1; one socket for both stacks also keeps one
    port when ``port`` is 0.
    """
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as exc:
        raise OSError(exc.errno, f'host "::" needs IPv6 ({exc.strerror}); use "0.0.0.0"') from None
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
    except OSError:
        sock.close()
        raise
    return sock


class Daemon:
    def __init__(self, config: Config, hardware: Hardware) -> None:
        self.config = config
        self.hardware = hardware
        self.video = VideoHub(hardware.camera)
        self.audio = AudioHub(hardware.microphone, config.microphone.bitrate) if hardware.microphone else None
        self.viewers = Viewers(self.video, self.audio, config.webrtc)
        self.publish = PublishTargets(
            config.publish, self.video, self.audio, self.viewers.payloads, config.server.state_path / "publish"
        )
        self.refused_offers = RefusedOffers()
        self.snapshots = Snapshots(self.video)
        network = config.network
        self.netwatch = open_netwatch(
            network.watch, network.debounce, network.poll_interval, interfaces=config.webrtc.interfaces
        )
        self.recorder, self.gpio_triggers = build_recorder(
            config, self.video, self.audio, hardware.gpio, gpio_simulated=hardware.simulated_devices.gpio is not None
        )
        self.motion = MotionTrigger(config.motion, hardware.camera, self.recorder) if config.motion.enabled else None
        triggers = Triggers(self.gpio_triggers, self.motion) if self.motion else self.gpio_triggers
        triggers.add_listener(self.viewers.trigger_changed)
        self.mqtt = (
            MqttBridge(
                config.mqtt,
                self.recorder,
                triggers,
                [t.name for t in config.triggers] + ([MOTION] if self.motion else []),
                lambda: len(self.viewers),
                self.snapshots,
            )
            if config.mqtt.host
            else None
        )
        self.rtsp: RtspServer | None = None  # made at start, once the token is known
        self._tasks: list[asyncio.Task] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.token: str | None = None
        self.token_created = False

    def _resolve_token(self) -> str:
        if self.config.auth.token:
            return self.config.auth.token
        token, self.token_created = access_token.load_or_create_token(self.config.server.state_path)
        return token

    def status(self) -> dict:
        camera = self.video.status()
        microphone = self.audio.status() if self.audio else {"backend": "none", "state": "disabled"}
        degraded = camera["state"] != "running" or microphone["state"] not in ("running", "disabled")
        degraded = degraded or self.recorder.storage != "ok"
        degraded = degraded or any(t["state"] in ("retrying", "refused") for t in self.publish.status())
        return {
            "status": "degraded" if degraded else "ok",
            "version": __version__,
            "simulated": self.hardware.simulated,
            "camera": camera,
            "microphone": microphone,
            "viewers": len(self.viewers),
            "sessions": self.viewers.status(),
            "refused_offers": self.refused_offers.status(),
            "snapshots": self.snapshots.status(),
            "network": self.netwatch.status() if self.netwatch else None,
            "process": process_status(),
            "recording": self.recorder.status(),
            "gpio": self.gpio_triggers.status(),
            "motion": self.motion.status() if self.motion else {"enabled": False},
            "mqtt": self.mqtt.status() if self.mqtt else {"state": "off"},
            "rtsp": self.rtsp.status() if self.rtsp else {"state": "off"},
            "publish": self.publish.status(),
        }

    def public_status(self) -> dict:
        """What ``/healthz`` shows anyone: is it working. Nothing about who or what is seen."""
        full = self.status()
        return {
            "status": full["status"],
            "version": full["version"],
            "camera": {k: full["camera"][k] for k in ("backend", "state", "width", "height", "framerate")},
            "microphone": {k: full["microphone"][k] for k in ("backend", "state")},
            "storage": full["recording"]["storage"]["state"],
            "viewers": full["viewers"],
            # How viewers' paths held up (ICE restarts): figures only, no ids or addresses.
            "sessions": [
                {k: session["ice"][k] for k in ("restarts", "recoveries", "last_recovery_s")}
                for session in full["sessions"]
            ],
        }

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        add_security_headers(app)
        add_request_checks(app, request_checks(self.config.server, self.config.auth.enabled))
        if self.config.auth.enabled:
            self.token = self._resolve_token()
            auth = self.config.auth
            server = self.config.server
            authenticator = Authenticator(
                self.token, auth.session_days, server.https, server.state_path, self._browsers_logged_out
            )
            add_auth(app, authenticator)
        routes.add_routes(app, self.public_status, self.status)
        whep.add_routes(app, self.viewers, self.refused_offers)
        simulation.add_routes(app, self.hardware.simulated_devices)
        recordings_api.add_routes(app, self.recorder)
        snapshot_api.add_routes(app, self.snapshots)
        metrics_api.add_routes(app, self, self.config.metrics.token if self.config.auth.enabled else "")
        return app

    async def start(self) -> None:
        aiortc_ext.restrict_host_interfaces(self.config.webrtc.interfaces)
        aiortc_ext.offer_dtls_ciphers_for_rsa_peers()
        rtp_sender.offer_playout_delay()
        if self.motion:
            self.motion.start()  # before the camera starts: the Pi's camera sets its lores stream up then
        self._spawn(self.video.run(), "camera")
        if self.audio:
            self._spawn(self.audio.run(), "microphone")
        self._spawn(self.viewers.reap_pending(), "reaper")
        self.gpio_triggers.start()
        self._spawn(self.recorder.run(), "recorder")
        if self.netwatch:
            listeners = (self.viewers.network_changed, self.publish.network_changed)
            self._spawn(follow_network(self.netwatch, listeners), "netwatch")
        self.publish.start()
        if self.mqtt:
            self.mqtt.start()
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, keepalive_timeout=KEEPALIVE_S
        )
        await self._runner.setup()
        server = self.config.server
        ssl_context = None
        if server.https:
            ssl_context, created = server_ssl_context(server.tls_cert, server.tls_key, server.state_path)
            if created:
                log.info(
                    "made a self-signed certificate in %s (browsers will ask you to accept it once)",
                    server.state_path / "tls",
                )
        site: web.BaseSite
        if server.host == "::":
            site = web.SockSite(self._runner, dual_stack_socket(server.port), ssl_context=ssl_context)
        else:
            site = web.TCPSite(self._runner, server.host, server.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.rtsp = open_rtsp(self.config.rtsp, server.host, self.video, self.audio, self.token)
        if self.rtsp is not None and not self.rtsp.start():
            self.rtsp = None

    def _spawn(self, coro, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    def _browsers_logged_out(self) -> None:
        """Every browser was logged out (the page's button, ``edge token --logout-all``): what
        they watch ends too, so a lost phone's open page stops (players with the token reconnect)."""
        if len(self.viewers):
            log.info("every browser was logged out: ending the %d live viewer sessions", len(self.viewers))
            self._spawn(self.viewers.close_all(), "end viewers")

    async def stop(self) -> None:
        await self.recorder.stop()  # first: an open clip gets its index before anything else goes
        if self.mqtt:
            await self.mqtt.stop()  # says "offline" (a clean stop sends no will)
        if self.rtsp is not None:
            await self.rtsp.stop()
        await asyncio.gather(self.viewers.close_all(), self.publish.stop())
        if self._runner is not None:
            await self._runner.cleanup()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.gpio_triggers.close()
        self.hardware.gpio.close()
        aiortc_ext.restrict_host_interfaces(())

    def urls(self) -> list[str]:
        host = self.config.server.host
        if host in ("0.0.0.0", "::", ""):
            names = [f"{socket.gethostname()}.local", "127.0.0.1"]
        else:
            names = [host]
        scheme = "https" if self.config.server.https else "http"
        return [f"{scheme}://{name}:{self.port}/" for name in names]


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
