"""Import the real picamera2 (a given version, as a given Pi sees it) over the stubs.

The Makefile installs each version we test, without its dependencies, in
``<venv>/picamera2-<version>``: the one Raspberry Pi OS Trixie ships (``TRIXIE_PICAMERA2``)
and the oldest we support (``OLDEST_PICAMERA2``). The test extra brings those of picamera2's
dependencies that the tests run and that PyPI has as wheels; testbed/picamera2_stubs stands in for
libcamera, pykms, prctl and pidng (docs/picamera2.md, "How the tests get picamera2").
picamera2 picks its encoders at import, by probing /dev/video* (nothing here: Pi <= 4,
"VC4"); for a Pi 5 ("PISP") its platform module is loaded first and told so.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STUBS = Path(__file__).parent / "picamera2_stubs"
TRIXIE = "0.3.37"
OLDEST = "0.3.32"
# What testbed/picamera2_stubs stands in for.
STUBBED = ("libcamera", "pykms", "prctl", "pidng")
# The Pi 5's platform, PISP, has no H.264 block; VC4 (Pi <= 4) has one.
PLATFORMS = {"pi5": "PISP", "pi4": "VC4"}


def installed_picamera2(root: Path, version: str) -> Path:
    """A directory for ``sys.path`` in which picamera2 ``version`` is installed, as far as
    ``importlib.metadata`` (how the daemon and doctor read the version) can tell: its
    dist-info alone, no code; for versions the tests have no copy of."""
    dist_info = root / f"picamera2-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: picamera2\nVersion: {version}\n")
    return root


def _forget_picamera2() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("picamera2", *STUBBED):
            del sys.modules[name]


@contextlib.contextmanager
def picamera2_as(version: str, pi: str) -> Iterator[object]:
    target = Path(sys.prefix) / f"picamera2-{version}"
    if not target.is_dir():
        raise RuntimeError(f"{target} is missing: make test-deps installs picamera2 {version} there")
    paths = [str(target), str(STUBS)]
    _forget_picamera2()
    sys.path[:0] = paths
    try:
        spec = importlib.util.find_spec("picamera2")
        assert spec is not None and spec.origin is not None, f"no picamera2 in {target}"
        platform_path = Path(spec.origin).with_name("platform.py")
        platform_spec = importlib.util.spec_from_file_location("picamera2.platform", platform_path)
        assert platform_spec is not None and platform_spec.loader is not None
        platform: Any = importlib.util.module_from_spec(platform_spec)
        sys.modules["picamera2.platform"] = platform
        platform_spec.loader.exec_module(platform)
        platform._platform = platform.Platform[PLATFORMS[pi]]
        import picamera2

        found = importlib.metadata.version("picamera2")
        assert found == version, f"picamera2 {found} imported, {version} wanted"
        yield picamera2
    finally:
        _forget_picamera2()
        for path in paths:
            sys.path.remove(path)
