"""Network changes, passed on to all whose paths depend on them: viewers and publish targets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from edge.config import NetworkConfig
from edge.service import BackgroundTask, Off
from hw.network_watch import NetworkChange, NetworkWatch, NetworkWatchStatus, open_netwatch

log = logging.getLogger(__name__)

RETRY_S = 10.0

Listener = Callable[[NetworkChange], None]


class NetworkFollower:
    """A service: while started, every listener hears each change the watch sees."""

    name = "network watch"

    def __init__(self, watch: NetworkWatch, listeners: Iterable[Listener]) -> None:
        self.watch = watch
        self._listeners = tuple(listeners)
        self._running = BackgroundTask("network watch")

    async def start(self) -> None:
        self._running.start(self._follow())

    async def stop(self) -> None:
        await self._running.stop()

    def status(self) -> NetworkWatchStatus:
        return self.watch.status()

    async def _follow(self) -> None:
        """For good: a failing watch is started again."""
        while True:
            try:
                async for change in self.watch.changes():
                    if change.changed:
                        for listener in self._listeners:
                            listener(change)
            except Exception:
                log.exception("network watch failed; watching again in %g s", RETRY_S)
                await asyncio.sleep(RETRY_S)


def follow_network(
    config: NetworkConfig, interfaces: Iterable[str], listeners: Iterable[Listener]
) -> NetworkFollower | Off:
    """The configured watch (of ``interfaces``, none named: all) told to ``listeners``; off with ``watch = "off"``."""
    watch = open_netwatch(config.watch, config.debounce, config.poll_interval, interfaces=interfaces)
    return NetworkFollower(watch, listeners) if watch is not None else Off("network watch")
