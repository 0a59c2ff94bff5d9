"""Reading a request's JSON body within bounds: its size and how deeply it nests.

Python's ``json`` parses nested arrays and objects by recursion: 100,000 ``[`` raise
``RecursionError``, which no handler expects. The nesting is counted before parsing
(outside strings), and the body is read only up to its limit. Every problem is a
:class:`JsonBodyError`: a 400 with a one-line reason (too large included, as the
issue that brought this asked: one status for every body the camera will not read).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from aiohttp import web

from edge.web.errors import ErrorResponse

MAX_JSON_BYTES = 64 * 1024
MAX_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_CHANGE = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class JsonBodyError(ErrorResponse):
    """A body the camera will not read: a 400 with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


async def read_body(request: web.Request, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The whole body, or :class:`JsonBodyError` as soon as it is longer than ``max_bytes``."""
    too_large = f"body too large: at most {max_bytes} bytes of JSON"
    if request.content_length is not None and request.content_length > max_bytes:
        raise JsonBodyError(too_large)
    body = bytearray()
    while chunk := await request.content.read(max_bytes + 1 - len(body)):
        body += chunk
        if len(body) > max_bytes:
            raise JsonBodyError(too_large)
    return bytes(body)


def nesting_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in ``raw`` (brackets in strings do not count)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_A_BRACKET)
    return max(accumulate(map(_DEPTH_CHANGE.__getitem__, brackets)), default=0)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` (UTF-8 JSON) parsed, or :class:`JsonBodyError` (400) saying what is wrong with it."""
    if raw.count(b"[") + raw.count(b"{") > max_depth and nesting_depth(raw) > max_depth:
        raise JsonBodyError(f"JSON nested too deeply (at most {max_depth} levels)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("body must be UTF-8 JSON") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:  # also a number too long to convert (int_max_str_digits)
        raise JsonBodyError(f"body must be JSON: {str(exc).splitlines()[0][:120]}") from None
    # Only an escape ("\ud800") can bring a lone surrogate: JSON, but no text that can be encoded.
    if b"\\ud" in raw.lower():
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise JsonBodyError("JSON strings must be Unicode text (no lone surrogates)") from None
    return value


async def read_json(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request's body as JSON, within the size and depth bounds (:class:`JsonBodyError` otherwise);
    an empty body is one of those, or with ``allow_empty`` an empty object."""
    raw = await read_body(request)
    return {} if allow_empty and not raw.strip() else parse_json(raw)
