"""Print what the network watch sees, one JSON line per change: ``python -m hw.network_watch``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from hw.network_watch import open_netwatch, usable_addresses


async def watch(backend: str, debounce: float, poll_interval: float) -> None:
    netwatch = open_netwatch(backend, debounce, poll_interval)
    if netwatch is None:
        return

    async def announce() -> None:
        await netwatch.ready.wait()
        print(json.dumps({"watching": netwatch.name}), flush=True)

    announcing = asyncio.create_task(announce())
    async for change in netwatch.changes():
        line = {"change": change.describe(), "usable": sorted(usable_addresses(change.after))}
        print(json.dumps(line), flush=True)
    await announcing


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hw.network_watch", description=__doc__)
    parser.add_argument("--backend", default="netlink", choices=["netlink", "poll"])
    parser.add_argument("--debounce", type=float, default=0.2)
    parser.add_argument("--poll-interval", type=float, default=10.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(watch(args.backend, args.debounce, args.poll_interval))


if __name__ == "__main__":
    main()
