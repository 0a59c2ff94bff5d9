"""The daemon's real route table, for tests that must cover every route, also those added later."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge.app import Daemon
from edge.config import parse_config
from edge.hardware import open_hardware

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def route_table(config: Mapping[str, Any], state_dir: Path) -> list[tuple[str, str]]:
    """(method, path pattern) of every route the daemon serves with ``config`` (simulated hardware)."""
    parsed = parse_config({**config, "server": {**config.get("server", {}), "state_dir": str(state_dir)}})
    app = Daemon(parsed, open_hardware(parsed, force_simulated=True)).make_app()
    table = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        table.append((route.method, info.get("path") or info.get("formatter") or info.get("prefix", "")))
    return table


def state_changing(table: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    """The POST, PUT, PATCH and DELETE routes, their ``{parameters}`` filled from ``values`` ("x" otherwise)."""
    return [
        (method, re.sub(r"\{([^}:]+)[^}]*\}", lambda m: values.get(m.group(1), "x"), path))
        for method, path in table
        if method in STATE_CHANGING
    ]
