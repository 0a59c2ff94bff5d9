"""Browser sessions: signed cookies, ended one at a time (log out) or all at once.

A session cookie is ``<expiry>.<nonce>.<HMAC>``, signed with a key made from the access
token and a random secret kept in ``<state_dir>/session-secret`` (mode 0600): rotating the
token or replacing the secret ends every session. Logging out everywhere replaces the
secret, whether the daemon does it (the page's button) or another process
(``edge token --logout-all``): the daemon looks at the file (one ``stat``) before each
check and reads it again when it changed, so no restart is needed. Logging out ends one
session: its nonce is kept in ``<state_dir>/revoked-sessions`` (0600, written only by the
daemon) until the cookie would have expired anyway. Both files outlive restarts.

The secret is 256 random bits, so a cookie cannot be forged by guessing the token: a bad
cookie is not a guess, and is not counted as one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from edge.files import write_atomic

log = logging.getLogger(__name__)

SECRET_FILE = "session-secret"
REVOKED_FILE = "revoked-sessions"
# Sessions logged out one by one and not expired yet; one more logs every browser out
# (a secret replaced) rather than letting a revoked session back in.
MAX_REVOKED = 4096


def new_secret(state_dir: Path) -> Path:
    """Replace the session secret: every browser session ends. Keeps the file's owner (root may run this)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / SECRET_FILE
    write_atomic(path, secrets.token_hex(32) + "\n", mode=0o600, keep_owner=True)
    return path


class Sessions:
    def __init__(
        self,
        state_dir: Path,
        token: str,
        seconds: int,
        on_all_ended: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``on_all_ended`` is called when every session has ended (the secret was replaced, here or elsewhere)."""
        self._state_dir = state_dir
        self._on_all_ended = on_all_ended
        self._secret_path = state_dir / SECRET_FILE
        self._revoked_path = state_dir / REVOKED_FILE
        self._token = token.encode()
        self.seconds = seconds
        self._clock = clock
        self._stamp: tuple[int, int, int] | None = None  # the secret file the key was made from
        self._key = secrets.token_bytes(32)  # matches no cookie until the secret is read
        self._revoked: dict[str, int] = {}  # nonce -> expiry of sessions logged out
        if not self._secret_path.exists():
            new_secret(state_dir)
        try:
            self._read_secret(os.stat(self._secret_path))  # OSError (not ours to read): the daemon stops, saying so
        except ValueError as exc:
            log.error("the session secret is damaged (%s): a new one logs every browser out", exc)
            new_secret(state_dir)
            self._read_secret(os.stat(self._secret_path))
        self._revoked = self._read_revoked()

    def _read_secret(self, stat: os.stat_result) -> None:
        secret = bytes.fromhex(self._secret_path.read_text().strip())
        if len(secret) < 16:
            raise ValueError(f"{self._secret_path}: too short")
        self._key = hmac.new(secret, b"edge session key\0" + self._token, hashlib.sha256).digest()
        self._stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        """Read the secret again if the file changed; deleted, it is made anew (everyone logged out)."""
        try:
            stat = os.stat(self._secret_path)
        except FileNotFoundError:
            new_secret(self._state_dir)
            stat = os.stat(self._secret_path)
        if (stat.st_ino, stat.st_mtime_ns, stat.st_size) == self._stamp:
            return
        self._revoked.clear()  # sessions signed with the old secret are over anyway
        try:
            self._read_secret(stat)
        except (OSError, ValueError) as exc:
            self._key = secrets.token_bytes(32)  # no session is valid until the file can be read
            self._stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # said once per version of the file
            log.error("cannot read the session secret, so no browser is logged in: %s", exc)
        self._on_all_ended()

    def _read_revoked(self) -> dict[str, int]:
        try:
            revoked = json.loads(self._revoked_path.read_text())
            if not isinstance(revoked, dict) or not all(isinstance(v, int) for v in revoked.values()):
                raise ValueError("not an object of nonces and expiry times")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("cannot read %s (%s): every browser is logged out instead", self._revoked_path, exc)
            self.revoke_all()
            return {}
        now = self._clock()
        return {nonce: expiry for nonce, expiry in revoked.items() if expiry > now}

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def new(self) -> str:
        self._refresh()
        payload = f"{int(self._clock()) + self.seconds}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._sign(payload)}"

    def _check(self, cookie: str) -> tuple[str, int] | None:
        """``(nonce, expiry)`` of a valid session cookie, else None."""
        self._refresh()
        payload, _, signature = cookie.rpartition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        expiry, _, nonce = payload.partition(".")
        if not expiry.isdigit() or int(expiry) <= self._clock() or nonce in self._revoked:
            return None
        return nonce, int(expiry)

    def valid(self, cookie: str) -> bool:
        return self._check(cookie) is not None

    def revoke(self, cookie: str) -> None:
        """End this one session (nothing happens for a cookie that is not a valid session)."""
        session = self._check(cookie)
        if session is None:
            return
        now = self._clock()
        self._revoked = {n: e for n, e in self._revoked.items() if e > now}
        nonce, expiry = session
        self._revoked[nonce] = expiry
        if len(self._revoked) > MAX_REVOKED:
            log.warning("more than %d sessions logged out and not expired: logging every browser out", MAX_REVOKED)
            self.revoke_all()
            return
        write_atomic(self._revoked_path, json.dumps(self._revoked), mode=0o600)

    def revoke_all(self) -> None:
        """End every session: a new secret, and no list of single sessions to keep."""
        new_secret(self._state_dir)
        self._refresh()
        write_atomic(self._revoked_path, "{}", mode=0o600)
