"""HTTP Digest (RFC 7616, MD5, ``qop=auth``) with user ``edge`` and the access token as password.

ONVIF clients fetch the snapshot URI, and some talk to the ONVIF services, with Digest
rather than Basic. Nonces are stateless (a time and its HMAC under a key made at start),
good for :data:`NONCE_SECONDS`; an older one is answered ``stale=true`` and the client
retries without asking the user. A nonce count must grow, so a captured request cannot be
sent again (bounded memory: the newest :data:`MAX_NONCES` nonces are remembered).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum

NONCE_SECONDS = 300.0
MAX_NONCES = 4096


class DigestResult(Enum):
    OK = "ok"
    WRONG = "wrong"
    STALE = "stale"  # right credentials on an expired nonce: challenge again with stale=true


class DigestAuth:
    def __init__(
        self, user: str, password: str, realm: str = "edge", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.user = user
        self.realm = realm
        self._password = password
        self._key = secrets.token_bytes(32)
        self._clock = clock
        self._counts: OrderedDict[str, int] = OrderedDict()

    def _nonce(self) -> str:
        stamp = f"{self._clock():.3f}"
        return stamp + ":" + hmac.new(self._key, stamp.encode(), "sha256").hexdigest()[:32]

    def _nonce_age(self, nonce: str) -> float | None:
        """Seconds since this daemon made ``nonce``; None for one it did not make."""
        stamp, _, mac = nonce.partition(":")
        expected = hmac.new(self._key, stamp.encode(), "sha256").hexdigest()[:32]
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            return self._clock() - float(stamp)
        except ValueError:
            return None

    def challenge(self, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` value."""
        extra = ", stale=true" if stale else ""
        return f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{self._nonce()}"{extra}'

    def check(self, header: str, method: str, path: str) -> DigestResult:
        """``header`` is the ``Authorization`` value (``Digest ...``) of a request with ``method`` for ``path``
        (with its query)."""
        try:
            fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(header[7:]))
            nonce, uri, response = fields["nonce"], fields["uri"], fields["response"]
            user = fields["username"]
        except (ValueError, IndexError, KeyError):  # "key" without "=value", "key=" with none, a field missing
            return DigestResult.WRONG
        md5 = fields.get("algorithm", "MD5").upper() == "MD5"  # RFC 7616: none named is MD5
        age = self._nonce_age(nonce)
        if uri != path or not md5 or age is None or user != self.user or fields.get("realm") != self.realm:
            return DigestResult.WRONG
        qop, nc, cnonce = fields.get("qop"), fields.get("nc", ""), fields.get("cnonce", "")
        if qop != "auth" or not nc or not cnonce:
            return DigestResult.WRONG

        def digest(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = digest(f"{user}:{self.realm}:{self._password}")
        ha2 = digest(f"{method}:{uri}")
        expected = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        if not hmac.compare_digest(expected.encode(), response.encode()):
            return DigestResult.WRONG
        if age > NONCE_SECONDS:
            return DigestResult.STALE
        return DigestResult.OK if self._count_grows(nonce, nc) else DigestResult.WRONG

    def _count_grows(self, nonce: str, nc: str) -> bool:
        try:
            count = int(nc, 16)
        except ValueError:
            return False
        if count <= self._counts.get(nonce, 0):
            return False
        self._counts[nonce] = count
        self._counts.move_to_end(nonce)
        while len(self._counts) > MAX_NONCES:
            self._counts.popitem(last=False)
        return True
