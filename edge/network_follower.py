"""Network changes, passed on to all whose paths depend on them: viewers and publish targets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from hw.network_watch import NetworkChange, NetworkWatch

log = logging.getLogger(__name__)

RETRY_S = 10.0


async def follow_network(netwatch: NetworkWatch, listeners: Iterable[Callable[[NetworkChange], None]]) -> None:
    """Call every listener with each change, for good (a failing watch is started again)."""
    listeners = tuple(listeners)
    while True:
        try:
            async for change in netwatch.changes():
                if change.changed:
                    for listener in listeners:
                        listener(change)
        except Exception:
            log.exception("network watch failed; watching again in %g s", RETRY_S)
            await asyncio.sleep(RETRY_S)
