"""Network watch through Linux netlink (pyroute2): address and link events, debounced.

Listens to the RTNLGRP_LINK and IPv4/IPv6 address groups, so it hears of
RTM_NEWADDR / RTM_DELADDR / RTM_NEWLINK / RTM_DELLINK as they happen. The
messages themselves are not interpreted: any of them means "look again" once
``debounce`` seconds passed without another (a DHCP lease change removes and
adds addresses, IPv6 sends bursts). If netlink cannot be opened (not Linux,
a sandbox), this degrades to polling and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from hw.network_watch import NetworkWatch

if TYPE_CHECKING:
    from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)

# Steady churn (a flapping link) must not postpone the look forever.
MAX_DEBOUNCE_ROUNDS = 5


class NetlinkWatch(NetworkWatch):
    name = "netlink"

    def __init__(self, debounce: float, poll_interval: float, interfaces: Iterable[str] = ()) -> None:
        super().__init__(poll_interval, interfaces)
        self.debounce = debounce
        self._news = asyncio.Event()

    @contextlib.asynccontextmanager
    async def _listening(self) -> AsyncIterator[None]:
        try:
            from pyroute2 import AsyncIPRoute
            from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK

            ipr = AsyncIPRoute()
            await ipr.bind(groups=RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK)
        except Exception as exc:  # ImportError off Linux, OSError in a sandbox
            log.warning("netlink unavailable (%s): watching the network by polling every %g s", exc, self.poll_interval)
            self.name = "poll (no netlink)"
            yield
            return
        reader = asyncio.create_task(self._read(ipr), name="netlink reader")
        try:
            yield
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            ipr.close()

    async def _read(self, ipr: AsyncIPRoute) -> None:
        # For broadcast messages get() ends after one datagram: keep asking.
        while True:
            async for _message in ipr.get():  # any address or link message: look again
                self._news.set()

    async def _wait_for_news(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._news.wait(), timeout)
        except TimeoutError:
            return
        for _ in range(MAX_DEBOUNCE_ROUNDS):  # until quiet for `debounce` seconds
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), self.debounce)
            except TimeoutError:
                return
