"""Who may use the ONVIF services: user ``edge`` with the access token as password.

Two ways, as ONVIF's core specification has them: WS-UsernameToken in the SOAP header
(``PasswordDigest``: Base64(SHA-1(nonce + created + password)); a plain-text password
is refused, it would cross the network as is), and HTTP Digest. A digest's ``Created``
must be within :data:`WINDOW_SECONDS` of the camera's clock, and a nonce is accepted
once: the (nonce bytes, created) pairs of the window are remembered (at most
:data:`MAX_NONCES`), and a nonce must be written in canonical base64, so that the same
bytes spelled otherwise (the unused bits of a final ``=`` group) are no second nonce.

Wrong passwords and replays are counted per source (:class:`~edge.security.ratelimit.FailureLimiter`,
as RTSP does; a source over its limit is refused unchecked for a while) and in the HTTP
API's :class:`~edge.security.ratelimit.GuessGate`, where they take their turn with the
API's: guessing the token is as slow through ONVIF as through the API, from any number of
addresses; a refusal there is a transient ``env:Receiver`` fault (503, ``Retry-After``), not
``ter:NotAuthorized``, which clients take for a wrong password. A source that gives the right
password is trusted past the global turns (:meth:`~edge.security.ratelimit.GuessGate.record_success`).
What checks no password is no guess: a ``PasswordText`` token, a malformed Nonce or Created,
and the right password with a ``Created`` too far from the camera's clock or on a stale
Digest nonce (as in the API, :func:`edge.security.auth.authorised`). With access control off (no token) everything is
open, as the HTTP API is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from edge.onvif.soap import SoapFault, SoapRequest
from edge.security.auth import BASIC_USER, digest_uri, guess_gate
from edge.security.digest import DigestAuth, DigestResult
from edge.security.ratelimit import FailureLimiter

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "#PasswordDigest"
WINDOW_SECONDS = 300.0
MAX_NONCES = 4096

# ONVIF Core's PRE_AUTH operations of the device service: what a client needs before it can
# authenticate (the camera's clock for the digest's Created, which services there are).
PRE_AUTH = frozenset(
    {
        "GetWsdlUrl",
        "GetServices",
        "GetServiceCapabilities",
        "GetCapabilities",
        "GetHostname",
        "GetSystemDateAndTime",
        "GetEndpointReference",
    }
)


def not_authorized(reason: str, headers: dict[str, str] | None = None, status: int = 400) -> SoapFault:
    return SoapFault("env:Sender", ("ter:NotAuthorized",), reason, status=status, headers=headers)


def busy(wait: float) -> SoapFault:
    """The guess gate's refusal: a transient fault (clients such as Home Assistant take ``ter:NotAuthorized`` as
    "the password is wrong" and ask the user again; this one says "later")."""
    seconds = max(1, int(wait + 0.999))
    return SoapFault(
        "env:Receiver",
        (),
        f"too many wrong passwords tried lately, from elsewhere; try again in {seconds} s",
        status=503,
        headers={"Retry-After": str(seconds)},
    )


class WrongCredentials(SoapFault):
    """A ``ter:NotAuthorized`` fault that counts as a guess: a wrong password or a replayed token."""

    def __init__(self, reason: str, headers: dict[str, str] | None = None, status: int = 400) -> None:
        super().__init__("env:Sender", ("ter:NotAuthorized",), reason, status=status, headers=headers)


def canonical_nonce(text: str) -> bytes | None:
    """The nonce's bytes, if ``text`` is their one base64 spelling (padding, no unused bits set); else None."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return decoded if base64.b64encode(decoded).decode() == text else None


class NonceCache:
    """The (nonce, created) pairs seen within the window: each is good once."""

    def __init__(self, seconds: float, capacity: int, clock: Callable[[], float]) -> None:
        self._seconds = seconds
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[tuple[bytes, str], float] = OrderedDict()

    def first_use(self, nonce: bytes, created: str) -> bool:
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        key = (nonce, created)
        if key in self._seen:
            return False
        self._seen[key] = now + self._seconds
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


