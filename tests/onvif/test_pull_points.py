"""The pull-point subscriptions of the ONVIF events service, read as Home Assistant reads them:
the messages go through onvif-zeep-async's own events WSDL (zeep) and then onvif-parsers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import onvif
import onvif_parsers
import pytest
from lxml import etree
from onvif.settings import DEFAULT_SETTINGS
from zeep import Client
from zeep.loader import parse_xml

from edge.onvif.events import (
    DEFAULT_TERMINATION,
    MAX_QUEUED,
    MAX_TERMINATION,
    EventsFault,
    PullPoints,
    Subscription,
    event_properties_xml,
    xs_datetime,
)
from edge.triggers.source import InputStatus

START = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
DOOR = 'front door & "gate" <1>'  # a trigger's name is the user's: it must survive XML
EVENTS = "{http://www.onvif.org/ver10/events/wsdl}"
_client = Client(str(Path(onvif.__file__).parent / "wsdl" / "events.wsdl"), settings=DEFAULT_SETTINGS)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Inputs:
    """The daemon's triggers as PullPoints sees them: a GPIO input and the camera's motion."""

    def __init__(self) -> None:
        self.active = {DOOR: True, "motion": False}
        self._listeners: list[Callable[[str, bool], None]] = []

    def inputs(self) -> list[InputStatus]:
        return [
            {"name": DOOR, "mode": "hold", "active": self.active[DOOR], "events": 0, "pin": 17},
            {"name": "motion", "mode": "motion", "active": self.active["motion"], "events": 0},
        ]

    def add_listener(self, listener: Callable[[str, bool], None]) -> None:
        self._listeners.append(listener)

    def change(self, name: str, active: bool) -> None:
        self.active[name] = active
        for listener in self._listeners:
            listener(name, active)


def reply(operation: str, binding: str, body: str) -> Any:
    """What onvif-zeep-async's zeep makes of a SOAP reply with this body."""
    envelope = (
        f'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>{body}</env:Body></env:Envelope>'
    )
    parsed = parse_xml(envelope.encode(), _client.transport, settings=DEFAULT_SETTINGS)
    return _client.wsdl.bindings[EVENTS + binding].get(operation).process_reply(parsed)


async def home_assistant_reads(messages: list[str]) -> list[tuple[str, str, Any, str, datetime]]:
    """(topic, entity name, value, PropertyOperation, UtcTime) of each message, as HA's parser reads it."""
    body = (
        '<tev:PullMessagesResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl">'
        f"<tev:CurrentTime>{xs_datetime(START)}</tev:CurrentTime>"
        f"<tev:TerminationTime>{xs_datetime(START + DEFAULT_TERMINATION)}</tev:TerminationTime>"
        f"{''.join(messages)}</tev:PullMessagesResponse>"
    )
    read = []
    for message in reply("PullMessages", "PullPointSubscriptionBinding", body).NotificationMessage:
        topic = message.Topic._value_1
        [entity] = await onvif_parsers.parse(topic, "cam", message)
        payload = message.Message._value_1
        read.append((topic, entity.uid, entity.value, payload.PropertyOperation, payload.UtcTime))
    return read


MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
MOTION_UID = f"cam_{MOTION}_video_source_analytics_MotionDetectorRule"
INPUT = "tns1:Device/Trigger/DigitalInput"
DOOR_UID = f"cam_{INPUT}_{DOOR}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def triggers() -> Inputs:
    return Inputs()


@pytest.fixture
def points(triggers: Inputs, clock: Clock):
    points = PullPoints(triggers, max_subscriptions=3, clock=clock)
    points.start()
    yield points
    points.stop()


async def drained(subscription: Subscription) -> Subscription:
    await subscription.pull(0, MAX_QUEUED)
    return subscription


async def test_a_new_subscription_first_gets_every_inputs_current_state(points, clock):
    subscription = points.create("PT60S", clock.now)
    read = await home_assistant_reads(await subscription.pull(0, 100))
    assert read == [
        (INPUT, DOOR_UID, True, "Initialized", START),
        (MOTION, MOTION_UID, False, "Initialized", START),
    ]


