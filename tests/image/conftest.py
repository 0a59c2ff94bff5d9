"""Shared helpers for the install/image tests (tests/image)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "image"
LIB = IMAGE / "lib"


def require_tool(*names: str, package: str | None = None) -> None:
    """Fail when one is missing: `make test` installs them, so a missing one is a broken setup."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.fail(f"needs {', '.join(missing)}: apt-get install {package or ' '.join(missing)}")


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the chroot tests need root (run make test as root, as CI does)")


def bash_lib(script: str, *, check: bool = True, timeout: float = 1500, **kwargs) -> subprocess.CompletedProcess:
    """Run ``script`` with image/lib/*.sh sourced; returns the completed process (text)."""
    prelude = f'set -euo pipefail; source "{LIB}/chroot.sh"; source "{LIB}/wheels.sh"; '
    result = subprocess.run(
        ["bash", "-c", prelude + script],
        text=True,
        capture_output=True,
        timeout=timeout,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"bash failed ({result.returncode}): {script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result
