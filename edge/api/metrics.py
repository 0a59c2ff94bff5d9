"""``GET /metrics``: the daemon's figures in Prometheus' text format.

Nothing is counted for Prometheus as it happens: a collector reads the live
objects (the video hub's supervisor, the viewer sessions, the recorder, the
refusal counts, RTSP and MQTT) when a scrape asks, so streaming does no extra
work per frame. The RTP figures per viewer come from aiortc's public
``RTCRtpSender.getStats()`` (its own counters, and the viewer's receiver
reports: loss and round-trip time), gathered before the collector runs.

Viewers are labelled with a short hash of their session id, never the id
itself: that is the secret WHEP resource URL that would let a reader end the
session.

Access: the access token, like every route; or, when ``[metrics] token`` is
set, that token as ``Authorization: Bearer`` on this path only, so that a
Prometheus server need not hold the token that lets one watch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from edge import __version__
from edge.media.supervisor import SourceState
from edge.mqtt.status import MqttState
from edge.publish.target import PublishState
from edge.recording.recorder import StorageState
from edge.security.auth import AUTHENTICATOR_KEY
from edge.service import Off
from edge.triggers.motion import NoMotion
from edge.webrtc.turn_check import TurnState

if TYPE_CHECKING:
    from edge.app import Daemon
    from edge.webrtc.session import ViewerSession

PATH = "/metrics"
METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics")


def viewer_label(session_id: str) -> str:
    """A short, stable name for a session in metrics; its id cannot be found from it."""
    return hashlib.sha256(b"edge viewer\0" + session_id.encode()).hexdigest()[:8]


@dataclass
class RtpFigures:
    """One viewer's sender statistics per media kind, as aiortc reports them."""

    bytes_sent: dict[str, int] = field(default_factory=dict)
    packets_sent: dict[str, int] = field(default_factory=dict)
    packets_lost: dict[str, int] = field(default_factory=dict)  # from the viewer's receiver reports
    round_trip_s: dict[str, float] = field(default_factory=dict)


async def rtp_figures(session: ViewerSession) -> RtpFigures:
    figures = RtpFigures()
    for sender in session.pc.getSenders():
        report = await sender.getStats()
        for stats in report.values():
            if stats.type == "outbound-rtp":
                figures.bytes_sent[stats.kind] = stats.bytesSent
                figures.packets_sent[stats.kind] = stats.packetsSent
            elif stats.type == "remote-inbound-rtp":
                figures.packets_lost[stats.kind] = stats.packetsLost
                if stats.roundTripTime is not None:
                    figures.round_trip_s[stats.kind] = stats.roundTripTime
    return figures


def _state_gauge(name: str, doc: str, current: str, known: Iterable[str]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=["state"])
    known = tuple(known)
    for state in known if current in known else (*known, current):
        gauge.add_metric([state], 1.0 if state == current else 0.0)
    return gauge


