"""A package's tarball from the npm registry, pinned and checked, without npm.

The tests' and the lint's few JavaScript tools (axe-core, TypeScript) have no dependencies, so
each is one tarball: downloaded at an exact version and checked against the sha512 ``integrity``
the registry's metadata gives for it (``npm view <name>@<version> dist.integrity``), as npm
itself would. A fresh Debian machine gets them as easily as a CI one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request


def tarball_url(name: str, version: str) -> str:
    return f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"


def tarball(name: str, version: str, integrity: str) -> tarfile.TarFile:
    """The package's tarball (its files are under ``package/``), once its digest matches ``integrity``."""
    url = tarball_url(name, version)
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise SystemExit(f"{url}: integrity mismatch (got {algorithm}-{digest})")
    return tarfile.open(fileobj=io.BytesIO(data))
