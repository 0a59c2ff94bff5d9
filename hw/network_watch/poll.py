"""Network watch by polling alone: for systems without netlink."""

from __future__ import annotations

import asyncio

from hw.network_watch import NetworkWatch


class PollWatch(NetworkWatch):
    name = "poll"

    async def _wait_for_news(self, timeout: float) -> None:
        await asyncio.sleep(timeout)
