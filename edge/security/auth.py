"""Who may watch: one access token, and browser sessions derived from it.

API clients (WHEP players, scripts) send ``Authorization: Bearer <token>``; those
that only know HTTP Basic (Home Assistant's generic camera fetching the snapshot)
send user ``edge`` and the token as password, as RTSP clients do. The
page logs in once with the token and gets an HttpOnly, SameSite=Strict session
cookie (see :mod:`edge.security.sessions`: signed, ended by logging out, survives a
restart). Comparisons are constant-time. Tokens (not cookies, which cannot be guessed)
are checked at their turn once wrong ones pile up (:class:`GuessGate`): guessing is slow
from any number of addresses, and a client that gave the right token within a day (Home
Assistant, an NVR) is held only to its own address's turns, never to others' failures.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from edge.security.digest import DigestAuth, DigestResult
from edge.security.ratelimit import GuessGate
from edge.security.sessions import Sessions
from edge.web.errors import ErrorResponse
from edge.web.forwarded import prefix
from edge.web.json_body import read_json

SESSION_COOKIE = "edge_session"
BASIC_USER = "edge"  # the fixed user name for HTTP Basic (and RTSP): the password is the token
PUBLIC_PATHS = frozenset({"/", "/healthz", "/auth/login", "/auth/logout"})
# ONVIF's SOAP services check credentials themselves (edge.onvif.auth): WS-UsernameToken is in the body.
PUBLIC_PREFIXES = ("/static/", "/onvif/")
# What ONVIF clients fetch with HTTP Digest: their 401 offers it besides Bearer.
DIGEST_PATHS = frozenset({"/api/snapshot.jpg"})
AUTHENTICATOR_KEY: web.AppKey[Authenticator] = web.AppKey("authenticator")


class Authenticator:
    def __init__(
        self,
        token: str,
        session_days: int,
        state_dir: Path,
        on_all_logged_out: Callable[[], None] = lambda: None,
    ) -> None:
        self._token = token.encode()
        self.sessions = Sessions(state_dir, token, session_days * 86400, on_all_logged_out)
        self.limiter = GuessGate()
        self.digest = DigestAuth(BASIC_USER, token)

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def _basic_matches(self, credentials: str) -> bool:
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.token_matches(password) and user == BASIC_USER

    def header_matches(self, header: str) -> bool:
        """``Authorization: Bearer <token>`` or ``Basic`` with user ``edge`` and the token."""
        if header[:7].lower() == "bearer ":
            return self.token_matches(header[7:].strip())
        if header[:6].lower() == "basic ":
            return self._basic_matches(header[6:].strip())
        return False

    def set_session_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        """``Secure`` when the browser came over HTTPS (to the daemon, or to a trusted proxy); the
        path is the daemon's own (under a proxy's prefix: not sent to other sites behind it)."""
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.new(),
            max_age=self.sessions.seconds,
            path=_cookie_path(request),
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )


def _cookie_path(request: web.Request) -> str:
    """The daemon's own path: ``/``, or a trusted proxy's prefix (``/cam/``)."""
    return prefix(request) + "/"


def _is_public(request: web.Request) -> bool:
    return request.method == "OPTIONS" or request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES)


def _too_many(retry_after: float) -> ErrorResponse:
    seconds = max(1, int(retry_after + 0.999))
    return ErrorResponse(
        429,
        f"too many wrong tokens tried lately, from here or elsewhere; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def digest_uri(request: web.Request) -> str:
    """The path (with its query) a Digest client signs: the one it asked for, under a trusted proxy's prefix too."""
    return prefix(request) + request.raw_path


def guess_gate(request: web.Request) -> GuessGate | None:
    """The gate every token and password tried against this daemon takes its turn at (None with auth off)."""
    auth = request.app.get(AUTHENTICATOR_KEY)
    return None if auth is None else auth.limiter


