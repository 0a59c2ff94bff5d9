"""Refusing requests that another site makes through a viewer's browser (CSRF) or by DNS rebinding.

A browser adds its session cookie (or cached HTTP Basic or Digest credentials) to any request
to the camera, and with ``[auth] enabled = false`` every request is trusted: such
*ambient* requests must come from the camera's own page. Rules, in order:

1. With auth off, ``Host`` must be one of the camera's names or addresses
   (:class:`~edge.security.hosts.CameraNames`, ``[server] allowed_hosts``, the hosts of
   ``[server] allowed_origins``): a rebound name is refused before anything is read.
2. A state-changing request (POST, PUT, PATCH, DELETE) that is ambient, i.e. with auth
   off, or with the session cookie or Basic or Digest credentials and no ``Authorization: Bearer``:

   - an ``Origin`` must be the camera's own (the scheme, host and port the request
     came to; from a trusted reverse proxy, those the browser asked it for,
     :mod:`edge.web.forwarded`) or one of ``[server] allowed_origins``;
   - without ``Origin``, a ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``);
   - with neither, only auth off lets it through (a script on the network); a request
     with the session cookie comes from a browser and must say where from;
   - a POST, and any request with a body, must be ``application/json`` (or WHEP's
     ``application/sdp``, ``application/trickle-ice-sdpfrag``): types another site's
     form or ``no-cors`` fetch cannot send without the browser asking the camera first.

   ONVIF's endpoints (``/onvif/``) apply the last rule themselves: they take SOAP's
   content types only, so no other rule is needed for them.

A request with ``Authorization: Bearer`` (auth on) carries its credential explicitly,
not by the browser's doing: WHEP players on other origins and scripts keep working,
and the token itself is checked by :mod:`edge.security.auth`.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler

from edge.config import ServerConfig
from edge.security.auth import SESSION_COOKIE
from edge.security.hosts import CameraNames, Origin, parse_origin, split_host
from edge.web.errors import ErrorResponse

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_TYPES = ("application/json", "application/sdp", "application/trickle-ice-sdpfrag")
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})  # "none": the person's own action (address bar)
CHECKS_KEY: web.AppKey[RequestChecks] = web.AppKey("request_checks")
# ONVIF's SOAP endpoints take only SOAP content types (edge.onvif.endpoint), which another site's page
# cannot send without a CORS preflight the camera never grants: rule 2 is theirs already.
SOAP_PREFIX = "/onvif/"


def _host(request: web.Request) -> str | None:
    """The host the browser asked for: ``Host``, or what a trusted proxy forwarded (scheme too:
    ``request.scheme``; see :mod:`edge.web.forwarded`). None without ``Host`` (never a DNS lookup)."""
    return request.host if "Host" in request.headers else None


def refuse(status: int, reason: str) -> ErrorResponse:
    # Readable by a page on another origin, like the 401: it says what is wrong, nothing else.
    return ErrorResponse(status, reason, headers={"Access-Control-Allow-Origin": "*"})


class RequestChecks:
    def __init__(self, names: CameraNames, allowed_origins: Iterable[Origin], auth_enabled: bool) -> None:
        self.names = names
        self.allowed_origins = frozenset(allowed_origins)
        self._origin_hosts = frozenset(host for _, host, _ in self.allowed_origins)
        self.auth_enabled = auth_enabled

    def refusal(self, request: web.Request) -> ErrorResponse | None:
        """The 4xx to answer instead of handling ``request``, or None."""
        if not self.auth_enabled and (refused := self._host_refusal(request)):
            return refused
        if request.method not in STATE_CHANGING or request.path.startswith(SOAP_PREFIX) or not self._ambient(request):
            return None
        return self._origin_refusal(request) or self._type_refusal(request)

    def _host_refusal(self, request: web.Request) -> ErrorResponse | None:
        header = _host(request)
        if header is None:  # HTTP/1.0 without Host: not a browser, nothing rebound
            return None
        parsed = split_host(header, request.scheme)
        if parsed is not None and (parsed[0] in self._origin_hosts or self.names.is_own(parsed[0])):
            return None
        return refuse(
            403,
            f"Host {header[:100]!r} is not one of this camera's names or addresses "
            "(a name of your own: add it to [server] allowed_hosts)",
        )

    def _ambient(self, request: web.Request) -> bool:
        """Whether the browser, not the client's own code, supplies the request's authority."""
        if not self.auth_enabled:
            return True
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            return False
        # Browsers keep Basic and Digest credentials and send them unasked, like the cookie.
        scheme = authorization.partition(" ")[0].lower()
        return SESSION_COOKIE in request.cookies or scheme in ("basic", "digest")

    def _origin_refusal(self, request: web.Request) -> ErrorResponse | None:
        origin = request.headers.get("Origin")
        if origin is not None:
            if self._own_origin(parse_origin(origin), request):
                return None
            return refuse(
                403,
                f"cross-origin request refused: Origin {origin[:100]!r} is not this camera's page "
                "(a reverse proxy's address: add the proxy to [server] trusted_proxies, or this origin to "
                "allowed_origins)",
            )
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None:
            if site in SAME_ORIGIN_FETCH:
                return None
            return refuse(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")
        if self.auth_enabled:  # the session cookie or Basic: a browser that does not say where from
            return refuse(
                403,
                "request without Origin refused: a logged-in browser's request must come from the camera's page "
                "(scripts: send Authorization: Bearer <token>)",
            )
        return None

    def from_own_page(self, request: web.Request) -> bool:
        """No ``Origin`` (not a browser's cross-origin request), or the camera's own (or an allowed) one."""
        origin = request.headers.get("Origin")
        return origin is None or self._own_origin(parse_origin(origin), request)

    def _own_origin(self, origin: Origin | None, request: web.Request) -> bool:
        if origin is None:
            return False
        if origin in self.allowed_origins:
            return True
        host = split_host(_host(request) or "", request.scheme)
        return host is not None and origin == (request.scheme, *host)

    def _type_refusal(self, request: web.Request) -> ErrorResponse | None:
        if request.method != "POST" and not request.body_exists:
            return None  # DELETE (WHEP's, a clip's) has no body
        if request.content_type in BODY_TYPES:
            return None
        return refuse(
            415,
            f"{request.method} needs Content-Type: application/json "
            "(WHEP: application/sdp, or application/trickle-ice-sdpfrag to PATCH)",
        )


@web.middleware
async def check_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    refused = request.app[CHECKS_KEY].refusal(request)
    if refused is not None:
        raise refused
    return await handler(request)


def request_checks(server: ServerConfig, auth_enabled: bool) -> RequestChecks:
    """The checks for ``[server] allowed_hosts`` and ``allowed_origins`` (validated by the configuration)."""
    allowed = [origin for text in server.allowed_origins if (origin := parse_origin(text)) is not None]
    return RequestChecks(CameraNames(server.allowed_hosts), allowed, auth_enabled)


def add_request_checks(app: web.Application, checks: RequestChecks) -> None:
    """Before the token is checked: a refused request gets 403 (or 415) whatever its credentials."""
    app[CHECKS_KEY] = checks
    app.middlewares.append(check_request)


__all__ = ["CHECKS_KEY", "RequestChecks", "add_request_checks", "request_checks"]
