"""The ``edge`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from edge.config import ConfigError, load_config, with_overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="Raspberry Pi camera daemon: live WebRTC (WHEP) and GPIO-triggered clips")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, help="TOML configuration file (default: built-in defaults)")
    run.add_argument("--host", help="address to listen on (overrides [server] host)")
    run.add_argument("--port", type=int, help="HTTP port (overrides [server] port; 0 picks a free one)")
    run.add_argument("--simulate", action="store_true", help="simulated camera, microphone and GPIO, even on a Pi")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        config = load_config(args.config)
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if overrides:
            config = with_overrides(config, "server", **overrides)
    except ConfigError as exc:
        print(f"edge: configuration error: {exc}", file=sys.stderr)
        return 2

    from edge.app import serve
    from edge.hardware import open_hardware

    hardware = open_hardware(config, force_simulated=args.simulate)
    try:
        asyncio.run(serve(config, hardware))
    except OSError as exc:
        print(f"edge: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0

