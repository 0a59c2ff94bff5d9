"""TypeScript's ``tsc``, which type-checks the page's JavaScript (``make lint``; tsconfig.json).

TypeScript has no dependencies: its npm tarball holds ``bin/tsc``, ``lib/tsc.js`` and the
``lib.*.d.ts`` files (the DOM's and WebRTC's types among them). It is unpacked, pinned and
checked (testbed/npm.py), into the venv and run by Debian's ``nodejs`` (TypeScript 6 needs
Node 14.17 or later; Debian 12 has 18, Debian 13 has 20)::

    .venv/bin/python -m testbed.typescript fetch   # prints the path of bin/tsc
    .venv/bin/python -m testbed.typescript check   # tsc --project tsconfig.json

6.0 is the last TypeScript written in JavaScript: from 7.0 ``tsc`` is a native program in a
package per platform.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from testbed import npm

VERSION = "6.0.3"
INTEGRITY = "sha512-y2TvuxSZPDyQakkFRPZHKFm+KKVqIisdg9/CZwm9ftvKXLP8NRWj38/ODjNbr43SsoXqNuAisEf1GdCxqWcdBw=="
ROOT = Path(sys.prefix) / f"typescript-{VERSION}"
PROJECT = Path(__file__).parents[1] / "tsconfig.json"


def fetch(dest: Path = ROOT) -> Path:
    """Unpack the package into ``dest`` unless it is there already; the path of its ``bin/tsc``."""
    tsc = dest / "bin" / "tsc"
    if tsc.exists():
        return tsc
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with npm.tarball("typescript", VERSION, INTEGRITY) as tar:
        for member in tar.getmembers():
            relative = Path(member.name).relative_to("package")
            if not member.isfile() or ".." in relative.parts:
                continue
            file = tar.extractfile(member)
            assert file is not None
            target = tmp / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read())
    tmp.replace(dest)
    return tsc


def check() -> int:
    """tsc's exit status on the page's JavaScript; its findings go to stdout."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise SystemExit("no node: install Debian's nodejs (`make system-deps` as root)")
    return subprocess.run([node, str(fetch()), "--project", str(PROJECT)]).returncode


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch"]:
        print(fetch())
    elif sys.argv[1:] == ["check"]:
        sys.exit(check())
    else:
        raise SystemExit("usage: python -m testbed.typescript fetch|check")
