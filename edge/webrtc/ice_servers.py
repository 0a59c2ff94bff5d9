"""ICE server lists: TURN credentials made per viewer, and RFC 9725 ``Link`` headers that carry them.

A TURN server shared by a camera and its viewers is usually coturn with
``use-auth-secret`` (the "TURN REST API" scheme): a username ``<expiry>:<name>``
and as password the base64 HMAC-SHA1 of that username under the shared secret.
The daemon keeps the secret and hands each authorised viewer (and its own peer
connections) credentials that expire; the secret never leaves the daemon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCIceServer
from aiortc.rtcicetransport import connection_kwargs

from edge.config import IceServer, WebRTCConfig, is_turn, urls_of

REST_USER = "edge"  # the name part of minted usernames: what coturn's logs show


def rest_credentials(secret: str, expires_at: int, user: str = REST_USER) -> tuple[str, str]:
    """coturn's ``use-auth-secret`` credentials: ``(f"{expires_at}:{user}", base64(HMAC-SHA1(secret, username)))``."""
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class IceServerList:
    """The configured ICE servers, as each new session gets them.

    TURN entries without a username get credentials minted from ``turn_secret`` at each
    call, valid ``turn_credential_lifetime`` seconds.
    """

    def __init__(self, config: WebRTCConfig, clock: Callable[[], float] = time.time) -> None:
        self._servers = config.ice_servers
        self._secret = config.turn_secret
        self._lifetime = config.turn_credential_lifetime
        self._clock = clock

    def minted(self, *, turn: bool = True) -> tuple[IceServer, ...]:
        """Every server, TURN ones with usable credentials; ``turn=False`` leaves TURN servers out."""
        expires_at = int(self._clock() + self._lifetime)
        servers: list[IceServer] = []
        for server in self._servers:
            if not is_turn(server) or (turn and "username" in server):
                servers.append(server)
            elif turn:
                username, credential = rest_credentials(self._secret, expires_at)
                servers.append({"urls": server["urls"], "username": username, "credential": credential})
        return tuple(servers)

    def relay(self) -> RelayServer | None:
        """The TURN server the daemon's own peer connections allocate on (the first aioice can use)."""
        return RelayServer.first_of(self.minted())


class RelayServer:
    """One TURN server as aiortc hands it to aioice: address, transport, TLS and credentials.

    aiortc takes the first ``turn:`` URL with ``transport=udp`` or ``tcp`` and the first ``turns:`` one
    with ``tcp`` (``connection_kwargs``), and ignores the others: what it chose is read back from it.
    """

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.address: tuple[str, int] = kwargs["turn_server"]
        self.transport: str = kwargs["turn_transport"]
        self.tls: bool = kwargs["turn_ssl"]
        self.username: str = kwargs["turn_username"]
        self.password: str = kwargs["turn_password"]

    @classmethod
    def first_of(cls, servers: tuple[IceServer, ...]) -> RelayServer | None:
        kwargs = connection_kwargs([RTCIceServer(**server) for server in servers])
        return cls(kwargs) if "turn_server" in kwargs else None

    @property
    def url(self) -> str:
        """As a URL for people (no credentials)."""
        host, port = self.address
        return f"{'turns' if self.tls else 'turn'}:{host}:{port}?transport={self.transport}"


def link_headers(servers: tuple[IceServer, ...]) -> list[str]:
    """RFC 9725 section 4.6: one ``Link: <url>; rel="ice-server"[; username=...; credential=...]`` per URL."""
    values = []
    for server in servers:
        credentials = ""
        if "username" in server and "credential" in server:
            credentials = (
                f'; username="{server["username"]}"; credential="{server["credential"]}"; credential-type="password"'
            )
        values += [
            f'<{url}>; rel="ice-server"{credentials if url.startswith("turn") else ""}' for url in urls_of(server)
        ]
    return values


def ice_servers_from_links(links: list[str]) -> tuple[IceServer, ...]:
    """``Link: <turn:host?transport=udp>; rel="ice-server"; username="u"; credential="c"`` as ice_servers tables.

    Not aiohttp's ``ClientResponse.links``: it resolves each target as a URL relative to
    the response, which percent-encodes an IPv6 address in a ``stun:``/``turn:`` URI.
    """
    servers: list[IceServer] = []
    for header in links:
        for link in _split_outside_quotes(header, ","):
            target, _, params = link.strip().partition(">")
            if not target.startswith("<"):
                continue
            attributes = {}
            for param in _split_outside_quotes(params, ";"):
                name, _, value = param.strip().partition("=")
                attributes[name.strip().lower()] = value.strip().strip('"')
            url = target[1:]
            if attributes.get("rel") != "ice-server" or url.split(":", 1)[0] not in ("stun", "stuns", "turn", "turns"):
                continue
            server: IceServer = {"urls": url}
            if "username" in attributes:
                server["username"] = attributes["username"]
            if "credential" in attributes:
                server["credential"] = attributes["credential"]
            servers.append(server)
    return tuple(servers)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]
