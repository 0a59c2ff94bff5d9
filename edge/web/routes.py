"""The viewer page, its static files, and the health endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers=NO_CACHE)


def add_routes(app: web.Application, public_status: Callable[[], dict], full_status: Callable[[], dict]) -> None:
    """``/healthz`` is open (for monitoring); ``/api/status`` has the details, behind the token."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(public_status(), headers=NO_CACHE)

    async def status(request: web.Request) -> web.Response:
        return web.json_response(full_status(), headers=NO_CACHE)

    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/status", status)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
