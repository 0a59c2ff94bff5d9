"""What every route of the JSON API shares: one-line plain-text errors, JSON object bodies."""

from __future__ import annotations

from aiohttp import web

from edge.web.json_body import JsonBodyError, parse_json, read_body


def reject(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason + "\n")


async def json_body(request: web.Request) -> dict | web.Response:
    """The request's JSON object (an empty body is an empty object), or the 4xx to answer instead.

    Bounded in size and nesting (:mod:`edge.web.json_body`)."""
    try:
        raw = await read_body(request)
        body = parse_json(raw) if raw.strip() else {}
    except JsonBodyError as exc:
        return reject(exc.status, exc.reason)
    if not isinstance(body, dict):
        return reject(400, "body must be a JSON object")
    return body
