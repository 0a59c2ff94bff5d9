"""One ONVIF SOAP endpoint: parse, find the operation, check credentials, answer or fault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from edge.onvif.auth import OnvifAuth
from edge.onvif.soap import (
    SoapFault,
    SoapRequest,
    action_not_supported,
    addressing_header,
    envelope,
    fault_response,
    message_id,
    parse,
    read_body,
    xml_response,
)
from edge.web.forwarded import prefix

# SOAP 1.2's type, and SOAP 1.1's that some clients send for 1.2 envelopes. Neither is one another
# site's page can POST without a CORS preflight (see edge.security.origin).
SOAP_TYPES = frozenset({"application/soap+xml", "text/xml"})


@dataclass(frozen=True)
class Call:
    """An operation's request: the HTTP request it came in, and its parsed SOAP."""

    request: web.Request
    soap: SoapRequest

    @property
    def base_url(self) -> str:
        """``http://<the address the client used>:<port>``, and a trusted proxy's path prefix (``/cam``)
        if any: where the client reaches the camera."""
        return f"{self.request.scheme}://{self.request.host}{prefix(self.request)}"

    @property
    def host(self) -> str:
        """The address (or name) the client used, without the port; IPv6 in brackets."""
        host = self.request.host
        if host.startswith("["):
            return host.partition("]")[0] + "]"
        return host.rpartition(":")[0] if host.count(":") == 1 else host


Handler = Callable[[Call], Awaitable[str]]


@dataclass(frozen=True)
class Operation:
    handler: Handler  # gives the answer's body
    action: str | None = None  # the answer's WS-Addressing Action, for services whose clients read it
    open: bool = False  # needs no credentials (ONVIF's PRE_AUTH set)


class SoapEndpoint:
    def __init__(self, operations: Mapping[tuple[str, str], Operation], auth: OnvifAuth) -> None:
        """``operations`` by (namespace, name) of the body's element."""
        self._operations = operations
        self._auth = auth

    async def handle(self, request: web.Request) -> web.Response:
        try:
            if request.content_type not in SOAP_TYPES:
                raise SoapFault(
                    "env:Sender", ("ter:InvalidArgs",), "send Content-Type: application/soap+xml", status=415
                )
            soap = parse(await read_body(request))
            operation = self._operations.get((soap.namespace, soap.name))
            if operation is None:
                raise action_not_supported(soap.name)
            if not operation.open:
                await self._auth.check(request, soap)
            body = await operation.handler(Call(request, soap))
        except SoapFault as fault:
            return fault_response(fault)
        header = addressing_header(operation.action, message_id(soap)) if operation.action else ""
        return xml_response(envelope(body, header))
