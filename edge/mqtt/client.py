"""The connection to the MQTT broker: announce the camera to Home Assistant, publish its states.

A broker that is down or refuses us never touches streaming or recording: the
bridge retries with back-off (1 s doubling to 60 s), logs one line per change of
state, and shows its state in ``/api/status``. States are published when they
change: recording and the GPIO inputs at once (their listeners; each input change
in order, so a short press shows), the number of viewers (WebRTC, RTSP and publish
targets; each count an attribute) when a short poll sees a change. A snapshot goes
out when a clip starts, retained only with ``retain_snapshot``; without it, one that
an earlier run left retained is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable
from typing import Protocol

import aiomqtt

from edge.backoff import Backoff
from edge.config import MqttConfig
from edge.media.snapshot import Snapshots, SnapshotUnavailable
from edge.mqtt.discovery import OFF, OFFLINE, ON, ONLINE, PRESS, Topics, discovery_configs
from edge.mqtt.status import Audience, MqttState, MqttStatus
from edge.service import BackgroundTask
from edge.triggers.source import TriggerSource

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
POLL_S = 0.25  # how often the viewer count is looked at
CONNECT_TIMEOUT_S = 10.0
STOP_S = 2.0  # saying "offline" (bounded at 2 s itself) and disconnecting
SNAPSHOT_WIDTH = 640


class RecorderLike(Protocol):
    """What the bridge needs of ``edge.recording.Recorder``."""

    post_us: int

    @property
    def recording(self) -> bool: ...

    def record(self, seconds: float | None) -> str | None: ...

    def add_listener(self, listener: Callable[[bool], None]) -> None: ...


class MqttBridge:
    """A service: started, it keeps a connection to the broker, and says ``offline`` when stopped."""

    name = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        recorder: RecorderLike,
        triggers: TriggerSource,
        inputs: dict[str, str | None],
        audience: Callable[[], Audience],
        snapshots: Snapshots,
        page_url: Callable[[], str],
        hostname: str | None = None,
    ) -> None:
        self.config = config
        self.topics = Topics.of(config, hostname)
        self.client_id = config.client_id or f"edge-{self.topics.hostname}"
        self._recorder = recorder
        self._triggers = triggers
        self._inputs = inputs
        self._audience = audience
        self._page_url = page_url
        self._snapshots = snapshots
        self.state = MqttState.CONNECTING
        self.last_error: str | None = None
        self._changed = asyncio.Event()
        self._snapshot_wanted = False
        self._published: dict[str, str] = {}  # state topic -> payload, for this connection
        self._background: set[asyncio.Task[None]] = set()
        self._running = BackgroundTask("mqtt")
        self._transitions: list[tuple[str, str]] = []  # trigger changes, in order, not yet published
        recorder.add_listener(self._recording_changed)
        triggers.add_listener(self._trigger_changed)

    # --- status ------------------------------------------------------------------------

    def status(self) -> MqttStatus:
        return {
            "state": self.state,
            "last_error": self.last_error,
            "broker": f"{self.config.host}:{self.config.port}",
            "topic_prefix": self.topics.prefix,
        }

    def _set_state(self, state: MqttState, error: str | None = None) -> None:
        changed = (state, error) != (self.state, self.last_error if state == MqttState.ERROR else None)
        self.state = state
        if error is not None:
            self.last_error = error
        if not changed:
            return
        if state == MqttState.CONNECTED:
            log.info("MQTT: connected to %s:%d as %s", self.config.host, self.config.port, self.client_id)
        elif state == MqttState.ERROR:
            log.warning("MQTT: %s:%d: %s (retrying)", self.config.host, self.config.port, error)

    # --- running -----------------------------------------------------------------------

    async def run(self) -> None:
        backoff = Backoff(FIRST_RETRY_S, MAX_RETRY_S)
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError) as exc:  # OSError: e.g. TLS failing mid-session
                connected = self.state == MqttState.CONNECTED
                self._set_state(MqttState.ERROR, str(exc) or type(exc).__name__)
                if connected:
                    backoff.reset()
            await asyncio.sleep(backoff.next_delay())

    async def start(self) -> None:
        self._running.start(self.run())

    async def stop(self) -> None:
        """Say ``offline`` (a clean stop sends no will) and disconnect, bounded: what is stopped
        after MQTT (the publish targets' DELETEs) must still fit in the daemon's stop."""
        await self._running.stop(timeout=STOP_S)

    def _client(self) -> aiomqtt.Client:
        config = self.config
        return aiomqtt.Client(
            config.host,
            config.port,
            username=config.username or None,
            password=config.password or None,
            identifier=self.client_id,
            will=aiomqtt.Will(self.topics.availability, OFFLINE, qos=1, retain=True),
            tls_context=ssl.create_default_context() if config.tls else None,
            timeout=CONNECT_TIMEOUT_S,
            keepalive=30,
        )

    async def _session(self) -> None:
        async with self._client() as client:
            self._set_state(MqttState.CONNECTED)
            try:
                await client.subscribe(self.topics.record_command, qos=1)
                await client.subscribe(self.topics.home_assistant_status, qos=1)
                if not self.config.retain_snapshot:  # the broker hands over a retained one: cleared on receipt
                    await client.subscribe(self.topics.snapshot, qos=0)
                await self._announce(client)
                tasks = [
                    asyncio.create_task(self._receive(client), name="mqtt-receive"),
                    asyncio.create_task(self._publish_changes(client), name="mqtt-publish"),
                ]
                try:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for task in done:
                    task.result()  # the MqttError that ended the connection
            except asyncio.CancelledError:
                with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                    await asyncio.wait_for(client.publish(self.topics.availability, OFFLINE, qos=1, retain=True), 2)
                raise

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Discovery configs, availability and every state (all retained): at connect, and when HA restarts."""
        configuration_url = self.config.configuration_url or self._page_url()
        for topic, payload in discovery_configs(self.topics, self._inputs, configuration_url).items():
            await client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)
        await client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        self._published.clear()
        await self._publish_states(client)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload.decode(errors="replace") if isinstance(message.payload, bytes) else ""
            if message.topic.matches(self.topics.record_command):
                if payload in (PRESS, ""):
                    self._record()
            elif message.topic.matches(self.topics.home_assistant_status) and payload == ONLINE:
                log.info("MQTT: Home Assistant came online; announcing the camera again")
                await self._announce(client)
            elif message.topic.matches(self.topics.snapshot) and message.retain and message.payload:
                # Our own snapshots come back too, not retained: only one an earlier run left is cleared.
                log.info("MQTT: clearing the retained snapshot on %s (retain_snapshot is off)", self.topics.snapshot)
                await client.publish(self.topics.snapshot, b"", qos=1, retain=True)

    def _record(self) -> None:
        """A clip like a trigger's: from ``pre_seconds`` before the press to ``post_seconds`` after."""
        name = self._recorder.record(self._recorder.post_us / 1e6)
        log.info("MQTT: record button pressed: %s", name or "waiting for the camera")

    async def _publish_changes(self, client: aiomqtt.Client) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), POLL_S)
            self._changed.clear()
            await self._publish_states(client)
            if self._snapshot_wanted:
                self._snapshot_wanted = False
                task = asyncio.create_task(self._publish_snapshot(client), name="mqtt-snapshot")
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    def _states(self) -> dict[str, str]:
        states = {self.topics.trigger(i["name"]): ON if i["active"] else OFF for i in self._triggers.inputs()}
        states[self.topics.recording] = ON if self._recorder.recording else OFF
        audience = self._audience()
        states[self.topics.viewers] = str(audience["webrtc"] + audience["rtsp"] + audience["publish"])
        states[self.topics.viewer_counts] = json.dumps(audience, separators=(",", ":"))
        return states

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        # Each trigger change as it happened, so that a press shorter than a poll shows too.
        transitions, self._transitions = self._transitions, []
        for topic, payload in transitions:
            await client.publish(topic, payload, qos=1, retain=True)
            self._published[topic] = payload
        for topic, payload in self._states().items():
            if self._published.get(topic) != payload:
                await client.publish(topic, payload, qos=1, retain=True)
                self._published[topic] = payload

    async def _publish_snapshot(self, client: aiomqtt.Client) -> None:
        try:
            jpeg, _captured_at = await self._snapshots.jpeg(SNAPSHOT_WIDTH)
        except SnapshotUnavailable as exc:
            log.info("MQTT: no snapshot for the clip: %s", exc)
            return
        with contextlib.suppress(aiomqtt.MqttError):  # the connection went: the next clip sends one
            await client.publish(self.topics.snapshot, jpeg, qos=0, retain=self.config.retain_snapshot)

    def _trigger_changed(self, name: str, active: bool) -> None:
        self._transitions.append((self.topics.trigger(name), ON if active else OFF))
        self._changed.set()

    def _recording_changed(self, recording: bool) -> None:
        if recording:
            self._snapshot_wanted = True
        self._changed.set()
