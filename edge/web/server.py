"""The HTTP(S) server as a service: the page, WHEP, the API, on one port."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from aiohttp import web

from edge.addresses import WILDCARDS, url_host
from edge.config import ServerConfig
from edge.security.tls import server_ssl_context

log = logging.getLogger(__name__)

# Idle HTTP connections close soon: after the camera's address changes, a browser
# reusing a kept-alive connection to the old address would hang (aiohttp keeps
# them an hour by default), and the page's ICE restart would wait for it.
KEEPALIVE_S = 2.0
# On stop, requests still being answered get this long (aiohttp waits 60 s by default).
SHUTDOWN_S = 1.0


def dual_stack_socket(port: int) -> socket.socket:
    """A listening socket on ``::`` that takes IPv4 too (as ``::ffff:a.b.c.d``).

    asyncio makes each IPv6 listening socket IPv6-only (``IPV6_V6ONLY``), so ``"::"``
    given as a host would refuse 127.0.0.1; one socket for both stacks also keeps one
    port when ``port`` is 0.
    """
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as exc:
        raise OSError(exc.errno, f'host "::" needs IPv6 ({exc.strerror}); use "0.0.0.0"') from None
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
    except OSError:
        sock.close()
        raise
    return sock


class WebServer:
    name = "http"

    def __init__(self, config: ServerConfig, make_app: Callable[[], web.Application]) -> None:
        self._config = config
        self._make_app = make_app
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # once started: the port it listens on (the one asked for, or any)

    async def start(self) -> None:
        config = self._config
        self._runner = web.AppRunner(
            self._make_app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=KEEPALIVE_S,
            shutdown_timeout=SHUTDOWN_S,
        )
        await self._runner.setup()
        ssl_context = None
        if config.https:
            ssl_context, created = server_ssl_context(config.tls_cert, config.tls_key, config.state_path)
            if created:
                log.info(
                    "made a self-signed certificate in %s (browsers will ask you to accept it once)",
                    config.state_path / "tls",
                )
        site: web.BaseSite
        if config.host == "::":
            site = web.SockSite(self._runner, dual_stack_socket(config.port), ssl_context=ssl_context)
        else:
            site = web.TCPSite(self._runner, config.host, config.port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def urls(self) -> list[str]:
        """Where a browser finds the page (started: the port is known)."""
        host = self._config.host
        names = [url_host(host), "127.0.0.1"] if host in WILDCARDS else [url_host(host)]
        scheme = "https" if self._config.https else "http"
        return [f"{scheme}://{name}:{self.port}/" for name in names]
