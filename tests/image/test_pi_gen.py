"""The pi-gen stage and build-image.sh against each pi-gen branch (Trixie, Bookworm), offline.

pi-gen (github.com/RPi-Distro/pi-gen) cannot be cloned here, so each branch is reproduced
by a stand-in checkout holding only what our stage relies on, read from the branch at
the commit named in PI_GEN: build.sh's config variables and its way of running a stage
(prerun.sh, then each sub-stage's NN-debconf, NN-packages-nr, NN-packages, executable
NN-run.sh and NN-run-chroot.sh for NN in 00..99, from the sub-stage's directory; images
exported for the stages with EXPORT_IMAGE and no SKIP_IMAGES), scripts/common's
copy_previous and on_chroot, stage0's release check, stage1's /boot/firmware and
/etc/hostname, and the stage2 packages we rely on. build-image.sh runs against it: the
stand-in's on_chroot records the script it is given instead of chrooting, and its
export step copies a prepared image instead of building one. No network, no chroot.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.conftest import IMAGE, require_root

STAGE = IMAGE / "pi-gen/stage-edge"


@dataclass(frozen=True)
class Branch:
    name: str
    commit: str  # the branch's head when the stage was checked against it (tag in README)
    config: frozenset[str]  # the variables its README documents and its build.sh honours
    stage2: dict[str, tuple[str, ...]]  # stage2 package lists: the names we rely on
    init_format: str  # how Raspberry Pi Imager customises an image of this release


_CONFIG = (
    "IMG_NAME PI_GEN_RELEASE RELEASE APT_PROXY TEMP_REPO BASE_DIR WORK_DIR DEPLOY_DIR DEPLOY_COMPRESSION "
    "DEPLOY_ZIP COMPRESSION_LEVEL USE_QEMU LOCALE_DEFAULT TARGET_HOSTNAME KEYBOARD_KEYMAP KEYBOARD_LAYOUT "
    "TIMEZONE_DEFAULT FIRST_USER_NAME FIRST_USER_PASS DISABLE_FIRST_BOOT_USER_RENAME WPA_COUNTRY ENABLE_SSH "
    "PUBKEY_SSH_FIRST_USER PUBKEY_ONLY_SSH SETFCAP STAGE_LIST EXPORT_CONFIG_DIR"
).split()
# stage2/01-sys-tweaks: avahi-daemon (install.sh publishes the page through it and does not
# install it), raspberrypi-sys-mods (Imager's firstrun.sh uses its imager_custom), the
# Python and camera packages install.sh would otherwise install itself.
_SYS_TWEAKS = {
    "01-sys-tweaks/00-packages": ("python3-gpiozero", "avahi-daemon", "raspberrypi-sys-mods", "python3-venv"),
    "01-sys-tweaks/00-packages-nr": ("rpicam-apps-lite",),
}
PI_GEN = {
    # tag 2026-06-18-raspios-trixie-arm64; the branch moved to trixie in c2cd4e8a (2025-08-19)
    "trixie": Branch(
        name="arm64",
        commit="ca8aeed0ae300c2a89f55ce9617d5f96a27e99e5",
        config=frozenset([*_CONFIG, "PASSWORDLESS_SUDO", "ENABLE_CLOUD_INIT"]),
        stage2={**_SYS_TWEAKS, "04-cloud-init/00-packages": ("cloud-init", "rpi-cloud-init-mods")},
        init_format="cloudinit-rpi",
    ),
    # tag 2026-06-18-raspios-bookworm-arm64
    "bookworm": Branch(
        name="bookworm-arm64",
        commit="d7a31c6aa09f4b867902c51da2b45807c0a1709e",
        config=frozenset(_CONFIG),
        stage2=_SYS_TWEAKS,
        init_format="systemd",
    ),
}

# install.sh's apt packages, and those of our own NN-packages lists, must exist in both
# releases. Debian main (arm64), checked 2026-12-07 with apt-cache policy against
# deb.debian.org (trixie Release of 2026-11-21, bookworm of 2026-07-11):
DEBIAN = {
    "bookworm": {"python3", "python3-venv", "python3-numpy", "python3-av", "python3-gpiozero", "libcamera-ipa"},
    "trixie": {"python3", "python3-venv", "python3-numpy", "python3-av", "python3-gpiozero", "libcamera-ipa"},
}
# Not in Debian: Raspberry Pi's archive (archive.raspberrypi.com, both releases), which
# pi-gen's stage0 adds; not checkable offline.
RASPBERRY_PI_ARCHIVE = {"python3-lgpio", "python3-picamera2", "rpicam-apps-lite"}

# pi-gen's file names for a stage and a sub-stage; anything else is ignored by build.sh.
STAGE_FILES = re.compile(r"prerun\.sh|EXPORT_IMAGE|EXPORT_NOOBS|SKIP|SKIP_IMAGES")
SUB_STAGE_FILES = re.compile(r"files|SKIP|[0-9]{2}-(run\.sh|run-chroot\.sh|packages|packages-nr|debconf|patches)")

BUILD_SH = r"""#!/bin/bash -e
# Stand-in for pi-gen's build.sh, branch @BRANCH@ (@COMMIT@): how it runs stages.
run_sub_stage() {
	pushd "${SUB_STAGE_DIR}" >/dev/null
	for i in {00..99}; do
		if [ -f "${i}-debconf" ]; then
			on_chroot <<EOF
debconf-set-selections <<SELEOF
$(cat "${i}-debconf")
SELEOF
EOF
		fi
		if [ -f "${i}-packages-nr" ]; then
			PACKAGES="$(sed -e 's/#.*//' "${i}-packages-nr" | xargs)"
			if [ -n "$PACKAGES" ]; then
				on_chroot <<EOF
apt-get -o Acquire::Retries=3 install --no-install-recommends -y $PACKAGES
EOF
			fi
		fi
		if [ -f "${i}-packages" ]; then
			PACKAGES="$(sed -e 's/#.*//' "${i}-packages" | xargs)"
			if [ -n "$PACKAGES" ]; then
				on_chroot <<EOF
apt-get -o Acquire::Retries=3 install -y $PACKAGES
EOF
			fi
		fi
		if [ -d "${i}-patches" ]; then
			echo "stand-in: ${SUB_STAGE_DIR}/${i}-patches (quilt) is not reproduced" >&2
			exit 1
		fi
		if [ -x "${i}-run.sh" ]; then
			./"${i}-run.sh"
		elif [ -f "${i}-run.sh" ]; then
			echo "${SUB_STAGE_DIR}/${i}-run.sh" >>"${BASE_DIR}/record/skipped"
		fi
		if [ -f "${i}-run-chroot.sh" ]; then
			on_chroot <"${i}-run-chroot.sh"
		fi
	done
	popd >/dev/null
}

