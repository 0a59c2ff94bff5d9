"""What every route of the JSON API shares: a JSON object as the body, or a 400 saying why."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge.web.errors import ErrorResponse
from edge.web.json_body import read_json


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty object), or :class:`ErrorResponse` (400)."""
    body = await read_json(request, allow_empty=True)
    if not isinstance(body, dict):
        raise ErrorResponse(400, "body must be a JSON object")
    return body
