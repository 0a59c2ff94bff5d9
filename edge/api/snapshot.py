"""``GET /api/snapshot.jpg``: the camera's current picture as a JPEG (``?width=N`` scales it down)."""

from __future__ import annotations

from aiohttp import web

from edge.media.snapshot import Snapshots, SnapshotUnavailable
from edge.web.errors import ErrorResponse

SNAPSHOTS_KEY = web.AppKey("snapshots", Snapshots)
MIN_WIDTH = 16


async def get_snapshot(request: web.Request) -> web.Response:
    snapshots = request.app[SNAPSHOTS_KEY]
    width = None
    if "width" in request.query:
        full = snapshots.width
        try:
            width = int(request.query["width"])
        except ValueError:
            width = -1
        if not MIN_WIDTH <= width <= full:
            raise ErrorResponse(400, f"width must be a whole number from {MIN_WIDTH} to {full}")
        if width == full:
            width = None
    try:
        jpeg, captured_at = await snapshots.jpeg(width)
    except SnapshotUnavailable as exc:
        raise ErrorResponse(503, str(exc), {"Retry-After": "2"}) from None
    return web.Response(
        body=jpeg,
        content_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Capture-Time": f"{captured_at:.3f}"},
    )


def add_routes(app: web.Application, snapshots: Snapshots) -> None:
    app[SNAPSHOTS_KEY] = snapshots
    app.router.add_get("/api/snapshot.jpg", get_snapshot)