run_stage() {
	STAGE="$(basename "${STAGE_DIR}")"
	pushd "${STAGE_DIR}" >/dev/null
	STAGE_WORK_DIR="${WORK_DIR}/${STAGE}"
	ROOTFS_DIR="${STAGE_WORK_DIR}"/rootfs
	if [ ! -f SKIP_IMAGES ] && [ -f "${STAGE_DIR}/EXPORT_IMAGE" ]; then
		EXPORT_DIRS="${EXPORT_DIRS} ${STAGE_DIR}"
	fi
	if [ ! -f SKIP ]; then
		if [ -x prerun.sh ]; then
			./prerun.sh
		fi
		for SUB_STAGE_DIR in "${STAGE_DIR}"/*; do
			if [ -d "${SUB_STAGE_DIR}" ] && [ ! -f "${SUB_STAGE_DIR}/SKIP" ]; then
				run_sub_stage
			fi
		done
	fi
	PREV_STAGE="${STAGE}"
	PREV_STAGE_DIR="${STAGE_DIR}"
	PREV_ROOTFS_DIR="${ROOTFS_DIR}"
	popd >/dev/null
}

BASE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BASE_DIR
if [ -f config ]; then
	# shellcheck disable=SC1091
	source config
fi
while getopts "c:" flag; do
	case "$flag" in
		c)
			# shellcheck disable=SC1090
			source "$OPTARG"
			;;
		*) ;;
	esac
done

export ARCH=arm64
export RELEASE=${RELEASE:-@RELEASE@}
export IMG_NAME="${IMG_NAME:-raspios-$RELEASE-$ARCH}"
export USE_QEMU="${USE_QEMU:-0}"
export IMG_DATE="${IMG_DATE:-"$(date +%Y-%m-%d)"}"
export IMG_FILENAME="${IMG_FILENAME:-"${IMG_DATE}-${IMG_NAME}"}"
export ARCHIVE_FILENAME="${ARCHIVE_FILENAME:-"image_${IMG_DATE}-${IMG_NAME}"}"
export WORK_DIR="${WORK_DIR:-"${BASE_DIR}/work/${IMG_NAME}"}"
export DEPLOY_DIR=${DEPLOY_DIR:-"${BASE_DIR}/deploy"}
export DEPLOY_COMPRESSION=${DEPLOY_COMPRESSION:-zip}
export TARGET_HOSTNAME=${TARGET_HOSTNAME:-raspberrypi}
export FIRST_USER_NAME=${FIRST_USER_NAME:-pi}
export ENABLE_SSH="${ENABLE_SSH:-0}"
export LOCALE_DEFAULT="${LOCALE_DEFAULT:-en_GB.UTF-8}"
@EXTRA@
export STAGE STAGE_DIR STAGE_WORK_DIR PREV_STAGE PREV_STAGE_DIR ROOTFS_DIR PREV_ROOTFS_DIR IMG_SUFFIX

# scripts/common
copy_previous() {
	if [ ! -d "${PREV_ROOTFS_DIR}" ]; then
		echo "Previous stage rootfs not found"
		false
	fi
	mkdir -p "${ROOTFS_DIR}"
	cp -a "${PREV_ROOTFS_DIR}/." "${ROOTFS_DIR}/"
}
export -f copy_previous
# The real one runs the script it reads with bash -e, chrooted into ROOTFS_DIR: this one
# checks its syntax, keeps it and lists what ROOTFS_DIR held when it ran.
on_chroot() {
	[ -d "${ROOTFS_DIR}" ] || { echo "on_chroot: no ${ROOTFS_DIR}" >&2; return 1; }
	local n script
	n="$(find "${BASE_DIR}/record" -name 'chroot-*.sh' | wc -l)"
	script="${BASE_DIR}/record/chroot-$(printf %02d "$n")-${STAGE}.sh"
	cat >"${script}"
	bash -n "${script}"
	(cd "${ROOTFS_DIR}" && find . | sort) >"${script%.sh}.files"
}
export -f on_chroot
log() { echo "$*"; }
export -f log

mkdir -p "${BASE_DIR}/record"
STAGE_LIST=${STAGE_LIST:-${BASE_DIR}/stage*}
for STAGE_DIR in $STAGE_LIST; do
	STAGE_DIR=$(realpath "${STAGE_DIR}")
	run_stage
done

# export-image: an image per exported stage, compressed as DEPLOY_COMPRESSION says.
for EXPORT_DIR in ${EXPORT_DIRS}; do
	# shellcheck source=/dev/null
	source "${EXPORT_DIR}/EXPORT_IMAGE"
	echo "${EXPORT_DIR}" >>"${BASE_DIR}/record/exported"
	mkdir -p "${DEPLOY_DIR}"
	case "${DEPLOY_COMPRESSION}" in
		xz) cp "${BASE_DIR}/stand-in.img.xz" "${DEPLOY_DIR}/${ARCHIVE_FILENAME}${IMG_SUFFIX}.img.xz" ;;
		*) echo "stand-in: DEPLOY_COMPRESSION=${DEPLOY_COMPRESSION} is not reproduced" >&2 && exit 1 ;;
	esac
done
"""

# The stand-in's stages 0-2 (stage0 bootstraps nothing); stand_in() adds stage2's package lists.
STAGES = {
    "stage0/prerun.sh": """#!/bin/bash -e
if [ "$RELEASE" != "@RELEASE@" ]; then
	echo "WARNING: RELEASE does not match the intended option for this branch."
	echo "         Please check the relevant README.md section."
fi
mkdir -p "${ROOTFS_DIR}/etc" "${ROOTFS_DIR}/root"
""",
    "stage1/prerun.sh": """#!/bin/bash -e
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
""",
    "stage1/00-boot-files/00-run.sh": """#!/bin/bash -e
mkdir -p "${ROOTFS_DIR}/boot/firmware"
touch "${ROOTFS_DIR}/boot/firmware/config.txt" "${ROOTFS_DIR}/boot/firmware/cmdline.txt"
""",
    "stage1/02-net-tweaks/00-run.sh": """#!/bin/bash -e
echo "${TARGET_HOSTNAME}" > "${ROOTFS_DIR}/etc/hostname"
""",
    "stage2/prerun.sh": """#!/bin/bash -e
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
""",
    "stage2/EXPORT_IMAGE": """# shellcheck shell=bash disable=SC2034
IMG_SUFFIX="-lite"
""",
}
CLOUD_INIT_RUN_SH = """#!/bin/bash -e
if [ "${ENABLE_CLOUD_INIT}" != "1" ]; then
	log "Skipping cloud-init stage"
	exit 0
fi
install -m 755 /dev/null "${ROOTFS_DIR}/boot/firmware/user-data"
"""


def stand_in(root: Path, release: str) -> Path:
    """A stand-in pi-gen checkout of ``release``'s branch under ``root``."""
    branch = PI_GEN[release]
    pi_gen = root / f"pi-gen-{branch.name}"
    extra = 'export ENABLE_CLOUD_INIT="${ENABLE_CLOUD_INIT:-1}"' if "ENABLE_CLOUD_INIT" in branch.config else ""
    files = {"build.sh": BUILD_SH.replace("@EXTRA@", extra), **STAGES}
    for sub_stage, names in branch.stage2.items():
        files[f"stage2/{sub_stage}"] = "\n".join(names) + "\n"
    if "04-cloud-init/00-packages" in branch.stage2:
        files["stage2/04-cloud-init/01-run.sh"] = CLOUD_INIT_RUN_SH
    for name, text in files.items():
        path = pi_gen / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = text.replace("@RELEASE@", release).replace("@BRANCH@", branch.name).replace("@COMMIT@", branch.commit)
        path.write_text(text)
        if text.startswith("#!"):
            path.chmod(0o755)
    (pi_gen / "stand-in.img.xz").write_bytes(lzma.compress(b"stand-in image\n"))
    return pi_gen


def fake_python(root: Path) -> Path:
    """A bin/ whose python3 makes an empty wheel for "pip wheel" (no PyPI) and is otherwise ours."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3"
    shim.write_text(
        f"""#!/bin/bash
# python3 -m pip wheel ... -w DIR SOURCE: an empty wheel in DIR; anything else: the tests' python.
if [ "$1 $2 $3" = "-m pip wheel" ]; then
    while [ $# -gt 0 ]; do
        if [ "$1" = -w ]; then
            exec touch "$2/edge_camera-0.0.0-py3-none-any.whl"
        fi
        shift
    done
    exit 1
fi
exec {shlex.quote(sys.executable)} "$@"
"""
    )
    shim.chmod(0o755)
    return bin_dir


def build_image(pi_gen: Path, release: str, root: Path) -> subprocess.CompletedProcess:
    command = ["bash", str(IMAGE / "pi-gen/build-image.sh"), str(pi_gen), "--release", release]
    if os.geteuid() != 0:  # build-image.sh asks for root, as pi-gen needs it; a user namespace will do
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-r", "true"]).returncode != 0:
            require_root()
        command = ["unshare", "-r", *command]
    env = {**os.environ, "PATH": f"{fake_python(root)}:{os.environ['PATH']}"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def chroot_scripts(pi_gen: Path, stage: str) -> list[Path]:
    return sorted((pi_gen / "record").glob(f"chroot-*-{stage}.sh"))


def installed(pi_gen: Path) -> set[str]:
    """Packages the stand-in's stages installed (apt-get install lines run through on_chroot)."""
    names: set[str] = set()
    for script in (pi_gen / "record").glob("chroot-*.sh"):
        for packages in re.findall(
            r"^apt-get .* install (?:--no-install-recommends )?-y (.*)$", script.read_text(), re.M
        ):
            names.update(packages.split())
    return names


def test_stage_uses_only_names_pi_gen_runs() -> None:
    assert STAGE.is_dir()
    for path in STAGE.iterdir():
        if path.is_dir():
            for sub in path.iterdir():
                assert SUB_STAGE_FILES.fullmatch(sub.name), f"pi-gen ignores {sub.relative_to(STAGE)}"
        else:
            assert STAGE_FILES.fullmatch(path.name), f"pi-gen ignores {path.relative_to(STAGE)}"
    scripts = [STAGE / "prerun.sh", *STAGE.glob("*/[0-9][0-9]-run.sh")]
    assert len(scripts) >= 2
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script.name}: pi-gen skips a script that is not executable"
        # pi-gen runs it as ./NN-run.sh: the shebang makes a failing command fail the build
        assert script.read_text().startswith("#!/bin/bash -e\n"), script


