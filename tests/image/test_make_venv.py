"""``make venv`` (what ``make run`` starts from) on plain Debian and on Raspberry Pi OS.

Raspberry Pi OS is this machine's Debian seen through a private mount namespace: the
stand-ins of python3-picamera2 and python3-lgpio (testbed/pi_stubs.py, the .debs the
install test and ``make check-arm64`` install through apt, unpacked here) laid over
``/usr/lib/python3/dist-packages``, and a Raspberry Pi 4's model in the device tree
(``/sys/firmware/devicetree/base/model``). Nothing outside the namespace sees either.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testbed.pi_stubs import PICAMERA2_VERSION, build_stub_repo
from tests.image.conftest import ROOT, require_root, require_tool

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(900)]

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
PI4_MODEL = "Raspberry Pi 4 Model B Rev 1.4"
# Where the venv's Python finds what a Pi needs from apt, and a Debian package (PyGObject) that
# `make venv` alone never links in.
WHERE_FROM = """
import importlib.util, json
print(json.dumps({name: (spec.origin if (spec := importlib.util.find_spec(name)) else None)
                  for name in ("picamera2", "lgpio", "gi", "edge")}))
"""


def make_venv(venv: Path, stubs: Path | None) -> tuple[dict[str, str | None], str]:
    """``make venv`` on this machine as it is, or (``stubs``) as Raspberry Pi OS on a Pi 4; what its
    Python imports from where, and what ``edge doctor`` says there."""
    pi = (
        f"mount -t overlay overlay -o lowerdir={stubs}{DIST_PACKAGES}:{DIST_PACKAGES} {DIST_PACKAGES}\n"
        "mount -t tmpfs tmpfs /sys/firmware\n"
        "mkdir -p /sys/firmware/devicetree/base\n"
        f"printf '{PI4_MODEL}\\0' >/sys/firmware/devicetree/base/model\n"
        if stubs
        else ""
    )
    script = (
        f"set -e\n{pi}"
        f"make -C {ROOT} --no-print-directory venv VENV={venv} >&2\n"
        f"{venv}/bin/python -c '{WHERE_FROM}'\n"
        "echo ---\n"
        f"{venv}/bin/edge doctor || true\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    where, _, doctor = result.stdout.partition("---\n")
    return json.loads(where), doctor


def test_the_venv_sees_the_system_camera_stack_on_raspberry_pi_os_and_no_debian_package_elsewhere(tmp_path):
    require_root()
    require_tool("make", "unshare", "dpkg-deb", package="make util-linux dpkg")
    venv = tmp_path / "venv"

    where, _ = make_venv(venv, None)
    assert where["picamera2"] is None and where["lgpio"] is None
    assert where["gi"] is None, "plain Debian: Debian's own python3-* packages stay out of the venv"
    assert where["edge"] == str(ROOT / "edge/__init__.py")

    # The Pi's camera stack from apt (the stand-ins' .debs, unpacked).
    repo, stubs = tmp_path / "repo", tmp_path / "stubs"
    build_stub_repo(repo, ("python3-picamera2", "python3-lgpio"))
    for deb in repo.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(stubs)], check=True)

    # The same venv, made before python3-picamera2 was there, is made again seeing the system.
    where, doctor = make_venv(venv, stubs)
    assert where["picamera2"] == f"{DIST_PACKAGES}/picamera2/__init__.py"
    assert where["lgpio"] == f"{DIST_PACKAGES}/lgpio/__init__.py"
    assert where["edge"] == str(ROOT / "edge/__init__.py")
    assert f"ok    machine: {PI4_MODEL}" in doctor, doctor
    assert f"ok    picamera2: {PICAMERA2_VERSION.split('-')[0]}" in doctor, doctor
    assert f"ok    lgpio: imports from {DIST_PACKAGES}/lgpio" in doctor, doctor
