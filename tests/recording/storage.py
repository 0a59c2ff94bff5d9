"""Small file systems for storage-failure tests: a tmpfs mounted for one test (needs root)."""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(path: Path, size_kib: int, *options: str):
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (run make test as root, as CI does)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={size_kib}k", *options]), "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(path)], check=True)


def fill(path: Path, leave_kib: int) -> Path:
    """Fill the file system at ``path`` but ``leave_kib`` (or all of it, if a clip is quicker)."""
    filler = path / "filler"
    stat = os.statvfs(path)
    remaining = stat.f_bavail * stat.f_frsize - leave_kib * 1024
    with filler.open("wb", buffering=0) as f:
        while remaining > 0:
            try:
                remaining -= f.write(b"\0" * min(remaining, 64 * 1024))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return filler
