"""ONVIF events: pull-point subscriptions that hear the daemon's triggers.

Motion is the topic ``tns1:RuleEngine/CellMotionDetector/Motion`` (``IsMotion``),
each GPIO input ``tns1:Device/Trigger/DigitalInput`` (``LogicalState``, its
``InputToken`` the trigger's name): what Home Assistant's ONVIF integration and
NVRs turn into a motion sensor and binary sensors.

A subscription made (or synchronised) gets the current state of every input
first (``PropertyOperation="Initialized"``), then each change (``"Changed"``).
Everything is bounded: the number of subscriptions (expired ones are dropped
first), each subscription's queue (the oldest messages go), how long a
subscription lives without a renewal and how long a pull waits.

This module parses no SOAP (it takes only the namespace prefixes of :mod:`edge.onvif.soap`):
the ONVIF service parses the requests, calls these, wraps the XML given back and turns
:class:`EventsFault` into a SOAP fault.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import quoteattr

import isodate

from edge.onvif.soap import declarations
from edge.triggers.source import TriggerSource

DEFAULT_TERMINATION = timedelta(seconds=60)  # when a request names none
MAX_TERMINATION = timedelta(hours=1)  # longer asks are cut to this (Home Assistant asks for 10 minutes)
MAX_PULL_TIMEOUT_S = 60.0  # Home Assistant long-polls 60 s, with a 90 s read timeout
MAX_QUEUED = 100  # messages kept per subscription (Home Assistant pulls up to 100)

MOTION_TOPIC = "tns1:RuleEngine/CellMotionDetector/Motion"
DIGITAL_INPUT_TOPIC = "tns1:Device/Trigger/DigitalInput"
VIDEO_ANALYTICS_TOKEN = "analytics"
MOTION_RULE = "MotionDetectorRule"

# Declared on the elements this module writes, which are whole without the envelope around them.
_XMLNS = declarations("wsnt", "wstop", "tev", "tt", "tns1", "xs")
CONCRETE_SET_DIALECT = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"


class EventsFault(Exception):
    """A request the events service refuses: ``code`` is the SOAP 1.2 Code (``env:Sender`` or
    ``env:Receiver``), ``subcode`` the ONVIF subcode (``ter:InvalidArgVal``, ``ter:Action``)."""

    def __init__(self, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason


def _invalid(reason: str) -> EventsFault:
    return EventsFault("env:Sender", "ter:InvalidArgVal", reason)


def utc_now() -> datetime:
    return datetime.now(UTC)


def xs_datetime(moment: datetime) -> str:
    """An xs:dateTime in UTC with milliseconds, as ONVIF devices write them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_duration(text: str, now: datetime) -> timedelta:
    """An xs:duration (``PT60S``, ``PT1M``, ``P1D``, ``P1M`` counted from ``now``; one that ends
    beyond the calendar: ``timedelta.max``), or :class:`EventsFault`."""
    beyond = timedelta.min if text.strip().startswith("-") else timedelta.max
    try:
        duration = isodate.parse_duration(text.strip())
    except OverflowError:  # more days than a timedelta holds
        return beyond
    except ValueError as exc:
        raise _invalid(f"not an xs:duration: {text[:40]!r} ({exc})") from None
    if isinstance(duration, timedelta):
        return duration
    try:
        return duration.totimedelta(start=now)
    except (ValueError, OverflowError):  # after the year 9999
        return beyond


def termination_time(requested: str | None, now: datetime) -> datetime:
    """When a subscription asked to end at ``requested`` (an xs:duration from ``now`` or an
    xs:dateTime; none: the default) ends: not after ``now + MAX_TERMINATION``, never in the past."""
    if requested is None or not requested.strip():
        return now + DEFAULT_TERMINATION
    text = requested.strip()
    if text.lstrip("-").startswith("P"):
        lives = parse_duration(text, now)
    else:
        try:
            end = isodate.parse_datetime(text)
        except ValueError as exc:
            raise _invalid(f"not an xs:duration or xs:dateTime: {text[:40]!r} ({exc})") from None
        lives = (end if end.tzinfo is not None else end.replace(tzinfo=UTC)) - now
    if lives <= timedelta(0):
        raise _invalid(f"the termination time {text[:40]!r} is not in the future")
    return now + min(lives, MAX_TERMINATION)


