"""What a WHEP PATCH is (RFC 9725 section 4.3), and the ETags that guard it.

Trickle or restart is told by the fragment's credentials, not by ``If-Match``
(some players send ``If-Match: *`` on plain trickle). A retried restart (same
new credentials, ``If-Match`` as the first try had it) is a repeat: the session
answers it as before, without a second restart.

Each ICE generation of a session has its ETag, derived from the session's id
and the generation's number: opaque to the client and never the same in two
sessions, yet nothing the session has to store.
"""

from __future__ import annotations

import enum
import hashlib

from edge.webrtc.recovery import Credentials, IceGenerations


class PatchKind(enum.Enum):
    TRICKLE = "trickle"  # candidates for the current generation
    STALE = "stale"  # candidates of a generation restarted away since: ignored
    RESTART = "restart"  # new remote credentials: a new generation
    REPEAT = "repeat"  # the latest restart again: the same answer
    PRECONDITION_FAILED = "precondition failed"  # If-Match names an ETag we no longer have


def etag(session_id: str, generation: int) -> str:
    """The ETag of a session's ICE generation."""
    digest = hashlib.blake2b(f"{session_id}/{generation}".encode(), digest_size=8)
    return f'"{digest.hexdigest()}"'


def classify_patch(
    session_id: str, generations: IceGenerations, remote: Credentials | None, if_match: str | None
) -> PatchKind:
    """What a PATCH with the fragment's credentials ``remote`` (if any) and ``If-Match`` is."""

    def matches(generation: int) -> bool:
        return if_match in (None, "*", etag(session_id, generation))

    latest = generations.latest
    if latest is not None and remote == latest.remote and matches(latest.generation_before):
        return PatchKind.REPEAT
    if not matches(generations.number):
        return PatchKind.PRECONDITION_FAILED
    if remote is None or remote == generations.current:
        return PatchKind.TRICKLE
    return PatchKind.STALE if generations.remembers(remote) else PatchKind.RESTART
