"""The HTTP side of a WHIP client (RFC 9725): offer, ICE restart, end; every request bounded in time.

The server's answers become a :class:`WhipResource` or a :class:`WhipError` that
says whether trying again can help (:attr:`WhipError.permanent`): a bad token or
URL will not change by itself, a server that is down or busy will.

The bearer token goes only to the origin (scheme, host, port) of the endpoint it was
configured for. RFC 9725 lets the server put the session (its ``Location``) on another
origin: the PATCH and DELETE go there without ``Authorization``, and the log says so
once per origin. (Redirects to another origin lose it too: aiohttp drops the header.)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from edge.config import IceServer
from edge.security.hosts import DEFAULT_PORTS
from edge.webrtc.ice_servers import ice_servers_from_links
from edge.webrtc.sdp import SDP, SDPFRAG

# 4xx answers that may change without the owner doing anything: a timeout, a conflict
# (the server still holds our previous session), too early, too many requests.
TRANSIENT_4XX = frozenset({408, 409, 425, 429})
MAX_REASON = 200
log = logging.getLogger(__name__)


class WhipError(Exception):
    """A request failed: ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """A refusal that repeating the same request will not change (bad token, wrong URL...)."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in TRANSIENT_4XX


@dataclass(frozen=True)
class WhipResource:
    """A session the server made for our offer."""

    url: str  # where PATCH and DELETE go (the Location, made absolute)
    answer: str
    etag: str | None
    ice_servers: tuple[IceServer, ...] = ()  # from Link: rel="ice-server" headers
    accepts_patch: bool = False  # the server said it takes trickle/restart fragments


@dataclass
class WhipClient:
    """Requests to one WHIP endpoint; ``timeout`` bounds each whole request (a hung server costs that, no more).

    ``token`` is sent only to ``url``'s origin; ``name`` (the target's) starts the log lines.
    """

    http: aiohttp.ClientSession
    url: str
    token: str = ""
    timeout: float = 5.0
    name: str = ""
    _told: set[tuple[str, str, int | None]] = field(init=False, default_factory=set)  # origins logged

    def _authorization(self, url: str) -> dict[str, str]:
        """``Authorization`` for a request to ``url``: none unless it is on the endpoint's origin."""
        if not self.token:
            return {}
        there = origin(url)
        if there == origin(self.url):
            return {"Authorization": f"Bearer {self.token}"}
        if there not in self._told:
            self._told.add(there)
            log.warning(
                "publish %s: the server put the session on another origin, %s (the endpoint is on %s): "
                "requests go there without the token",
                self.name,
                origin_text(url),
                origin_text(self.url),
            )
        return {}

    async def offer(self, sdp: str) -> WhipResource:
        """POST the offer; the server's session, or :class:`WhipError`."""
        reply = await self._send("POST", self.url, sdp, {"Content-Type": SDP})
        if reply.status != 201:
            raise reply.refusal()
        location = reply.headers.get("Location")
        if not location:
            raise WhipError("the server answered 201 without a Location header", reply.status)
        if not reply.body.startswith("v=0"):
            raise WhipError("the server's answer is not SDP", reply.status)
        return WhipResource(
            url=urljoin(reply.url, location),
            answer=reply.body,
            etag=reply.headers.get("ETag"),
            ice_servers=ice_servers_from_links(reply.headers.getall("Link", [])),
            accepts_patch=SDPFRAG in reply.headers.get("Accept-Patch", ""),
        )

    async def restart(self, resource: WhipResource, fragment: str) -> tuple[str, str | None]:
        """PATCH an ICE restart fragment: the server's fragment and its new ETag."""
        headers = {"Content-Type": SDPFRAG, "If-Match": resource.etag or "*"}
        reply = await self._send("PATCH", resource.url, fragment, headers)
        if reply.status != 200:
            raise reply.refusal()
        return reply.body, reply.headers.get("ETag")

    async def delete(self, resource: WhipResource) -> None:
        """End the session on the server (404: it had ended it already)."""
        reply = await self._send("DELETE", resource.url)
        if reply.status >= 400 and reply.status != 404:
            raise reply.refusal()

    async def _send(
        self, method: str, url: str, data: str | None = None, headers: dict[str, str] | None = None
    ) -> _Reply:
        """One request, read whole, within ``timeout``; no answer at all is a :class:`WhipError` too."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.http.request(
                    method,
                    url,
                    data=data,
                    headers={**self._authorization(url), **(headers or {})},
                    allow_redirects=True,
                ) as response:
                    return _Reply(
                        response.status,
                        response.reason or "",
                        response.headers,
                        await response.text(),
                        str(response.url),
                    )
        except TimeoutError:
            raise WhipError(f"{method} to {server_of(url)}: no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientError, UnicodeDecodeError) as error:
            reason = str(error).replace(url, server_of(url)) or type(error).__name__
            raise WhipError(f"{method} to {server_of(url)}: {reason}") from None


@dataclass(frozen=True)
class _Reply:
    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    body: str
    url: str

    def refusal(self) -> WhipError:
        reason = " ".join(self.body.split())[:MAX_REASON] or self.reason
        retry_after = self.headers.get("Retry-After", "")
        return WhipError(
            f"{self.status} {reason}".strip(), self.status, float(retry_after) if retry_after.isdigit() else None
        )


def server_of(url: str) -> str:
    """``scheme://host:port`` of a URL: never its path, which may be the secret (Cloudflare's is)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def origin(url: str) -> tuple[str, str, int | None]:
    """A URL's origin as RFC 6454 compares them: scheme, host (lower case), port (the scheme's default if none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number: aiohttp refuses such a URL before sending anything
        return scheme, parts.hostname or "", None
    return scheme, parts.hostname or "", port or DEFAULT_PORTS.get(scheme)


def origin_text(url: str) -> str:
    """``scheme://host:port``: never a user name, password or path (any may be a secret)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
