"""Stand-ins for the packages only Raspberry Pi OS's archive has, as a local apt repository.

``image/install.sh`` installs python3-picamera2, python3-lgpio, libcamera-ipa and
rpicam-apps-lite from Raspberry Pi's archive, which these machines cannot reach. Empty
``.deb`` files of the same names (the Python ones with an importable, empty module and its
version in the distribution's metadata) let install.sh's apt path run for real in a Debian
chroot: the install test (tests/image/test_install_chroot.py), the make-run venv test
(tests/image/test_make_venv.py) and ``make check-arm64`` use them.

    python -m testbed.pi_stubs DIR     # the Pi-only packages, ready for "deb [trusted=yes] file:DIR ./"
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

PI_ONLY = ("python3-picamera2", "python3-lgpio", "libcamera-ipa", "rpicam-apps-lite")
STUB_VERSION = "0.0~edge.stub"
# Trixie's, as the contract tests have it (TRIXIE_PICAMERA2 in the Makefile, TRIXIE in
# testbed/picamera2_env.py); install.sh upgrades one older than its MIN_PICAMERA2 (0.3.32).
PICAMERA2_VERSION = "0.3.37-1~edge.stub"
MODULES = {"python3-picamera2": "picamera2", "python3-lgpio": "lgpio"}


def build_stub_repo(
    repo: Path, packages: Iterable[str] = PI_ONLY, versions: Mapping[str, Iterable[str]] | None = None
) -> None:
    """An empty .deb for each package (each version in ``versions``) and the Packages index."""
    versions = versions or {"python3-picamera2": (PICAMERA2_VERSION,)}
    repo.mkdir(parents=True)
    for package in packages:
        for version in versions.get(package, (STUB_VERSION,)):
            tree = repo / f"{package}-tree"
            (tree / "DEBIAN").mkdir(parents=True)
            # Not setgid from a parent such as Debian's /var/local: dpkg-deb refuses that.
            (tree / "DEBIAN").chmod(0o755)
            (tree / "DEBIAN/control").write_text(
                f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
                "Maintainer: edge-camera tests <tests@localhost>\nSection: python\nPriority: optional\n"
                f"Description: stand-in for Raspberry Pi OS's {package} (tests only)\n"
            )
            if package in MODULES:
                _stub_module(tree / "usr/lib/python3/dist-packages", MODULES[package], version)
            deb = repo / f"{package}_{version}_all.deb"
            subprocess.run(
                ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True, capture_output=True
            )
            shutil.rmtree(tree)
    index = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."], cwd=repo, check=True, capture_output=True, text=True
    )
    (repo / "Packages").write_text(index.stdout)


def _stub_module(dist_packages: Path, name: str, deb_version: str) -> None:
    """An importable, empty module with its distribution's metadata (what ``edge doctor`` reads the version from)."""
    module = dist_packages / name
    module.mkdir(parents=True)
    (module / "__init__.py").write_text("EDGE_TEST_STUB = True\n")
    upstream = deb_version.split("-")[0].split("~")[0]
    info = dist_packages / f"{name}-{upstream}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {upstream}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    build_stub_repo(Path(sys.argv[1]))