class DaemonCollector(Collector):
    """Reads the daemon's live objects at scrape time; ``rtp``: each session's sender figures."""

    def __init__(self, daemon: Daemon, rtp: list[tuple[ViewerSession, RtpFigures]]) -> None:
        self._daemon = daemon
        self._rtp = rtp

    def collect(self) -> Iterator[Metric]:
        yield from self._camera()
        yield from self._viewers()
        yield from self._recording()
        yield from self._services()
        yield from self._publish()
        yield from self._motion()

    def _camera(self) -> Iterator[Metric]:
        d = self._daemon
        supervisor = d.video.supervisor
        info = InfoMetricFamily("edge", "the daemon's version")
        info.add_metric([], {"version": __version__, "simulated": str(d.hardware.simulated).lower()})
        yield info
        yield CounterMetricFamily("edge_camera_frames", "H.264 access units from the camera", supervisor.items)
        yield CounterMetricFamily(
            "edge_camera_keyframes_forced",
            "keyframes asked of the camera (viewers, recordings)",
            d.video.keyframes_forced,
        )
        yield CounterMetricFamily(
            "edge_camera_restarts", "camera restarts after a failure or stall", supervisor.restarts
        )
        yield _state_gauge("edge_camera_state", "the camera's state (1: current)", supervisor.state, SourceState)

    def _viewers(self) -> Iterator[Metric]:
        d = self._daemon
        yield GaugeMetricFamily("edge_viewers", "viewer sessions (connected or connecting)", len(d.viewers))
        yield CounterMetricFamily("edge_viewer_sessions", "viewer sessions created", d.viewers.total_sessions)
        refused = CounterMetricFamily("edge_refused_offers", "WHEP offers refused, by reason", labels=["reason"])
        for reason, count in d.refused_offers.status()["by_reason"].items():
            refused.add_metric([reason], count)
        yield refused
        labels = ["viewer", "kind"]
        sent_bytes = CounterMetricFamily("edge_viewer_sent_bytes", "RTP payload bytes sent to a viewer", labels=labels)
        sent_packets = CounterMetricFamily("edge_viewer_sent_packets", "RTP packets sent to a viewer", labels=labels)
        lost = GaugeMetricFamily(
            "edge_viewer_packets_lost", "packets the viewer reports lost (its receiver reports)", labels=labels
        )
        rtt = GaugeMetricFamily(
            "edge_viewer_round_trip_time_seconds", "round-trip time from the viewer's receiver reports", labels=labels
        )
        nacks = CounterMetricFamily(
            "edge_viewer_nack_requests", "packets a viewer asked for again (RTCP NACK)", labels=labels
        )
        retransmitted = CounterMetricFamily(
            "edge_viewer_retransmitted_packets", "packets sent again from the history (RTX)", labels=labels
        )
        retransmitted_bytes = CounterMetricFamily(
            "edge_viewer_retransmitted_bytes", "RTP bytes sent again from the history (RTX)", labels=labels
        )
        ignored = CounterMetricFamily(
            "edge_viewer_nacks_ignored",
            "NACKed packets not sent again: too old, repeated within a round trip, over the link's budget",
            labels=[*labels, "reason"],
        )
        padding = CounterMetricFamily(
            "edge_viewer_padding_bytes", "RTP bytes sent to probe a viewer's link (RTX copies)", labels=labels
        )
        remb = GaugeMetricFamily(
            "edge_viewer_remb_bits_per_second",
            "what the viewer estimates its link carries (its latest REMB), bits per second",
            labels=labels,
        )
        frames = CounterMetricFamily(
            "edge_viewer_video_frames_sent", "video frames sent to a viewer", labels=["viewer"]
        )
        connected = GaugeMetricFamily("edge_viewer_connected", "1: the session is connected", labels=["viewer"])
        restarts = CounterMetricFamily("edge_viewer_ice_restarts", "ICE restarts of a viewer's path", labels=["viewer"])
        recoveries = CounterMetricFamily(
            "edge_viewer_ice_recoveries", "new paths after trouble or an ICE restart", labels=["viewer"]
        )
        last_recovery = GaugeMetricFamily(
            "edge_viewer_last_recovery_seconds",
            "the last recovery's time from the first sign of trouble to the new path",
            labels=["viewer"],
        )
        for session, figures in self._rtp:
            viewer = viewer_label(session.id)
            for kind, value in figures.bytes_sent.items():
                sent_bytes.add_metric([viewer, kind], value)
            for kind, value in figures.packets_sent.items():
                sent_packets.add_metric([viewer, kind], value)
            for kind, value in figures.packets_lost.items():
                lost.add_metric([viewer, kind], value)
            for kind, seconds in figures.round_trip_s.items():
                rtt.add_metric([viewer, kind], seconds)
            for kind, sender in session.senders.items():
                nacks.add_metric([viewer, kind], sender.nack_requests)
                retransmitted.add_metric([viewer, kind], sender.retransmitted_packets)
                retransmitted_bytes.add_metric([viewer, kind], sender.retransmitted_bytes)
                ignored.add_metric([viewer, kind, "old"], sender.nacks_ignored_old)
                ignored.add_metric([viewer, kind, "repeat"], sender.nacks_ignored_repeat)
                ignored.add_metric([viewer, kind, "budget"], sender.nacks_ignored_budget)
                padding.add_metric([viewer, kind], sender.padding_bytes)
                if sender.feedback.remb_bps is not None:
                    remb.add_metric([viewer, kind], sender.feedback.remb_bps)
            frames.add_metric([viewer], session.video_track.packets_sent)
            connected.add_metric([viewer], float(session.connected))
            restarts.add_metric([viewer], session.recovery.restarts)
            recoveries.add_metric([viewer], session.recovery.recoveries)
            if session.recovery.last_recovery_s is not None:
                last_recovery.add_metric([viewer], session.recovery.last_recovery_s)
        yield from (sent_bytes, sent_packets, lost, rtt, nacks, retransmitted, retransmitted_bytes, ignored, padding)
        yield from (remb, frames, connected, restarts, recoveries, last_recovery)

    def _recording(self) -> Iterator[Metric]:
        recorder = self._daemon.recorder
        yield GaugeMetricFamily("edge_recording", "1: a clip is being written", 1.0 if recorder.recording else 0.0)
        yield CounterMetricFamily(
            "edge_recording_clips_written", "clips finished since the daemon started", recorder.clips_written
        )
        complete = [clip for clip in recorder.library.clips() if clip.complete]
        yield GaugeMetricFamily(
            "edge_recording_clips", "finished clips kept in the recordings directory", len(complete)
        )
        yield GaugeMetricFamily(
            "edge_recording_clips_bytes", "size of the clips kept", sum(c.size_bytes or 0 for c in complete)
        )
        yield _state_gauge("edge_storage_state", "the recordings' storage (1: current)", recorder.storage, StorageState)
        if recorder.free_bytes is not None:
            yield GaugeMetricFamily("edge_storage_free_bytes", "free space where the clips go", recorder.free_bytes)

    def _services(self) -> Iterator[Metric]:
        d = self._daemon
        if not isinstance(d.rtsp, Off):
            yield GaugeMetricFamily("edge_rtsp_clients", "RTSP clients playing", d.rtsp.clients)
        if not isinstance(d.mqtt, Off):
            connected = d.mqtt.state == MqttState.CONNECTED
            yield GaugeMetricFamily("edge_mqtt_connected", "1: connected to the MQTT broker", float(connected))
        turn = d.viewers.turn.state
        if turn is not TurnState.OFF:
            yield _state_gauge("edge_turn_state", "the camera's TURN server (1: current)", turn, TurnState)

    def _publish(self) -> Iterator[Metric]:
        targets = self._daemon.publish.targets
        if not targets:
            return
        labels = ["target"]
        state = GaugeMetricFamily(
            "edge_publish_state", "a publish target's state (1: current)", labels=[*labels, "state"]
        )
        sent = CounterMetricFamily(
            "edge_publish_sent_bytes", "RTP payload bytes sent to a publish target", labels=labels
        )
        sessions = CounterMetricFamily("edge_publish_sessions", "WHIP sessions that got to publishing", labels=labels)
        restarts = CounterMetricFamily("edge_publish_ice_restarts", "ICE restarts that kept a session", labels=labels)
        failures = CounterMetricFamily("edge_publish_failures", "attempts or sessions that failed", labels=labels)
        for target in targets:
            for known in PublishState:
                state.add_metric([target.name, known], 1.0 if known == target.state else 0.0)
            sent.add_metric([target.name], target.bytes_sent)
            sessions.add_metric([target.name], target.sessions)
            restarts.add_metric([target.name], target.ice_restarts)
            failures.add_metric([target.name], target.failures)
        yield from (state, sent, sessions, restarts, failures)

    def _motion(self) -> Iterator[Metric]:
        motion = self._daemon.triggers.motion
        if isinstance(motion, NoMotion):
            return
        yield GaugeMetricFamily("edge_motion_active", "1 while the camera sees motion", float(motion.detector.active))
        yield CounterMetricFamily("edge_motion_events", "times motion started", motion.events)
        yield CounterMetricFamily(
            "edge_motion_detector_cpu_seconds", "CPU time of the motion detector (its own thread time)", motion.busy_s
        )


