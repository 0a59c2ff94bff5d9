"""What every route of the JSON API shares: one-line plain-text errors, JSON object bodies."""

from __future__ import annotations

import json

from aiohttp import web


def reject(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason + "\n")


async def json_body(request: web.Request) -> dict | web.Response:
    """The request's JSON object (an empty body is an empty object), or the 400 to answer instead."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return reject(400, "body must be JSON")
    if not isinstance(body, dict):
        return reject(400, "body must be a JSON object")
    return body
