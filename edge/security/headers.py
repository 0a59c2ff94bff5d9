"""Response headers that keep the page to itself: what it may load, who may frame it, what it leaks.

The page is the daemon's own files only: module scripts and style sheets from
``/static``, clips and their posters from ``/recordings``, requests to the daemon.
Live video comes over WebRTC (``srcObject``), which no directive governs. No inline
script or ``style`` attribute; scripts set styles through the CSSOM, which CSP allows.
``data:`` images are the page's empty icon (``<link rel="icon" href="data:,">``).
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    # The page's address carries the token when it logs in (?token=...).
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers without CSP 2
}


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in EVERY_RESPONSE.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)


def add_security_headers(app: web.Application) -> None:
    """On every response, also errors and files; the policy on HTML documents (the page)."""
    app.on_response_prepare.append(_add_headers)
