"""ONVIF events as Home Assistant gets them: onvif-zeep-async (the version HA pins) makes a
PullPoint subscription the way HA's ONVIF integration does and long-polls it; onvif-parsers
(HA's event parser) reads what comes. The daemon runs simulated; motion and the GPIO input are
poked through its simulation API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import onvif_parsers
import pytest
from zeep.exceptions import Fault

from testbed.daemon import DaemonProcess
from testbed.onvif import onvif_camera
from tests.onvif.conftest import ONVIF_CONFIG

CONFIG = ONVIF_CONFIG + '[motion]\nenabled = true\nhold_seconds = 0.5\n[[triggers]]\nname = "doorbell"\npin = 17\n'
SUBSCRIPTION_TIME = dt.timedelta(minutes=10)  # what Home Assistant asks for
MESSAGE_LIMIT, PULL_TIMEOUT = 100, dt.timedelta(seconds=60)  # how Home Assistant pulls
MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
DIGITAL_INPUT = "tns1:Device/Trigger/DigitalInput"


@dataclass(frozen=True)
class Seen:
    topic: str
    uid: str
    value: Any
    operation: str
    utc_time: dt.datetime
    received: float  # time.time() when the pull returned it


class HomeAssistant:
    """A PullPoint subscription made and pulled as HA's ONVIF integration does."""

    def __init__(self, daemon: DaemonProcess, port: int | None = None) -> None:
        """``port``: where HA reaches the camera (a relay in front of it), the daemon's own by default."""
        self.daemon = daemon
        self.camera = onvif_camera("127.0.0.1", port or daemon.port, "edge", daemon.token)
        self.lost = asyncio.Event()
        self.seen: list[Seen] = []

    async def subscribe(self) -> None:
        await self.camera.update_xaddrs()
        self.manager = await self.camera.create_pullpoint_manager(SUBSCRIPTION_TIME, self.lost.set)
        await self.manager.set_synchronization_point()
        self.pullpoint = self.manager.get_service()

    async def pull(self, timeout: dt.timedelta = PULL_TIMEOUT) -> list[Seen]:
        response = await self.pullpoint.PullMessages({"MessageLimit": MESSAGE_LIMIT, "Timeout": timeout})
        received = time.time()
        seen = []
        for message in response.NotificationMessage or []:
            topic = message.Topic._value_1.rstrip("/.")
            [entity] = await onvif_parsers.parse(topic, "camera", message)
            payload = message.Message._value_1
            seen.append(Seen(topic, entity.uid, entity.value, payload.PropertyOperation, payload.UtcTime, received))
        self.seen += seen
        return seen

    async def wait(self, topic: str, value: bool, timeout: float = 30) -> Seen:
        """The next message of ``topic`` saying ``value``: pulls (long polls) until it comes."""

        async def pulled() -> Seen:
            while True:
                for seen in await self.pull():
                    if seen.topic == topic and seen.value is value:
                        return seen

        return await asyncio.wait_for(pulled(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Fault):  # as HA: the subscription may be gone already
            await self.manager.shutdown()
        await self.camera.close()


@pytest.fixture
async def home_assistant(daemon_factory):
    daemon = daemon_factory(CONFIG)
    ha = HomeAssistant(daemon)
    await ha.subscribe()
    yield ha
    await ha.close()


async def poke(daemon: DaemonProcess, path: str, active: bool) -> float:
    """POST the simulation API; the daemon's time of the change."""
    response = await asyncio.to_thread(daemon.request, "POST", path, json={"active": active})
    response.raise_for_status()
    return response.json()["at"]


async def test_home_assistant_sees_motion_start_and_end(home_assistant):
    ha = home_assistant
    initial = await ha.wait(MOTION, False)
    assert initial.operation == "Initialized"
    media = await ha.camera.create_media_service()
    source = (await media.GetProfiles())[0].VideoSourceConfiguration.token
    assert initial.uid.startswith(f"camera_{MOTION}_{source}_"), "motion names the profile's video source"

    started = await poke(ha.daemon, "/api/sim/motion", True)
    on = await ha.wait(MOTION, True)
    stopped = await poke(ha.daemon, "/api/sim/motion", False)
    off = await ha.wait(MOTION, False)

    assert (on.operation, off.operation) == ("Changed", "Changed")
    assert on.uid == off.uid == initial.uid
    assert started - 1 <= on.utc_time.timestamp() <= on.received + 1
    assert stopped - 1 <= off.utc_time.timestamp() <= off.received + 1
    print(f"motion seen by HA {on.received - started:.2f} s after it began, its end {off.received - stopped:.2f} s")
    assert not ha.lost.is_set()


async def test_home_assistant_sees_a_gpio_press_as_its_digital_input(home_assistant):
    ha = home_assistant
    initial = await ha.wait(DIGITAL_INPUT, False)
    assert initial.operation == "Initialized"
    assert initial.uid == f"camera_{DIGITAL_INPUT}_doorbell"

    pressed = await poke(ha.daemon, "/api/sim/gpio/17", True)
    on = await ha.wait(DIGITAL_INPUT, True)
    released = await poke(ha.daemon, "/api/sim/gpio/17", False)
    off = await ha.wait(DIGITAL_INPUT, False)

    assert (on.uid, on.operation) == (initial.uid, "Changed")
    assert (off.uid, off.operation) == (initial.uid, "Changed")
    assert pressed - 1 <= on.utc_time.timestamp() <= on.received + 1
    print(f"GPIO press seen by HA {on.received - pressed:.3f} s after it, the release {off.received - released:.3f} s")
    assert not ha.lost.is_set()


async def test_a_pull_with_nothing_to_say_waits_for_its_timeout(home_assistant):
    ha = home_assistant
    await ha.wait(DIGITAL_INPUT, False)
    while await ha.pull(dt.timedelta(0)):  # what is left of the subscription's first states
        pass
    asked = time.monotonic()
    assert await ha.pull(dt.timedelta(seconds=1)) == []
    assert time.monotonic() - asked >= 0.9, "a pull with nothing to say waits for its timeout"


class PullRelay:
    """A loopback TCP relay in front of the daemon that says when a whole PullMessages request has gone through."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.pull_sent = asyncio.Event()

    async def __aenter__(self) -> PullRelay:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port: int = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pipe(reader, up_writer, watch=True),
            self._pipe(up_reader, writer, watch=False),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: bool) -> None:
        request = b""
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                request += data if watch else b""
                if request.rstrip().endswith(b"Envelope>"):  # a whole SOAP request went to the daemon
                    if b"PullMessages" in request:
                        self.pull_sent.set()
                    request = b""
        finally:
            writer.close()


async def test_a_waiting_pull_returns_on_the_event_long_before_its_own_timeout(daemon_factory):
    daemon = daemon_factory(CONFIG)
    async with PullRelay(daemon.port) as relay:
        ha = HomeAssistant(daemon, relay.port)
        await ha.subscribe()
        try:
            await ha.wait(DIGITAL_INPUT, False)
            while await ha.pull(dt.timedelta(0)):  # what is left of the subscription's first states
                pass
            relay.pull_sent.clear()
            pull = asyncio.create_task(ha.pull())  # waits up to PULL_TIMEOUT (60 s), as Home Assistant's
            await asyncio.wait_for(relay.pull_sent.wait(), 30)
            assert not pull.done(), "nothing has happened: the pull waits"
            pressed = await poke(daemon, "/api/sim/gpio/17", True)
            [seen] = await asyncio.wait_for(pull, PULL_TIMEOUT.total_seconds() / 2)
        finally:
            await ha.close()
    assert (seen.topic, seen.value, seen.operation) == (DIGITAL_INPUT, True, "Changed")
    print(f"the waiting pull returned {seen.received - pressed:.3f} s after the press")


async def test_renew_and_unsubscribe(home_assistant):
    ha = home_assistant
    subscription = await ha.camera.create_subscription_service("PullPointSubscription")
    renewed = await subscription.Renew("PT600S")
    assert dt.timedelta(seconds=599) <= renewed.TerminationTime - renewed.CurrentTime <= dt.timedelta(seconds=601)
    await subscription.Unsubscribe()
    with pytest.raises(Fault):
        await ha.pull()


async def test_a_bad_termination_time_and_one_subscription_too_many_get_faults(home_assistant):
    events = await home_assistant.camera.create_events_service()
    with pytest.raises(Fault, match="not in the future"):
        await events.CreatePullPointSubscription({"InitialTerminationTime": "2000-01-01T00:00:00Z"})
    for _ in range(9):  # Home Assistant's is the first of the ten
        await events.CreatePullPointSubscription({"InitialTerminationTime": "PT60S"})
    with pytest.raises(Fault, match="at most 10"):
        await events.CreatePullPointSubscription({"InitialTerminationTime": "PT60S"})
    assert home_assistant.daemon.health()["onvif"]["subscriptions"] == 10
    assert await home_assistant.wait(DIGITAL_INPUT, False), "Home Assistant's subscription still works"
