#!/bin/bash
# Build a flashable Raspberry Pi OS Lite 64-bit image with the edge camera
# preinstalled, using pi-gen (Raspberry Pi's own image builder) and the same
# install.sh a user runs by hand. Then write a Raspberry Pi Imager manifest for it.
#
#   git clone --branch arm64 https://github.com/RPi-Distro/pi-gen.git ~/pi-gen
#   sudo image/pi-gen/build-image.sh ~/pi-gen [--release trixie|bookworm] [--docker]
#                                    [--url URL-where-the-image-will-be-published]
#
# Each pi-gen branch builds one release: arm64 builds Trixie (the default here),
# bookworm-arm64 builds Bookworm (clone that branch for --release bookworm).
#
# Needs what pi-gen needs (a Debian/Ubuntu host or Docker, network access to
# Raspberry Pi's and Debian's archives and PyPI) and takes 30-60 minutes. Output:
# PI_GEN/deploy/*-edge-camera.img.xz and PI_GEN/deploy/edge-camera.rpi-imager-manifest.
set -Eeuo pipefail

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE_DIR="$(dirname "$HERE")"
SOURCE_DIR="$(dirname "$IMAGE_DIR")"
PI_GEN=""
RELEASE=trixie
DOCKER=0
URL=""

while (($#)); do
    case "$1" in
        --release)
            RELEASE="${2:?--release needs a name}"
            shift
            ;;
        --docker) DOCKER=1 ;;
        --url)
            URL="${2:?--url needs a URL}"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option: $1" ;;
        *) PI_GEN="$1" ;;
    esac
    shift
done

[[ -n "$PI_GEN" ]] || {
    usage >&2
    die "give the pi-gen checkout"
}
[[ -x "$PI_GEN/build.sh" && -d "$PI_GEN/stage2" ]] || die "$PI_GEN is not a pi-gen checkout"
case "$RELEASE" in
    bookworm)
        BRANCH=bookworm-arm64
        INIT_FORMAT=systemd # Imager writes firstrun.sh
        ;;
    trixie)
        BRANCH=arm64
        INIT_FORMAT=cloudinit-rpi # Imager writes cloud-init user-data (pi-gen's ENABLE_CLOUD_INIT)
        ;;
    *) die "unsupported release: $RELEASE (bookworm or trixie)" ;;
esac
# pi-gen's build.sh names its branch's release and architecture (its defaults). Another
# RELEASE only gets a warning from its stage0, and an image mixing the two releases.
branch_release="$(sed -n 's/^export RELEASE=[$]{RELEASE:-\([a-z]*\)}.*/\1/p' "$PI_GEN/build.sh")"
branch_arch="$(sed -n 's/^export ARCH=\([a-z0-9]*\).*/\1/p' "$PI_GEN/build.sh")"
if [[ -z "$branch_release" ]]; then
    printf "warning: cannot tell which release %s builds; it should be pi-gen's %s branch\n" "$PI_GEN" "$BRANCH" >&2
elif [[ "$branch_release" != "$RELEASE" || "${branch_arch:-arm64}" != arm64 ]]; then
    die "$PI_GEN builds $branch_release${branch_arch:+ for $branch_arch}; --release $RELEASE needs pi-gen's $BRANCH branch (git -C $PI_GEN checkout $BRANCH)"
fi
((EUID == 0)) || die "pi-gen runs as root: sudo $0 ..."

stage="$PI_GEN/stage-edge"
echo "==> copying the stage to $stage"
rm -rf "$stage"
cp -a "$HERE/stage-edge" "$stage"
files="$stage/00-edge/files"
mkdir -p "$files/dist"
tar -C "$IMAGE_DIR" --exclude=__pycache__ -cf - . | (mkdir -p "$files/image" && tar -C "$files/image" -xf -)
# Beside image/, as in a clone: install.sh puts the README and the pages it links in /opt/edge.
tar -C "$SOURCE_DIR" -cf - README.md CONTRIBUTING.md docs | tar -C "$files" -xf -

echo "==> building the wheel"
python3 -m pip wheel --no-deps --quiet -w "$files/dist" "$SOURCE_DIR"

# Only our image is exported, not also the plain Lite one of stage2.
touch "$PI_GEN/stage2/SKIP_IMAGES"

cat >"$PI_GEN/config.edge-camera" <<CONFIG
IMG_NAME="edge-camera"
RELEASE="$RELEASE"
DEPLOY_COMPRESSION="xz"
LOCALE_DEFAULT="en_GB.UTF-8"
TARGET_HOSTNAME="edge-camera"
ENABLE_SSH=0
STAGE_LIST="stage0 stage1 stage2 stage-edge"
CONFIG
if [[ "$RELEASE" == trixie ]]; then
    # Imager's cloudinit-rpi customisation needs it (Trixie branch only; it is the default
    # there, but a config file in the checkout could turn it off).
    echo 'ENABLE_CLOUD_INIT=1' >>"$PI_GEN/config.edge-camera"
fi

echo "==> running pi-gen ($RELEASE)"
cd "$PI_GEN"
if ((DOCKER)); then
    ./build-docker.sh -c config.edge-camera
else
    ./build.sh -c config.edge-camera
fi

images=(deploy/*edge-camera*.img.xz)
[[ -f "${images[-1]}" ]] || die "pi-gen produced no image in $PI_GEN/deploy"
image="${images[-1]}"
args=(--image "$image" --init-format "$INIT_FORMAT" --output deploy/edge-camera.rpi-imager-manifest)
if [[ -n "$URL" ]]; then
    args+=(--url "$URL")
fi
python3 "$HERE/make-imager-manifest.py" "${args[@]}"
echo "==> done: $PI_GEN/$image"
echo "    open $PI_GEN/deploy/edge-camera.rpi-imager-manifest in Raspberry Pi Imager 2.x"
