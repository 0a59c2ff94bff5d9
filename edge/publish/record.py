"""The WHIP session a target holds, kept on disk so that a crash or a power cut cannot orphan it.

One JSON file per target, ``{"resource": ..., "endpoint": ..., "token": ...}``: the session's
URL, and the endpoint and token it was created with. The next start ends that session with
those, not with the configuration of the day: ``url`` or ``token`` may have changed since, and
a token belongs only to the endpoint it was configured for. The file is replaced atomically
and is readable by its owner only (0600): it holds the token, and the URL may be a secret too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.files import write_atomic


@dataclass(frozen=True)
class SessionRecord:
    resource: str  # where the session's DELETE goes
    endpoint: str  # the WHIP endpoint that created it
    token: str  # the token configured for that endpoint ("": none)


def save(path: Path, record: SessionRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, json.dumps(asdict(record)) + "\n", mode=0o600)


def load(path: Path) -> SessionRecord | None:
    """The record kept at ``path``; None if there is none. ValueError: the file is not one."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    fields = ("resource", "endpoint", "token")
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in fields):
        raise ValueError("not a session record")
    return SessionRecord(**{name: data[name] for name in fields})


def forget(path: Path) -> None:
    path.unlink(missing_ok=True)