@pytest.mark.root
@pytest.mark.parametrize("release", sorted(PI_GEN))
def test_build_image_against_the_branch(tmp_path: Path, release: str) -> None:
    branch = PI_GEN[release]
    pi_gen = stand_in(tmp_path, release)
    # A config of the checkout's own, which build.sh reads first, must not undo ours.
    (pi_gen / "config").write_text("IMG_NAME=raspios\nENABLE_CLOUD_INIT=0\n")
    result = build_image(pi_gen, release, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: RELEASE does not match" not in result.stdout  # stage0's check

    config = dict(re.findall(r'^([A-Z_]+)="?([^"\n]*)"?$', (pi_gen / "config.edge-camera").read_text(), re.M))
    assert config["RELEASE"] == release
    assert set(config) <= branch.config, f"not honoured by pi-gen's {branch.name}: {set(config) - branch.config}"
    assert config["STAGE_LIST"].split() == ["stage0", "stage1", "stage2", "stage-edge"]
    assert config["DEPLOY_COMPRESSION"] == "xz"

    # Our stage ran as pi-gen runs it: every file it has, the scripts executable.
    copied = sorted(p.relative_to(pi_gen / "stage-edge") for p in (pi_gen / "stage-edge").rglob("*"))
    assert [p for p in copied if "files" not in p.parts] == sorted(
        p.relative_to(STAGE) for p in STAGE.rglob("*") if "files" not in p.relative_to(STAGE).parts
    )
    assert not (pi_gen / "record/skipped").exists(), (pi_gen / "record/skipped").read_text()
    [script] = chroot_scripts(pi_gen, "stage-edge")
    assert re.search(
        r"^bash /root/edge-install/image/install\.sh --wheel /root/edge-install/dist$", script.read_text(), re.M
    )
    in_chroot = script.with_suffix(".files").read_text().split()
    assert "./root/edge-install/image/install.sh" in in_chroot
    assert any(re.fullmatch(r"\./root/edge-install/dist/edge_camera-.*\.whl", f) for f in in_chroot)
    # install.sh finds the README and the pages it links beside image/, as in a clone.
    assert {"./root/edge-install/README.md", "./root/edge-install/docs/install.md"} <= set(in_chroot)

    rootfs = pi_gen / "work/edge-camera/stage-edge/rootfs"
    assert (rootfs / "boot/firmware/edge.toml.example").is_file()
    assert not (rootfs / "root/edge-install").exists()
    assert (rootfs / "etc/hostname").read_text().strip() == "edge-camera"
    # Trixie's Imager customisation is cloud-init's: stage2 installs it and its boot files.
    assert (rootfs / "boot/firmware/user-data").exists() == (branch.init_format == "cloudinit-rpi")
    assert ("cloud-init" in installed(pi_gen)) == (branch.init_format == "cloudinit-rpi")
    assert "avahi-daemon" in installed(pi_gen)  # install.sh publishes through it, does not install it

    # Only our image is exported, not also stage2's Lite one.
    assert (pi_gen / "record/exported").read_text().split() == [str(pi_gen / "stage-edge")]
    [image] = (pi_gen / "deploy").glob("*.img.xz")
    assert image.name.endswith("-edge-camera.img.xz")
    manifest = json.loads((pi_gen / "deploy/edge-camera.rpi-imager-manifest").read_text())
    [entry] = manifest["os_list"]
    assert entry["init_format"] == branch.init_format
    assert entry["url"] == image.resolve().as_uri()


@pytest.mark.parametrize(("release", "checkout"), [("bookworm", "trixie"), ("trixie", "bookworm")])
def test_build_image_refuses_another_branch(tmp_path: Path, release: str, checkout: str) -> None:
    pi_gen = stand_in(tmp_path, checkout)
    result = subprocess.run(
        ["bash", str(IMAGE / "pi-gen/build-image.sh"), str(pi_gen), "--release", release],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"needs pi-gen's {PI_GEN[release].name} branch" in result.stderr
    assert not (pi_gen / "stage-edge").exists()


def test_build_image_refuses_a_32_bit_branch(tmp_path: Path) -> None:
    pi_gen = stand_in(tmp_path, "trixie")  # as pi-gen's master: Trixie, armhf
    build_sh = pi_gen / "build.sh"
    build_sh.write_text(build_sh.read_text().replace("export ARCH=arm64", "export ARCH=armhf"))
    result = subprocess.run(
        ["bash", str(IMAGE / "pi-gen/build-image.sh"), str(pi_gen), "--release", "trixie"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "builds trixie for armhf" in result.stderr and "pi-gen's arm64 branch" in result.stderr


@pytest.mark.parametrize("release", sorted(PI_GEN))
def test_apt_packages_exist_in_the_release(release: str) -> None:
    printed = subprocess.run(
        ["bash", str(IMAGE / "install.sh"), "--print-apt-packages"], capture_output=True, text=True, check=True
    ).stdout.split()
    ours = [
        name
        for path in sorted(STAGE.glob("*/[0-9][0-9]-packages*"))
        for name in re.sub(r"#.*", "", path.read_text()).split()
    ]
    assert printed
    known = DEBIAN[release] | RASPBERRY_PI_ARCHIVE
    unknown = sorted(set(printed + ours) - known)
    assert not unknown, f"not checked to exist in {release} (add them here once checked): {unknown}"
