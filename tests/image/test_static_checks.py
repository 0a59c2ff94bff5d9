"""Fast checks of the install files: shellcheck, systemd-analyze verify and security."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.image.conftest import IMAGE, require_tool

UNITS = sorted((IMAGE / "systemd").glob("*.service"))
MAX_EXPOSURE = 3.0


def shell_scripts() -> list[Path]:
    """Every shell script under image/: *.sh files and files with a sh/bash shebang."""
    found = []
    for path in sorted(IMAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".sh":
            found.append(path)
            continue
        try:
            first = path.open("rb").readline()
        except OSError:
            continue
        if re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(ba)?sh\b|# shellcheck shell=", first):
            found.append(path)
    return found


def test_there_are_scripts_to_check() -> None:
    names = {p.name for p in shell_scripts()}
    assert {
        "install.sh",
        "chroot.sh",
        "wheels.sh",
        "check-arm64.sh",
        "build-image.sh",
        "00-run.sh",
        "prerun.sh",
        "EXPORT_IMAGE",
        "apt-need.sh",
    } <= names


def test_shellcheck_has_no_findings() -> None:
    require_tool("shellcheck")
    scripts = shell_scripts()
    result = subprocess.run(
        ["shellcheck", "--external-sources", "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        cwd=IMAGE,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def _fake_root(tmp_path: Path) -> Path:
    """A root with the host's systemd units, our units and a stand-in for our program."""
    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    for system_units in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if system_units.is_dir():
            shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
            break
    ours = root / "usr/local/lib/systemd/system"
    ours.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, ours / unit.name)
    edge = root / "opt/edge/venv/bin/edge"  # both units run the daemon's command
    edge.parent.mkdir(parents=True)
    edge.write_text("#!/bin/sh\n")
    edge.chmod(0o755)
    return root


def test_units_exist() -> None:
    assert {u.name for u in UNITS} == {"edge.service", "edge-boot-config.service"}


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    require_tool("systemd-analyze", package="systemd")
    root = _fake_root(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *(u.name for u in UNITS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def exposure(unit: Path, root: Path | None = None) -> float:
    """The overall exposure score of ``systemd-analyze security --offline=true``."""
    args = ["systemd-analyze", "security", "--offline=true", "--no-pager"]
    if root is not None:
        args += [f"--root={root}", unit.name]
    else:
        args.append(str(unit))
    result = subprocess.run(args, capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


@pytest.mark.parametrize("unit", ["edge.service", "edge-boot-config.service"])
def test_security_exposure_is_low(unit: str) -> None:
    require_tool("systemd-analyze", package="systemd")
    score = exposure(IMAGE / "systemd" / unit)
    assert score <= MAX_EXPOSURE, f"{unit}: exposure {score} > {MAX_EXPOSURE}"


def test_the_boot_config_service_may_write_only_what_it_is_for() -> None:
    """It runs as root on a file anyone holding the SD card can write."""
    settings: dict[str, list[str]] = {}
    for line in (IMAGE / "systemd/edge-boot-config.service").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    assert settings["ProtectSystem"] == ["strict"]
    assert settings["ReadWritePaths"] == ["/etc/edge /boot/firmware -/etc/hostname -/etc/hosts"]
    assert settings["PrivateNetwork"] == ["yes"] and settings["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert settings["CapabilityBoundingSet"] == ["CAP_CHOWN CAP_SYS_ADMIN"]
    assert settings["ExecStart"] == ["/opt/edge/venv/bin/edge config apply-boot --live"]


def test_hardening_required_by_the_issue() -> None:
    text = (IMAGE / "systemd/edge.service").read_text()
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    one = {k: v[-1] for k, v in settings.items()}
    assert one["Type"] == "notify"
    assert one["Restart"] == "on-failure"
    assert int(one["WatchdogSec"]) > 0
    assert one["NoNewPrivileges"] == "yes"
    assert one["ProtectSystem"] == "strict"
    assert one["PrivateTmp"] == "yes"
    assert one["StateDirectory"] == "edge"
    assert "ReadWritePaths" not in one  # only the state directory is writable
    assert "network-online.target" in " ".join(settings["After"])
    assert "NetworkManager-wait-online.service" in " ".join(settings["After"])
    families = one["RestrictAddressFamilies"].split()
    assert set(families) <= {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    assert one["DevicePolicy"] == "closed"
    allowed = {v.split()[0] for v in settings["DeviceAllow"]}
    assert allowed == {"char-video4linux", "char-media", "char-dma_heap", "char-drm", "char-gpiochip", "char-alsa"}
    assert one["ExecStart"] == "/opt/edge/venv/bin/edge run --config /etc/edge/edge.toml"
    assert "StandardOutput" not in one  # journal (the default)


def test_imager_manifest(tmp_path: Path) -> None:
    import hashlib
    import lzma

    raw = bytes(range(256)) * 4096
    image = tmp_path / "2026-01-01-edge-camera-edge-camera.img.xz"
    image.write_bytes(lzma.compress(raw))
    out = tmp_path / "edge-camera.rpi-imager-manifest"
    subprocess.run(
        [
            sys.executable,
            str(IMAGE / "pi-gen/make-imager-manifest.py"),
            "--image",
            str(image),
            "--init-format",
            "cloudinit-rpi",
            "--output",
            str(out),
            "--release-date",
            "2026-01-01",
        ],
        check=True,
        capture_output=True,
    )
    entry = json.loads(out.read_text())["os_list"][0]
    assert entry["init_format"] == "cloudinit-rpi"
    assert entry["extract_size"] == len(raw)
    assert entry["extract_sha256"] == hashlib.sha256(raw).hexdigest()
    assert entry["image_download_size"] == image.stat().st_size
    assert entry["image_download_sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert entry["url"] == image.resolve().as_uri()
    assert entry["release_date"] == "2026-01-01"
    assert "pi5-64bit" in entry["devices"] and "pi4-64bit" in entry["devices"]
    for key in (
        "name",
        "description",
        "icon",
        "url",
        "extract_size",
        "extract_sha256",
        "image_download_size",
        "release_date",
        "devices",
    ):
        assert key in entry  # required by Imager's os-list schema


@pytest.mark.parametrize("script", ["install.sh"])
def test_install_help(script: str) -> None:
    result = subprocess.run(["bash", str(IMAGE / script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--wheel", "--wheelhouse", "--uninstall", "--no-start"):
        assert option in result.stdout


def test_install_rejects_unknown_option() -> None:
    result = subprocess.run(["bash", str(IMAGE / "install.sh"), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "unknown option: --frobnicate" in result.stderr
