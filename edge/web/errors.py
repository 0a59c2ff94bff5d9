"""The one shape of every error the API and WHEP answer: a status and a one-line plain-text reason.

Raised wherever a request turns out wrong, however deep (reading the body, checking
a value): aiohttp answers with the raised exception, so no helper returns an error
for its caller to pass on.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web


class ErrorResponse(web.HTTPError):
    """``status`` with ``reason`` and a newline as its plain-text body, and ``headers`` besides."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        super().__init__(text=reason + "\n", headers=headers)