def _simple_items(items: dict[str, str]) -> str:
    return "".join(f"<tt:SimpleItem Name={quoteattr(name)} Value={quoteattr(value)}/>" for name, value in items.items())


def notification_message(topic: str, source: dict[str, str], data: dict[str, str], operation: str, at: datetime) -> str:
    """One ``wsnt:NotificationMessage`` element, its namespaces declared in it."""
    return (
        f"<wsnt:NotificationMessage {_XMLNS}>"
        f'<wsnt:Topic Dialect="{CONCRETE_SET_DIALECT}">{topic}</wsnt:Topic>'
        f"<wsnt:Message>"
        f'<tt:Message UtcTime="{xs_datetime(at)}" PropertyOperation="{operation}">'
        f"<tt:Source>{_simple_items(source)}</tt:Source>"
        f"<tt:Data>{_simple_items(data)}</tt:Data>"
        f"</tt:Message>"
        f"</wsnt:Message>"
        f"</wsnt:NotificationMessage>"
    )


def _boolean(value: bool) -> str:
    return "true" if value else "false"


class Subscription:
    """One pull point: the messages waiting for its next pull, and when it ends unless renewed."""

    def __init__(self, termination: datetime, states: Callable[[str], list[str]]) -> None:
        self.id = secrets.token_urlsafe(18)
        self.termination = termination
        self._states = states
        self._queue: deque[str] = deque(maxlen=MAX_QUEUED)  # a client that stops pulling loses the oldest
        self._arrived = asyncio.Event()
        self._closed = False

    def expired(self, now: datetime) -> bool:
        return now >= self.termination

    def renew(self, termination: str | None, now: datetime) -> datetime:
        """Move the end to ``termination`` (an xs:duration from ``now`` or an xs:dateTime)."""
        self.termination = termination_time(termination, now)
        return self.termination

    def queue(self, message: str) -> None:
        self._queue.append(message)
        self._arrived.set()

    def synchronize(self) -> None:
        """Queue the current state of every input (``PropertyOperation="Initialized"``)."""
        for message in self._states("Initialized"):
            self.queue(message)

    def close(self) -> None:
        """End it: a pull waiting on it returns."""
        self._closed = True
        self._arrived.set()

    async def pull(self, timeout_s: float, limit: int) -> list[str]:
        """Up to ``limit`` messages, oldest first: at once when some wait, else as soon as one comes,
        else none after ``timeout_s`` (at most ``MAX_PULL_TIMEOUT_S``) or when the subscription ends."""
        if limit < 1:
            raise _invalid(f"MessageLimit must be at least 1, not {limit}")
        wait_s = min(timeout_s, MAX_PULL_TIMEOUT_S) if timeout_s > 0 else 0.0  # NaN: no wait
        deadline = asyncio.get_running_loop().time() + wait_s
        while not self._queue and not self._closed:
            self._arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        return [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]