async def test_motion_and_a_gpio_press_reach_home_assistant_as_changes_with_their_time(points, triggers, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    times = [START + timedelta(seconds=s) for s in (1, 2.5, 3, 4)]
    changes = [("motion", True), ("motion", False), (DOOR, False), (DOOR, True)]
    for at, (name, active) in zip(times, changes, strict=True):
        clock.now = at
        triggers.change(name, active)
    assert await home_assistant_reads(await subscription.pull(0, 100)) == [
        (MOTION, MOTION_UID, True, "Changed", times[0]),
        (MOTION, MOTION_UID, False, "Changed", times[1]),
        (INPUT, DOOR_UID, False, "Changed", times[2]),
        (INPUT, DOOR_UID, True, "Changed", times[3]),
    ]


async def test_every_subscription_hears_every_change(points, triggers, clock):
    subscriptions = [await drained(points.create("PT60S", clock.now)) for _ in range(3)]
    triggers.change("motion", True)
    for subscription in subscriptions:
        assert [value for *_, value, _, _ in await home_assistant_reads(await subscription.pull(0, 10))] == [True]


async def test_set_synchronization_point_sends_the_current_states_again(points, triggers, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    triggers.change("motion", True)
    await subscription.pull(0, 10)
    subscription.synchronize()
    assert [
        (uid, value, operation)
        for _, uid, value, operation, _ in await home_assistant_reads(await subscription.pull(0, 10))
    ] == [(DOOR_UID, True, "Initialized"), (MOTION_UID, True, "Initialized")]


async def test_a_waiting_pull_returns_as_soon_as_something_changes(points, triggers, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    loop = asyncio.get_running_loop()
    started = loop.time()
    pull = asyncio.create_task(subscription.pull(60, 100))
    await asyncio.sleep(0)  # the pull is now waiting
    assert not pull.done()
    triggers.change("motion", True)
    messages = await asyncio.wait_for(pull, 10)
    assert [value for _, _, value, _, _ in await home_assistant_reads(messages)] == [True]
    assert loop.time() - started < 10


async def test_a_pull_with_nothing_to_say_returns_empty_after_its_timeout(points, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(subscription.pull(0.2, 100), 30) == []
    assert loop.time() - started >= 0.19


@pytest.mark.parametrize("timeout", [0, -5, float("nan")])
async def test_a_pull_with_no_time_to_wait_returns_at_once(points, clock, timeout):
    subscription = await drained(points.create("PT60S", clock.now))
    assert await asyncio.wait_for(subscription.pull(timeout, 100), 10) == []


@pytest.mark.parametrize("end", ["unsubscribe", "stop"])
async def test_unsubscribing_or_stopping_ends_a_waiting_pull(points, clock, end):
    subscription = await drained(points.create("PT60S", clock.now))
    pull = asyncio.create_task(subscription.pull(60, 100))
    await asyncio.sleep(0)  # the pull is now waiting
    if end == "unsubscribe":
        assert points.unsubscribe(subscription.id)
    else:
        points.stop()
    assert await asyncio.wait_for(pull, 10) == []
    assert points.find(subscription.id) is None
    assert not points.unsubscribe(subscription.id)


async def test_after_stop_changes_reach_nobody(points, triggers, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    points.stop()
    triggers.change("motion", True)
    assert await subscription.pull(0, 10) == []


async def test_message_limit_takes_the_oldest_first_and_leaves_the_rest(points, triggers, clock):
    subscription = await drained(points.create("PT60S", clock.now))
    for i in range(5):
        triggers.change("motion", i % 2 == 0)
    first = await home_assistant_reads(await subscription.pull(0, 2))
    rest = await home_assistant_reads(await subscription.pull(0, 100))
    assert [value for _, _, value, _, _ in first] == [True, False]
    assert [value for _, _, value, _, _ in rest] == [True, False, True]
    with pytest.raises(EventsFault) as refused:
        await subscription.pull(0, 0)
    assert refused.value.subcode == "ter:InvalidArgVal"


async def test_a_client_that_stops_pulling_keeps_only_the_newest_messages(points, triggers, clock):
    subscription = points.create("PT60S", clock.now)  # 2 Initialized messages waiting
    for i in range(MAX_QUEUED):
        triggers.change("motion", i % 2 == 0)
    triggers.change(DOOR, False)
    messages = await home_assistant_reads(await subscription.pull(0, 1000))
    assert len(messages) == MAX_QUEUED
    assert messages[-1][1:3] == (DOOR_UID, False)
    assert all(operation == "Changed" for _, _, _, operation, _ in messages)


@pytest.mark.parametrize(
    ("asked", "lives"),
    [
        ("PT60S", timedelta(seconds=60)),
        ("PT1M", timedelta(minutes=1)),
        ("PT600S", timedelta(minutes=10)),  # what Home Assistant asks
        ("PT0.5S", timedelta(seconds=0.5)),
        ("P1D", MAX_TERMINATION),
        ("P1Y2M", MAX_TERMINATION),
        ("P99999999Y", MAX_TERMINATION),
        ("P" + "9" * 500 + "D", MAX_TERMINATION),
        (None, DEFAULT_TERMINATION),
        ("", DEFAULT_TERMINATION),
        (xs_datetime(START + timedelta(seconds=90)), timedelta(seconds=90)),
        ("2026-12-07T12:05:00", timedelta(minutes=5)),  # no zone: UTC
        ("2026-12-07T13:05:00+01:00", timedelta(minutes=5)),
        ("2026-12-08T12:00:00Z", MAX_TERMINATION),
    ],
)
def test_termination_times_from_durations_and_dates_are_capped(points, clock, asked, lives):
    assert points.create(asked, clock.now).termination == START + lives


@pytest.mark.parametrize(
    "asked", ["PT0S", "-PT60S", "60", "PT", "soon", "2026-12-07T11:59:00Z", "2026-12-07T12:00:00Z", "-P99999999Y"]
)
def test_a_termination_time_that_is_not_in_the_future_or_not_a_time_is_refused(points, clock, asked):
    with pytest.raises(EventsFault) as refused:
        points.create(asked, clock.now)
    assert (refused.value.code, refused.value.subcode) == ("env:Sender", "ter:InvalidArgVal")
    assert points.count() == 0
    subscription = points.create("PT60S", clock.now)
    with pytest.raises(EventsFault):
        subscription.renew(asked, clock.now)
    assert subscription.termination == START + timedelta(seconds=60)


def test_renewing_moves_the_end_and_an_unrenewed_subscription_expires(points, clock):
    subscription = points.create("PT60S", clock.now)
    clock.now = START + timedelta(seconds=50)
    assert subscription.renew("PT60S", clock.now) == START + timedelta(seconds=110)
    clock.now = START + timedelta(seconds=109)
    assert points.find(subscription.id) is subscription
    clock.now = START + timedelta(seconds=110)
    assert points.find(subscription.id) is None
    assert points.count() == 0


def test_at_most_max_subscriptions_and_expired_ones_make_room(points, clock):
    made = [points.create(f"PT{60 * (i + 1)}S", clock.now) for i in range(3)]
    with pytest.raises(EventsFault) as refused:
        points.create("PT60S", clock.now)
    assert refused.value.code == "env:Receiver"
    assert "at most 3" in refused.value.reason
    clock.now = START + timedelta(seconds=60)
    newer = points.create("PT60S", clock.now)
    assert points.count() == 3
    assert points.find(made[0].id) is None
    assert {points.find(s.id) for s in (*made[1:], newer)} == {*made[1:], newer}
    assert points.unsubscribe(made[1].id)
    assert points.count() == 2


def test_subscription_ids_are_unguessable_and_url_safe(points, clock):
    ids = set()
    for _ in range(50):
        subscription = points.create("PT60S", clock.now)
        ids.add(subscription.id)
        points.unsubscribe(subscription.id)
    assert len(ids) == 50
    assert all(len(i) >= 22 and all(c.isalnum() or c in "-_" for c in i) for i in ids)
    assert points.find("not-a-subscription") is None


def test_event_properties_name_both_topics_with_their_items():
    properties = reply("GetEventProperties", "EventBinding", event_properties_xml())
    assert properties.FixedTopicSet is True
    assert "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" in properties.TopicExpressionDialect
    assert properties.MessageContentFilterDialect
    topics = {}
    for root in properties.TopicSet._value_1:
        for leaf in root.iter():
            if leaf.get("{http://docs.oasis-open.org/wsn/t-1}topic") == "true":
                path = [leaf, *leaf.iterancestors()]
                path = path[: path.index(root) + 1]
                name = "/".join(etree.QName(e).localname for e in reversed(path))
                topics[name] = [
                    d.get("Name") for d in leaf.iter("{http://www.onvif.org/ver10/schema}SimpleItemDescription")
                ]
    assert topics == {
        "RuleEngine/CellMotionDetector/Motion": [
            "VideoSourceConfigurationToken",
            "VideoAnalyticsConfigurationToken",
            "Rule",
            "IsMotion",
        ],
        "Device/Trigger/DigitalInput": ["InputToken", "LogicalState"],
    }
