"""The viewer page, its static files, and the health endpoint.

The page's files are read once, when the daemon starts, and served from memory with
an ETag: the first picture waits for the whole page to load, and a file read per
request in a thread costs a Pi more than the sending of it.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from edge.web.errors import ErrorResponse

STATIC_DIR = Path(__file__).parent / "static"
NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def read(cls, path: Path) -> StaticFile:
        body = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')

    def response(self, request: web.Request) -> web.Response:
        """The file, or ``304 Not Modified`` when the browser has this version (it revalidates each time)."""
        headers = {**NO_CACHE, "ETag": self.etag}
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        charset = "utf-8" if self.content_type.startswith("text/") or self.content_type.endswith("javascript") else None
        return web.Response(body=self.body, content_type=self.content_type, charset=charset, headers=headers)


def static_files() -> dict[str, StaticFile]:
    return {path.name: StaticFile.read(path) for path in sorted(STATIC_DIR.iterdir()) if path.is_file()}


def add_routes(
    app: web.Application,
    public_status: Callable[[], Mapping[str, object]],
    full_status: Callable[[], Mapping[str, object]],
) -> None:
    """``/healthz`` is open (for monitoring); ``/api/status`` has the details, behind the token."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(public_status(), headers=NO_CACHE)

    async def status(request: web.Request) -> web.Response:
        return web.json_response(full_status(), headers=NO_CACHE)

    files = static_files()

    async def index(request: web.Request) -> web.Response:
        return files["index.html"].response(request)

    async def static(request: web.Request) -> web.Response:
        found = files.get(request.match_info["name"])
        if found is None:
            raise ErrorResponse(404, "no such file")
        return found.response(request)

    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/status", status)
    app.router.add_get("/static/{name}", static)
