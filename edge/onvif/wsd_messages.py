"""WS-Discovery's messages for this device: a Probe read safely, and the Hello, Bye and ProbeMatch sent.

The ``wsdiscovery`` library builds the messages, reads a Probe from a parsed document and
matches its types and scopes, all through its public functions. It never sees raw bytes
from the network: those are size-capped and parsed by ``defusedxml`` here (no DTD, no
entities), so a probe can neither expand nor make the reply larger than it looks.
"""

from __future__ import annotations

import logging
import uuid
from xml.dom.minidom import Document
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.minidom import parseString
from wsdiscovery.actions import (
    NS_ACTION_PROBE,
    NS_ACTION_PROBE_MATCH,
    ProbeResolveMatch,
    constructBye,
    constructHello,
    createByeMessage,
    createHelloMessage,
    createProbeMatchMessage,
    parseProbeMessage,
)
from wsdiscovery.envelope import SoapEnvelope
from wsdiscovery.namespaces import NS_ADDRESS_UNKNOWN, NS_ADDRESSING
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope
from wsdiscovery.service import Service
from wsdiscovery.util import matchesFilter

log = logging.getLogger(__name__)

MAX_DATAGRAM = 4096  # bytes; ONVIF clients' probes are under 1 KiB
MAX_MESSAGE_ID = 256  # characters; a urn:uuid is 45
MAX_TAGS = 64  # '<' in a datagram; Home Assistant's probe has 19, and parsing costs by the element

NETWORK_VIDEO_TRANSMITTER = QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")
DEVICE = QName("http://www.onvif.org/ver10/device/wsdl", "Device", "tds")


def might_be_probe(data: bytes) -> bool:
    """A check costing no parse: the Probe action is there, and not more elements than a probe needs."""
    return NS_ACTION_PROBE.encode() in data and data.count(b"<") <= MAX_TAGS


def read_probe(data: bytes) -> SoapEnvelope | None:
    """The Probe in ``data``, or None for anything else: too big, not XML, a DTD or entity, another action."""
    if len(data) > MAX_DATAGRAM:
        return None
    try:
        document = parseString(data, forbid_dtd=True)
    except (DefusedXmlException, ExpatError, ValueError):
        return None
    if _action(document) != NS_ACTION_PROBE:
        return None
    try:
        probe = parseProbeMessage(document)
    except Exception:  # the library's reader trips on missing or empty headers with whatever error it meets
        log.debug("ONVIF: WS-Discovery: a malformed Probe ignored", exc_info=True)
        return None
    message_id = probe.getMessageId()
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        return None
    return probe


def _action(document: Document) -> str | None:
    actions = document.getElementsByTagNameNS(NS_ADDRESSING, "Action")
    if not actions or actions[0].firstChild is None:
        return None
    return str(getattr(actions[0].firstChild, "data", "")).strip()


class Advertisement:
    """What this device announces: one service, its InstanceId fixed for the process (one more at each start:
    :func:`edge.onvif.instance_id.next_instance_id`), its MetadataVersion bumped whenever its addresses change."""

    def __init__(self, endpoint_reference: str, scopes: list[str], instance_id: int) -> None:
        self._service = Service(
            [NETWORK_VIDEO_TRANSMITTER, DEVICE],
            [Scope(scope) for scope in scopes],
            [],
            endpoint_reference,
            str(instance_id),
        )
        self._addresses: frozenset[str] = frozenset()

    @property
    def instance_id(self) -> str:
        return str(self._service.getInstanceId())

    @property
    def metadata_version(self) -> int:
        return int(self._service.getMetadataVersion())

    def addresses_now(self, addresses: frozenset[str]) -> bool:
        """Record the device's addresses; True (and MetadataVersion bumped) when they changed."""
        if addresses == self._addresses:
            return False
        if self._addresses:
            self._service.setMetadataVersion(self.metadata_version + 1)
        self._addresses = addresses
        return True

    def answers(self, probe: SoapEnvelope) -> bool:
        """Whether the probe's types and scopes match this device."""
        return bool(matchesFilter(self._service, probe.getTypes(), probe.getScopes()))

    def probe_match(self, probe: SoapEnvelope, xaddrs: list[str]) -> bytes:
        service = self._service
        service.incrementMessageNumber()
        match = SoapEnvelope()
        match.setAction(NS_ACTION_PROBE_MATCH)
        match.setTo(NS_ADDRESS_UNKNOWN)
        match.setMessageId(uuid.uuid4().urn)
        match.setRelatesTo(probe.getMessageId())
        match.setInstanceId(self.instance_id)
        match.setMessageNumber(str(service.getMessageNumber()))
        match.getProbeResolveMatches().append(
            ProbeResolveMatch(
                service.getEPR(), service.getTypes(), service.getScopes(), xaddrs, str(self.metadata_version)
            )
        )
        return str(createProbeMatchMessage(match)).encode()

    def hello(self, xaddrs: list[str]) -> bytes:
        hello = constructHello(self._service)
        hello.setXAddrs(xaddrs)
        hello.setMetadataVersion(str(self.metadata_version))
        return str(createHelloMessage(hello)).encode()

    def bye(self) -> bytes:
        self._service.incrementMessageNumber()
        return str(createByeMessage(constructBye(self._service))).encode()
