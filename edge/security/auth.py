"""Who may watch: one access token, and browser sessions derived from it.

API clients (WHEP players, scripts) send ``Authorization: Bearer <token>``; those
that only know HTTP Basic (Home Assistant's generic camera fetching the snapshot)
send user ``edge`` and the token as password, as RTSP clients do. The
page logs in once with the token and gets an HttpOnly, SameSite=Strict session
cookie: ``<expiry>.<nonce>.<HMAC>``, signed with a key derived from the token,
so sessions survive a restart of the daemon and rotating the token ends them
all. Comparisons are constant-time; wrong tokens are rate-limited per address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from aiohttp import web

from edge.security.ratelimit import FailureLimiter

SESSION_COOKIE = "edge_session"
BASIC_USER = "edge"  # the fixed user name for HTTP Basic (and RTSP): the password is the token
PUBLIC_PATHS = frozenset({"/", "/healthz", "/auth/login", "/auth/logout"})
PUBLIC_PREFIXES = ("/static/",)
AUTHENTICATOR_KEY: web.AppKey[Authenticator] = web.AppKey("authenticator")


class Authenticator:
    def __init__(self, token: str, session_days: int, secure_cookie: bool) -> None:
        self._token = token.encode()
        self._key = hashlib.sha256(b"edge session key\0" + self._token).digest()
        self._session_seconds = session_days * 86400
        self._secure_cookie = secure_cookie
        self.limiter = FailureLimiter()

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def _basic_matches(self, credentials: str) -> bool:
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.token_matches(password) and user == BASIC_USER

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        payload = f"{int(time.time()) + self._session_seconds}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._sign(payload)}"

    def session_valid(self, cookie: str) -> bool:
        payload, _, signature = cookie.rpartition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return False
        expiry = payload.split(".", 1)[0]
        return expiry.isdigit() and int(expiry) > time.time()

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return self.token_matches(header[7:].strip())
        if header[:6].lower() == "basic ":
            return self._basic_matches(header[6:].strip())
        cookie = request.cookies.get(SESSION_COOKIE)
        return cookie is not None and self.session_valid(cookie)

    def set_session_cookie(self, response: web.StreamResponse) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.new_session(),
            max_age=self._session_seconds,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self._secure_cookie,
        )


def _is_public(request: web.Request) -> bool:
    return request.method == "OPTIONS" or request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES)


def _too_many(retry_after: float) -> web.Response:
    seconds = max(1, int(retry_after + 0.999))
    return web.Response(
        status=429,
        text=f"too many wrong tokens from this address; try again in {seconds} s\n",
        headers={"Retry-After": str(seconds)},
    )


@web.middleware
async def require_token(request: web.Request, handler):
    auth: Authenticator = request.app[AUTHENTICATOR_KEY]
    if _is_public(request):
        return await handler(request)
    client = request.remote or "?"
    if (wait := auth.limiter.retry_after(client)) is not None:
        return _too_many(wait)
    if auth.authorized(request):
        return await handler(request)
    if "Authorization" in request.headers or SESSION_COOKIE in request.cookies:
        auth.limiter.record_failure(client)
    return web.Response(
        status=401,
        text="authentication required: open the page with ?token=<token>, or send Authorization: Bearer <token>\n",
        headers={"WWW-Authenticate": 'Bearer realm="edge"', "Access-Control-Allow-Origin": "*"},
    )


async def login(request: web.Request) -> web.Response:
    """``POST /auth/login`` with ``{"token": "..."}``: sets the session cookie."""
    auth: Authenticator = request.app[AUTHENTICATOR_KEY]
    client = request.remote or "?"
    if (wait := auth.limiter.retry_after(client)) is not None:
        return _too_many(wait)
    try:
        body = await request.json()
        token = body["token"]
        if not isinstance(token, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return web.Response(status=400, text='send JSON {"token": "<access token>"}\n')
    if not auth.token_matches(token):
        auth.limiter.record_failure(client)
        return web.Response(status=401, text="wrong token\n")
    auth.limiter.forget(client)
    response = web.Response(status=204)
    auth.set_session_cookie(response)
    return response


async def logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def session_status(request: web.Request) -> web.Response:
    """``GET /api/session``: 200 when the caller is logged in (the middleware decides)."""
    return web.json_response({"authenticated": True})


def add_auth(app: web.Application, authenticator: Authenticator) -> None:
    app[AUTHENTICATOR_KEY] = authenticator
    app.middlewares.append(require_token)
    app.router.add_post("/auth/login", login)
    app.router.add_post("/auth/logout", logout)
    app.router.add_get("/api/session", session_status)


__all__ = ["Authenticator", "add_auth"]
