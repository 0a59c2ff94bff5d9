"""ONVIF's events service over SOAP: ``/onvif/events_service`` makes pull points, each at
``/onvif/subscription/<id>`` (PullMessages, Renew, Unsubscribe, SetSynchronizationPoint).

The subscriptions themselves (what they hold, when they end) are :mod:`edge.onvif.events`';
this module reads the requests and writes the answers, with the WS-Addressing actions
zeep-based clients (Home Assistant) expect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from xml.sax.saxutils import escape

from edge.onvif.device import events_capabilities_attributes
from edge.onvif.endpoint import Call, Handler, Operation
from edge.onvif.events import EventsFault, PullPoints, Subscription, event_properties_xml, parse_duration, xs_datetime
from edge.onvif.soap import TEV, WSNT, SoapFault

SUBSCRIPTION_PATH = "/onvif/subscription/"
EVENT_PORT_ACTION = f"{TEV}/EventPortType"
PULL_POINT_ACTION = f"{TEV}/PullPointSubscription"
SUBSCRIPTION_MANAGER_ACTION = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager"
DEFAULT_PULL_TIMEOUT = "PT10S"
DEFAULT_MESSAGE_LIMIT = 1


def _fault(exc: EventsFault) -> SoapFault:
    return SoapFault(exc.code, (exc.subcode,), exc.reason)


def _translated(handler: Handler) -> Handler:
    """The handler, its :class:`EventsFault` turned into a SOAP fault."""

    async def call(request: Call) -> str:
        try:
            return await handler(request)
        except EventsFault as exc:
            raise _fault(exc) from None

    return call


class EventService:
    def __init__(self, pull_points: PullPoints, max_pull_points: int, clock: Callable[[], datetime]) -> None:
        self._pull_points = pull_points
        self._max_pull_points = max_pull_points
        self._clock = clock

    def operations(self) -> dict[tuple[str, str], Operation]:
        """The events service's own."""
        return {
            (TEV, name): Operation(_translated(handler), f"{EVENT_PORT_ACTION}/{name}Response")
            for name, handler in {
                "GetServiceCapabilities": self.get_service_capabilities,
                "GetEventProperties": self.get_event_properties,
                "CreatePullPointSubscription": self.create_pull_point_subscription,
            }.items()
        }

    def subscription_operations(self) -> dict[tuple[str, str], Operation]:
        """A pull point's, at its own address (the subscription is the last part of the path)."""
        pull_point: dict[str, Handler] = {
            "PullMessages": self.pull_messages,
            "SetSynchronizationPoint": self.set_synchronization_point,
        }
        manager: dict[str, Handler] = {"Renew": self.renew, "Unsubscribe": self.unsubscribe}
        operations = {
            (TEV, name): Operation(_translated(handler), f"{PULL_POINT_ACTION}/{name}Response")
            for name, handler in pull_point.items()
        }
        operations.update(
            {
                (WSNT, name): Operation(_translated(handler), f"{SUBSCRIPTION_MANAGER_ACTION}/{name}Response")
                for name, handler in manager.items()
            }
        )
        return operations

    # --- the events service -------------------------------------------------------------

    async def get_service_capabilities(self, call: Call) -> str:
        attributes = events_capabilities_attributes(self._max_pull_points)
        capabilities = f"<tev:Capabilities {attributes}/>"
        return f"<tev:GetServiceCapabilitiesResponse>{capabilities}</tev:GetServiceCapabilitiesResponse>"

    async def get_event_properties(self, call: Call) -> str:
        return event_properties_xml()

    async def create_pull_point_subscription(self, call: Call) -> str:
        now = self._clock()
        subscription = self._pull_points.create(call.soap.text(f"{{{TEV}}}InitialTerminationTime"), now)
        address = f"{call.base_url}{SUBSCRIPTION_PATH}{subscription.id}"
        return (
            "<tev:CreatePullPointSubscriptionResponse>"
            f"<tev:SubscriptionReference><wsa:Address>{escape(address)}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{xs_datetime(now)}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{xs_datetime(subscription.termination)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    # --- a pull point -------------------------------------------------------------------------

    def _subscription(self, call: Call) -> Subscription:
        subscription_id = call.request.match_info["subscription"]
        found = self._pull_points.find(subscription_id)
        if found is None:
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal",),
                "no such subscription (unknown, ended, or expired: make a new one)",
            )
        return found

    async def pull_messages(self, call: Call) -> str:
        subscription = self._subscription(call)
        now = self._clock()
        timeout = parse_duration(call.soap.text(f"{{{TEV}}}Timeout") or DEFAULT_PULL_TIMEOUT, now)
        limit_text = call.soap.text(f"{{{TEV}}}MessageLimit") or ""
        try:
            limit = int(limit_text) if limit_text else DEFAULT_MESSAGE_LIMIT
        except ValueError:
            raise SoapFault(
                "env:Sender", ("ter:InvalidArgVal",), f"MessageLimit {limit_text[:20]!r} is not a number"
            ) from None
        messages = await subscription.pull(timeout.total_seconds(), limit)
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{xs_datetime(self._clock())}</tev:CurrentTime>"
            f"<tev:TerminationTime>{xs_datetime(subscription.termination)}</tev:TerminationTime>"
            f"{''.join(messages)}</tev:PullMessagesResponse>"
        )

    async def set_synchronization_point(self, call: Call) -> str:
        self._subscription(call).synchronize()
        return "<tev:SetSynchronizationPointResponse/>"

    async def renew(self, call: Call) -> str:
        subscription = self._subscription(call)
        now = self._clock()
        termination = subscription.renew(call.soap.text(f"{{{WSNT}}}TerminationTime"), now)
        return (
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{xs_datetime(termination)}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{xs_datetime(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
        )

    async def unsubscribe(self, call: Call) -> str:
        self._pull_points.unsubscribe(self._subscription(call).id)
        return "<wsnt:UnsubscribeResponse/>"
