"""What a trusted reverse proxy says about the browser's request: its scheme, host, path prefix and address.

Behind nginx or Caddy at ``https://home.example/cam/``, the daemon gets plain HTTP from the
proxy's address, for ``/whep`` where the browser asked for ``/cam/whep``. The proxy says what
the browser asked for in ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-Prefix``,
and who asked in ``X-Forwarded-For``. Anyone can send those headers, so they count only from
a peer in ``[server] trusted_proxies``; from any other they are ignored.

Every part behind this middleware sees the browser's side: ``request.scheme``,
``request.host`` and ``request.remote`` are the forwarded ones (the cross-origin checks, the
session cookie's ``Secure`` flag, the login rate limit, the logs), and :func:`prefix` starts
every path the daemon hands out (WHEP's ``Location``, clip links, the cookie's path). aio-libs'
aiohttp-remotes does not fit: it has no prefix, and its strict mode refuses a request that
does not come through the proxy (a LAN viewer's).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler

from edge.security.hosts import split_host
from edge.web.errors import ErrorResponse

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PREFIX_KEY = web.RequestKey("forwarded_prefix", str)
TRUSTED_KEY: web.AppKey[TrustedProxies] = web.AppKey("trusted_proxies")
SCHEMES = frozenset({"http", "https"})
# Path segments: no empty, "." or ".." segment; nothing a browser decodes ("%") or that ends a
# cookie's path (";", ",").
PREFIX = re.compile(r"(/(?!\.\.?(/|$))[A-Za-z0-9._~!$&'()*+=:@-]+)+")


def _address(text: str) -> IpAddress | None:
    """An address as a peer or ``X-Forwarded-For`` gives it; IPv4 mapped into IPv6 (``::ffff:a.b.c.d``) as IPv4."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _first(request: web.Request, header: str) -> str | None:
    """The leftmost value (the one the browser's side set) of a header that a chain of proxies may append to."""
    values = request.headers.getall(header, [])
    if not values:
        return None
    return values[0].split(",", 1)[0].strip()


class TrustedProxies:
    """``[server] trusted_proxies``: the peers whose forwarding headers count."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(n) for n in networks)  # checked by the configuration

    def trusts(self, address: str | IpAddress | None) -> bool:
        if isinstance(address, str):
            address = _address(address)
        return address is not None and any(address in network for network in self._networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The browser's address: ``X-Forwarded-For`` read from the right, past every trusted proxy.

        A proxy appends the address it was reached from, so the rightmost entry not in the
        list is the browser (what is left of it, the browser may have written itself).
        """
        client = peer
        for entry in reversed(forwarded_for):
            if not self.trusts(client):
                break
            address = _address(entry)
            if address is None:  # "unknown", or garbage: keep the last address a trusted proxy gave
                break
            client = str(address)
        return client

    def forwarded(self, request: web.Request) -> web.Request:
        """``request`` as the browser made it, if its peer is trusted; else ``request`` itself."""
        peer = request.remote
        if not self._networks or peer is None or not self.trusts(peer):
            return request
        scheme = _first(request, "X-Forwarded-Proto") or request.scheme
        if scheme.lower() not in SCHEMES:
            raise ErrorResponse(400, f"X-Forwarded-Proto {scheme[:20]!r} is not http or https")
        host = _first(request, "X-Forwarded-Host")
        if host is None:
            host = request.headers.get("Host", "")
        elif split_host(host, scheme.lower()) is None:
            raise ErrorResponse(400, f"X-Forwarded-Host {host[:100]!r} is not a host[:port]")
        forwarded_for = [e for value in request.headers.getall("X-Forwarded-For", []) for e in value.split(",")]
        path_prefix = _prefix(_first(request, "X-Forwarded-Prefix") or "")
        forwarded = request.clone(scheme=scheme.lower(), host=host, remote=self.client(peer, forwarded_for))
        forwarded[PREFIX_KEY] = path_prefix
        return forwarded


def _prefix(value: str) -> str:
    """``X-Forwarded-Prefix`` as a path without a trailing ``/`` (``""`` for ``/``)."""
    stripped = value.rstrip("/")
    if stripped and not PREFIX.fullmatch(stripped):
        raise ErrorResponse(400, f"X-Forwarded-Prefix {value[:100]!r} is not a path like /cam")
    return stripped


def prefix(request: web.Request) -> str:
    """The path a trusted proxy serves the daemon under (``/cam``), or ``""``: every path handed out starts with it."""
    return request.get(PREFIX_KEY, "")


@web.middleware
async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request.app[TRUSTED_KEY].forwarded(request))


def add_forwarded(app: web.Application, trusted: TrustedProxies) -> None:
    """Outermost (add it after the other middlewares): every other part sees the browser's side."""
    app[TRUSTED_KEY] = trusted
    app.middlewares.insert(0, forwarded)


__all__ = ["TrustedProxies", "add_forwarded", "prefix"]