class PullPoints:
    """The pull-point subscriptions, owned by the ONVIF service (not a service of its own)."""

    def __init__(
        self,
        triggers: TriggerSource,
        max_subscriptions: int = 10,
        *,
        video_source_token: str = "video_source",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``video_source_token``: the media profile's video source configuration token (motion's
        source); ``clock``: the wall clock (messages' ``UtcTime``, expiry)."""
        self._triggers = triggers
        self._max = max_subscriptions
        self._video_source_token = video_source_token
        self._clock = clock
        self._subscriptions: dict[str, Subscription] = {}
        self._listening = False
        self._added_listener = False

    def start(self) -> None:
        """Start hearing the triggers' changes."""
        self._listening = True
        if not self._added_listener:
            self._triggers.add_listener(self._changed)
            self._added_listener = True

    def stop(self) -> None:
        """Stop hearing changes and end every subscription (their pending pulls return)."""
        self._listening = False
        for subscription in self._subscriptions.values():
            subscription.close()
        self._subscriptions.clear()

    def create(self, initial_termination: str | None, now: datetime) -> Subscription:
        """A new subscription, its queue holding the current states; :class:`EventsFault` when full."""
        self._drop_expired(now)
        if len(self._subscriptions) >= self._max:
            raise EventsFault(
                "env:Receiver", "ter:Action", f"at most {self._max} pull-point subscriptions: unsubscribe one or wait"
            )
        subscription = Subscription(termination_time(initial_termination, now), self._states)
        subscription.synchronize()
        self._subscriptions[subscription.id] = subscription
        return subscription

    def find(self, subscription_id: str) -> Subscription | None:
        """The subscription, unless unknown or expired."""
        self._drop_expired(self._clock())
        return self._subscriptions.get(subscription_id)

    def unsubscribe(self, subscription_id: str) -> bool:
        """End a subscription; whether it existed."""
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is None:
            return False
        subscription.close()
        return True

    def count(self) -> int:
        self._drop_expired(self._clock())
        return len(self._subscriptions)

    def _drop_expired(self, now: datetime) -> None:
        for subscription_id, subscription in list(self._subscriptions.items()):
            if subscription.expired(now):
                self.unsubscribe(subscription_id)

    def _changed(self, name: str, active: bool) -> None:
        if not self._listening:
            return
        now = self._clock()
        self._drop_expired(now)
        modes = {i["name"]: i["mode"] for i in self._triggers.inputs()}
        message = self._message(name, modes.get(name), active, "Changed", now)
        for subscription in self._subscriptions.values():
            subscription.queue(message)

    def _states(self, operation: str) -> list[str]:
        now = self._clock()
        return [self._message(i["name"], i["mode"], i["active"], operation, now) for i in self._triggers.inputs()]

    def _message(self, name: str, mode: str | None, active: bool, operation: str, at: datetime) -> str:
        if mode == "motion":
            source = {
                "VideoSourceConfigurationToken": self._video_source_token,
                "VideoAnalyticsConfigurationToken": VIDEO_ANALYTICS_TOKEN,
                "Rule": MOTION_RULE,
            }
            return notification_message(MOTION_TOPIC, source, {"IsMotion": _boolean(active)}, operation, at)
        return notification_message(
            DIGITAL_INPUT_TOPIC, {"InputToken": name}, {"LogicalState": _boolean(active)}, operation, at
        )


def _description(source: dict[str, str], data: dict[str, str]) -> str:
    def items(described: dict[str, str]) -> str:
        return "".join(
            f"<tt:SimpleItemDescription Name={quoteattr(name)} Type={quoteattr(kind)}/>"
            for name, kind in described.items()
        )

    return (
        '<tt:MessageDescription IsProperty="true">'
        f"<tt:Source>{items(source)}</tt:Source>"
        f"<tt:Data>{items(data)}</tt:Data>"
        "</tt:MessageDescription>"
    )


def event_properties_xml() -> str:
    """The whole ``tev:GetEventPropertiesResponse`` element (namespaces declared in it): the two
    topics and their messages, and the dialects this device understands."""
    motion = _description(
        {
            "VideoSourceConfigurationToken": "tt:ReferenceToken",
            "VideoAnalyticsConfigurationToken": "tt:ReferenceToken",
            "Rule": "xs:string",
        },
        {"IsMotion": "xs:boolean"},
    )
    digital_input = _description({"InputToken": "tt:ReferenceToken"}, {"LogicalState": "xs:boolean"})
    return (
        f"<tev:GetEventPropertiesResponse {_XMLNS}>"
        "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>"
        "<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
        "<wstop:TopicSet>"
        "<tns1:RuleEngine><tns1:CellMotionDetector>"
        f'<tns1:Motion wstop:topic="true">{motion}</tns1:Motion>'
        "</tns1:CellMotionDetector></tns1:RuleEngine>"
        "<tns1:Device><tns1:Trigger>"
        f'<tns1:DigitalInput wstop:topic="true">{digital_input}</tns1:DigitalInput>'
        "</tns1:Trigger></tns1:Device>"
        "</wstop:TopicSet>"
        f"<wsnt:TopicExpressionDialect>{CONCRETE_SET_DIALECT}</wsnt:TopicExpressionDialect>"
        "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
        "</wsnt:TopicExpressionDialect>"
        "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
        "</tev:MessageContentFilterDialect>"
        "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
        "</tev:MessageContentSchemaLocation>"
        "</tev:GetEventPropertiesResponse>"
    )
