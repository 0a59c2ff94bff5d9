"""The access token: configured, or generated once and kept in the state directory."""

from __future__ import annotations

import secrets
from pathlib import Path

from edge.files import write_atomic

TOKEN_FILE = "token"


def token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits from the OS CSPRNG


def write_token(state_dir: Path, token: str) -> Path:
    """Write atomically with mode 0600 (never readable by others, even for an instant)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = token_path(state_dir)
    write_atomic(path, token + "\n", mode=0o600)
    return path


def load_or_create_token(state_dir: Path) -> tuple[str, bool]:
    """Return ``(token, created)``: the stored token, or a new one stored now."""
    path = token_path(state_dir)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if len(token) >= 16:
        return token, False
    token = new_token()
    write_token(state_dir, token)
    return token, True