async def authorised(request: web.Request) -> bool:
    """Whether the request carries the token (Bearer or Basic) or a valid session cookie; always true
    with auth off. Raises 429 while wrong tokens pile up, and counts a wrong one; a Digest answer on
    a stale nonce (the right password, an old nonce) is challenged again and not counted."""
    auth = request.app.get(AUTHENTICATOR_KEY)
    if auth is None:
        return True
    header = request.headers.get("Authorization")
    if header is None:
        cookie = request.cookies.get(SESSION_COOKIE)
        return cookie is not None and auth.sessions.valid(cookie)
    client = request.remote or "?"
    if (wait := await auth.limiter.admit(client)) is not None:
        raise _too_many(wait)
    if header[:7].lower() == "digest ":
        result = auth.digest.check(header, request.method, digest_uri(request))
        if result is DigestResult.STALE:
            raise _unauthorised(request, stale=True)
        if result is DigestResult.OK:
            auth.limiter.record_success(client)
            return True
    elif auth.header_matches(header):
        auth.limiter.record_success(client)
        return True
    auth.limiter.record_failure(client)
    return False


def _unauthorised(request: web.Request, stale: bool = False) -> ErrorResponse:
    headers: CIMultiDict[str] = CIMultiDict()
    auth = request.app.get(AUTHENTICATOR_KEY)
    if auth is not None and request.path in DIGEST_PATHS:
        headers.add("WWW-Authenticate", auth.digest.challenge(stale))  # first: clients read only the first
    headers.add("WWW-Authenticate", 'Bearer realm="edge"')
    headers.add("Access-Control-Allow-Origin", "*")
    return ErrorResponse(
        401,
        "authentication required: open the page with ?token=<token>, or send Authorization: Bearer <token>",
        headers=headers,
    )


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_public(request) or await authorised(request):
        return await handler(request)
    raise _unauthorised(request)


async def login(request: web.Request) -> web.Response:
    """``POST /auth/login`` with ``{"token": "..."}``: sets the session cookie."""
    auth: Authenticator = request.app[AUTHENTICATOR_KEY]
    body = await read_json(request)  # bounded: a 400 with the reason, never a RecursionError
    try:
        token = body["token"]
        if not isinstance(token, str):
            raise TypeError
    except (KeyError, TypeError):
        raise ErrorResponse(400, 'send JSON {"token": "<access token>"}') from None
    client = request.remote or "?"
    if (wait := await auth.limiter.admit(client)) is not None:
        raise _too_many(wait)
    if not auth.token_matches(token):
        auth.limiter.record_failure(client)
        raise ErrorResponse(401, "wrong token")
    auth.limiter.record_success(client)
    response = web.Response(status=204)
    auth.set_session_cookie(request, response)
    return response


async def logout(request: web.Request) -> web.Response:
    """``POST /auth/logout``: ends this browser's session, here and for good."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None:
        request.app[AUTHENTICATOR_KEY].sessions.revoke(cookie)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path=_cookie_path(request))
    return response


async def logout_all(request: web.Request) -> web.Response:
    """``POST /auth/logout-all`` (logged in): ends every browser's session, this one's too."""
    request.app[AUTHENTICATOR_KEY].sessions.revoke_all()
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path=_cookie_path(request))
    return response


async def session_status(request: web.Request) -> web.Response:
    """``GET /api/session``: 200 when the caller is logged in (the middleware decides)."""
    return web.json_response({"authenticated": True})


def add_auth(app: web.Application, authenticator: Authenticator) -> None:
    app[AUTHENTICATOR_KEY] = authenticator
    app.middlewares.append(require_token)
    app.router.add_post("/auth/login", login)
    app.router.add_post("/auth/logout", logout)
    app.router.add_post("/auth/logout-all", logout_all)
    app.router.add_get("/api/session", session_status)


__all__ = ["Authenticator", "add_auth", "authorised", "digest_uri", "guess_gate"]
