"""Writing a file so that a crash or a power cut leaves either the old content or the new."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int | None = None, keep_owner: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step.

    The data goes to a temporary file beside ``path`` (created readable by its owner
    only), is flushed to the disk, gets its permissions and is renamed over ``path``:
    a reader sees the old file or the new one, and a secret is never readable by
    others, not even for an instant.

    ``mode``: the new file's permission bits; None keeps those of the file it
    replaces (0o600 when there is none). ``keep_owner``: the new file gets the
    replaced file's owner and group (which takes CAP_CHOWN unless they are ours).
    """
    try:
        old: os.stat_result | None = path.stat()
    except FileNotFoundError:
        old = None
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old is not None else 0o600
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            if keep_owner and old is not None:
                os.fchown(f.fileno(), old.st_uid, old.st_gid)
            os.fchmod(f.fileno(), mode)  # after chown, which may clear set-id bits
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