class Metrics:
    def __init__(self, daemon: Daemon, token: str) -> None:
        self._daemon = daemon
        self._token = token.encode()

    def token_matches(self, request: web.Request) -> bool:
        """The request carries ``[metrics] token`` as a bearer token (never true when none is set)."""
        header = request.headers.get("Authorization", "")
        return (
            bool(self._token)
            and header[:7].lower() == "bearer "
            and hmac.compare_digest(header[7:].strip().encode(), self._token)
        )

    async def registry(self) -> CollectorRegistry:
        # Viewers has no public iteration of its sessions; the list is copied before any await.
        sessions = self._daemon.viewers.sessions()
        rtp = [(session, await rtp_figures(session)) for session in sessions]
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DaemonCollector(self._daemon, rtp))
        ProcessCollector(registry=registry)
        return registry


async def metrics(request: web.Request) -> web.Response:
    """The text format Prometheus asks for (``Accept``: OpenMetrics or the classic one)."""
    registry = await request.app[METRICS_KEY].registry()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(registry), headers={"Content-Type": content_type})


@web.middleware
async def metrics_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``[metrics] token`` opens ``/metrics`` (before the access token's check, which it would fail)."""
    if request.path == PATH and request.method == "GET" and request.app[METRICS_KEY].token_matches(request):
        auth = request.app.get(AUTHENTICATOR_KEY)
        if auth is None or await auth.limiter.admit(request.remote or "?") is None:  # at its turn while guessing
            return await metrics(request)
    return await handler(request)


def add_routes(app: web.Application, daemon: Daemon, token: str) -> None:
    app[METRICS_KEY] = Metrics(daemon, token)
    if token:
        app.middlewares.insert(0, metrics_token)
    app.router.add_get(PATH, metrics)
