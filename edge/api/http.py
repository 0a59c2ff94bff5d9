"""What every route of the JSON API shares: JSON bodies read within bounds, or a 400 saying why."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge.web.errors import ErrorResponse
from edge.web.json_body import parse_json, read_body


async def json_value(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request's body as JSON, bounded in size and nesting (:mod:`edge.web.json_body`).

    :class:`ErrorResponse` (400) says what is wrong with it; an empty body is one of those,
    or with ``allow_empty`` an empty object."""
    raw = await read_body(request)
    return {} if allow_empty and not raw.strip() else parse_json(raw)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty object), or :class:`ErrorResponse` (400)."""
    body = await json_value(request, allow_empty=True)
    if not isinstance(body, dict):
        raise ErrorResponse(400, "body must be a JSON object")
    return body
