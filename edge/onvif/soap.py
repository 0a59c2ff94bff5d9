"""SOAP 1.2 for ONVIF: hardened parsing, envelopes and faults.

Requests are parsed with :mod:`defusedxml` (no DTD, so no entity expansion and no
external reference: a billion-laughs document is refused at its ``<!DOCTYPE``), after
the body is capped at :data:`MAX_BODY_BYTES`. Whatever is wrong with a document is a
:class:`SoapFault`; every fault is sent with HTTP 400 (401 when credentials are wanted),
so a 5xx from the ONVIF endpoints is always a bug. ONVIF clients (zeep, Home
Assistant) read the fault whatever the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml import DefusedXmlException

MAX_BODY_BYTES = 64 * 1024
CONTENT_TYPE = "application/soap+xml"

ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
TER = "http://www.onvif.org/ver10/error"
TT = "http://www.onvif.org/ver10/schema"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSTOP = "http://docs.oasis-open.org/wsn/t-1"
TNS1 = "http://www.onvif.org/ver10/topics"
XS = "http://www.w3.org/2001/XMLSchema"

# The prefixes every answer declares on its envelope, so handlers write ``tt:Name`` and so on.
PREFIXES = {
    "env": ENV,
    "wsa": WSA,
    "ter": TER,
    "tt": TT,
    "tds": TDS,
    "trt": TRT,
    "tev": TEV,
    "wsnt": WSNT,
    "wstop": WSTOP,
    "tns1": TNS1,
    "xs": XS,
}


def declarations(*prefixes: str) -> str:
    """``xmlns:`` attributes for these prefixes of :data:`PREFIXES` (all of them when none is named)."""
    return " ".join(f'xmlns:{prefix}="{PREFIXES[prefix]}"' for prefix in prefixes or PREFIXES)


_DECLARATIONS = declarations()


class SoapFault(Exception):
    """A SOAP 1.2 fault: ``code`` (``env:Sender`` or ``env:Receiver``), ONVIF subcodes, a reason."""

    def __init__(
        self,
        code: str,
        subcodes: tuple[str, ...],
        reason: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.status = status
        self.headers = dict(headers or {})


def sender_fault(subcode: str, reason: str) -> SoapFault:
    """The client's request is wrong (``ter:InvalidArgVal``, ``ter:NotAuthorized``, ...)."""
    return SoapFault("env:Sender", (subcode,), reason)


def action_not_supported(operation: str) -> SoapFault:
    return SoapFault("env:Receiver", ("ter:ActionNotSupported",), f"{operation[:100]} is not supported")


@dataclass(frozen=True)
class SoapRequest:
    """A parsed request: its header (or None) and the body's one element, the operation."""

    header: Element | None
    operation: Element
    namespace: str = field(init=False)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        tag = self.operation.tag
        namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(self, "name", name)

    def text(self, *path: str) -> str | None:
        """The text of the element at ``path`` below the operation (``{ns}local`` steps), or None."""
        found = self.operation.find("/".join(path))
        return None if found is None else (found.text or "").strip()


def parse(body: bytes) -> SoapRequest:
    """The request in ``body``: a SOAP 1.2 envelope whose body holds one element."""
    if len(body) > MAX_BODY_BYTES:
        raise sender_fault("ter:InvalidArgs", f"the request is larger than {MAX_BODY_BYTES} bytes")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise sender_fault("ter:WellFormed", f"refused: {type(exc).__name__} (no DTDs or entities)") from None
    except (ParseError, ValueError, LookupError) as exc:
        raise sender_fault("ter:WellFormed", f"not well-formed XML: {str(exc)[:200]}") from None
    if root.tag != f"{{{ENV}}}Envelope":
        if root.tag.endswith("}Envelope"):
            raise SoapFault("env:VersionMismatch", (), "only SOAP 1.2 (http://www.w3.org/2003/05/soap-envelope)")
        raise sender_fault("ter:InvalidArgs", "the document is not a SOAP envelope")
    header = root.find(f"{{{ENV}}}Header")
    body_element = root.find(f"{{{ENV}}}Body")
    if body_element is None or len(body_element) != 1:
        raise sender_fault("ter:InvalidArgs", "the envelope's Body must hold exactly one element")
    return SoapRequest(header, body_element[0])


def envelope(body: str, header: str = "") -> str:
    """A SOAP 1.2 envelope around ``body`` (and ``header``), with the usual ONVIF prefixes declared."""
    head = f"<env:Header>{header}</env:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_DECLARATIONS}>'
        f"{head}<env:Body>{body}</env:Body></env:Envelope>"
    )


def addressing_header(action: str, relates_to: str | None) -> str:
    """WS-Addressing ``Action`` (and ``RelatesTo`` the request's ``MessageID``) for an answer."""
    relates = f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else ""
    return f"<wsa:Action>{escape(action)}</wsa:Action>{relates}"


def message_id(request: SoapRequest) -> str | None:
    if request.header is None:
        return None
    found = request.header.find(f"{{{WSA}}}MessageID")
    return None if found is None or not found.text else found.text.strip()[:200]


def fault_xml(fault: SoapFault) -> str:
    subcode = ""
    for value in reversed(fault.subcodes):
        subcode = f"<env:Subcode><env:Value>{value}</env:Value>{subcode}</env:Subcode>"
    return (
        f"<env:Fault><env:Code><env:Value>{fault.code}</env:Value>{subcode}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason></env:Fault>'
    )


def xml_response(document: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=document, status=status, content_type=CONTENT_TYPE, charset="utf-8", headers=dict(headers or {})
    )


def fault_response(fault: SoapFault) -> web.Response:
    return xml_response(envelope(fault_xml(fault)), fault.status, fault.headers)


async def read_body(request: web.Request) -> bytes:
    """At most :data:`MAX_BODY_BYTES` (+1, to tell a larger body), never more whatever ``Content-Length`` says."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise sender_fault("ter:InvalidArgs", f"the request is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES and (chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(body))):
        body += chunk
    return bytes(body)