class OnvifAuth:
    def __init__(self, token: str | None, clock: Callable[[], float] = time.time) -> None:
        self._token = token
        self._clock = clock
        self.digest = DigestAuth(BASIC_USER, token or "", realm="edge-onvif")
        self.limiter = FailureLimiter()
        # Created may lie WINDOW_SECONDS either side of now: a pair is remembered until it cannot be valid again.
        self._nonces = NonceCache(2 * WINDOW_SECONDS, MAX_NONCES, clock)

    @property
    def open(self) -> bool:
        return self._token is None

    async def check(self, request: web.Request, soap: SoapRequest) -> None:
        """Returns when the request may go on; raises a ``ter:NotAuthorized`` fault otherwise."""
        secret = self._token
        if secret is None:
            return
        client = request.remote or "?"
        if (wait := self.limiter.retry_after(client)) is not None:
            raise not_authorized(f"too many wrong passwords from this address; try again in {int(wait) + 1} s")
        header = request.headers.get("Authorization", "")
        token = _username_token(soap)
        if token is None and header[:7].lower() != "digest ":
            raise not_authorized(
                "credentials required: user edge with the access token (WS-UsernameToken or HTTP Digest)",
                headers=self._challenge(),
                status=401,
            )
        gate = guess_gate(request)
        if gate is not None and (wait := await gate.admit(client)) is not None:
            raise busy(wait)
        try:
            if token is not None:
                self._check_username_token(secret, *token)
            else:
                self._check_digest(request, header)
        except WrongCredentials:
            self.limiter.record_failure(client)
            if gate is not None:
                gate.record_failure(client)
            raise
        if gate is not None:
            gate.record_success(client)

    def _challenge(self, stale: bool = False) -> dict[str, str]:
        return {"WWW-Authenticate": self.digest.challenge(stale)}

    def _check_digest(self, request: web.Request, header: str) -> None:
        result = self.digest.check(header, request.method, digest_uri(request))
        if result is DigestResult.STALE:  # the right password: no guess, as in the HTTP API
            raise not_authorized("the digest's nonce is stale", headers=self._challenge(stale=True), status=401)
        if result is not DigestResult.OK:
            raise WrongCredentials("wrong user or password", headers=self._challenge(), status=401)

    def _check_username_token(self, secret: str, user: str, password: str, kind: str, nonce: str, created: str) -> None:
        if not kind.endswith(PASSWORD_DIGEST):  # refused unchecked: no guess
            raise not_authorized("send the password as a PasswordDigest (with Nonce and Created)")
        nonce_bytes = canonical_nonce(nonce)
        try:
            when = datetime.fromisoformat(created)
        except ValueError:
            when = None
        if nonce_bytes is None or when is None:
            raise not_authorized("the UsernameToken's Nonce (canonical base64) or Created is malformed")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        skew = abs(self._clock() - when.timestamp())
        expected = base64.b64encode(hashlib.sha1(nonce_bytes + created.encode() + secret.encode()).digest()).decode()
        if user != BASIC_USER or not hmac.compare_digest(expected.encode(), password.encode()):
            raise WrongCredentials("wrong user or password")
        if skew > WINDOW_SECONDS:  # the right password: a clock to set, no guess
            raise not_authorized(
                f"the UsernameToken's Created is {int(skew)} s away from the camera's clock "
                f"(at most {int(WINDOW_SECONDS)} s): read GetSystemDateAndTime"
            )
        if not self._nonces.first_use(nonce_bytes, created):
            raise WrongCredentials("this UsernameToken was used before (replayed nonce)")


def _username_token(soap: SoapRequest) -> tuple[str, str, str, str, str] | None:
    """(Username, Password, its Type, Nonce, Created) from the header's WS-Security, or None without one."""
    if soap.header is None:
        return None
    token = soap.header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return None

    def text(tag: str) -> str:
        found = token.find(tag)
        return "" if found is None else (found.text or "").strip()

    password = token.find(f"{{{WSSE}}}Password")
    kind = "" if password is None else password.get("Type", "")
    return (
        text(f"{{{WSSE}}}Username"),
        text(f"{{{WSSE}}}Password"),
        kind,
        text(f"{{{WSSE}}}Nonce"),
        text(f"{{{WSU}}}Created"),
    )


__all__ = ["PRE_AUTH", "OnvifAuth"]
