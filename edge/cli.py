"""The ``edge`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from pathlib import Path

from edge import config_file
from edge.config import Config, ConfigError, load_config, with_overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge", description="Raspberry Pi camera daemon: live WebRTC (WHEP) and GPIO-triggered clips"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, help="TOML configuration file (default: built-in defaults)")
    run.add_argument("--host", help="address to listen on (overrides [server] host)")
    run.add_argument("--port", type=int, help="HTTP port (overrides [server] port; 0 picks a free one)")
    run.add_argument("--simulate", action="store_true", help="simulated camera, microphone and GPIO, even on a Pi")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    doctor = sub.add_parser(
        "doctor",
        help="check this Pi's camera, encoder, microphone, GPIO, storage and service; each problem with its fix",
    )
    doctor.add_argument("--config", type=Path, help="TOML configuration file (default: /etc/edge/edge.toml if present)")
    token = sub.add_parser(
        "token", help="print the access token's login URL (or make a new token, or log every browser out)"
    )
    token.add_argument("--config", type=Path, help="TOML configuration file")
    token_action = token.add_mutually_exclusive_group()
    token_action.add_argument(
        "--rotate", action="store_true", help="replace the stored token: every logged-in browser must log in again"
    )
    token_action.add_argument(
        "--logout-all",
        action="store_true",
        help="end every browser's session now (a lost phone): each must log in with the token again",
    )
    config = sub.add_parser(
        "config", help="the configuration file: its template, one value, settings from the boot partition"
    )
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser("template", help="print the commented configuration file (every key, switched off)")
    get = config_commands.add_parser("get", help="print one configured value")
    get.add_argument("section")
    get.add_argument("key")
    get.add_argument("--config", type=Path, default=config_file.DEFAULT_CONFIG, help="default: %(default)s")
    get.add_argument("--default", default="", help="printed when the key is not set")
    avahi = config_commands.add_parser("avahi", help="print the Avahi service file that announces the camera")
    avahi.add_argument("--config", type=Path, default=config_file.DEFAULT_CONFIG, help="default: %(default)s")
    boot = config_commands.add_parser(
        "apply-boot", help="merge the boot partition's edge.toml into the configuration, then delete it"
    )
    boot.add_argument("--boot", type=Path, default=config_file.DEFAULT_BOOT, help="default: %(default)s")
    boot.add_argument("--config", type=Path, default=config_file.DEFAULT_CONFIG, help="default: %(default)s")
    boot.add_argument("--etc", type=Path, default=Path("/etc"), help="where hostname and hosts are")
    boot.add_argument("--live", action="store_true", help="also apply the hostname to the running system")
    return parser


def run_config(args: argparse.Namespace) -> int:
    """``edge config ...``: run by install.sh and by edge-boot-config.service."""
    if args.config_command == "template":
        sys.stdout.write(config_file.template())
        return 0
    if args.config_command == "get":
        print(config_file.get_value(args.config, args.section, args.key, args.default))
        return 0
    if args.config_command == "avahi":
        try:
            config = load_config(args.config if args.config.exists() else None)
        except ConfigError as exc:
            print(f"edge: configuration error: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(config_file.avahi_service(config))
        return 0
    return config_file.apply_boot(args.boot, args.config, args.etc, args.live)


def logout_all(config: Config) -> int:
    """``edge token --logout-all``: the running daemon sees the new session secret at its next check."""
    from edge.security.sessions import new_secret

    try:
        path = new_secret(config.server.state_path)
    except OSError as exc:
        print(f"edge: cannot log the browsers out: {exc}", file=sys.stderr)
        return 1
    print(f"every browser is logged out (new session secret in {path}); log in again with the token", file=sys.stderr)
    return 0


def show_token(config: Config, rotate: bool) -> int:
    from edge.security import token as access_token

    if config.auth.token:
        if rotate:
            print("edge: the token is set in the config file ([auth] token): change it there", file=sys.stderr)
            return 2
        token = config.auth.token
    elif rotate:
        token = access_token.new_token()
        path = access_token.write_token(config.server.state_path, token)
        print(f"new token stored in {path}; restart the daemon to use it", file=sys.stderr)
    else:
        token, _ = access_token.load_or_create_token(config.server.state_path)
    scheme = "https" if config.server.https else "http"
    print(f"{scheme}://{socket.gethostname()}.local:{config.server.port}/?token={token}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.command == "config":
        return run_config(args)
    if args.command == "doctor":
        from edge.doctor import run_doctor

        return run_doctor(args.config)
    try:
        config = load_config(args.config)
        if args.command == "token":
            return logout_all(config) if args.logout_all else show_token(config, args.rotate)
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if overrides:
            config = with_overrides(config, "server", **overrides)
        from edge.hardware import Picamera2TooOld, open_hardware

        try:
            hardware = open_hardware(config, force_simulated=args.simulate)
        except Picamera2TooOld as exc:  # no restart makes it newer: 2 is the unit's RestartPreventExitStatus
            print(f"edge: cannot start: {exc}", file=sys.stderr)
            return 2
    except ConfigError as exc:
        print(f"edge: configuration error: {exc}", file=sys.stderr)
        return 2

    from edge.app import serve

    try:
        asyncio.run(serve(config, hardware))
    except OSError as exc:
        print(f"edge: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
