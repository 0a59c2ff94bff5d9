#!/bin/bash -e
# pi-gen sub-stage, run on the build host with ROOTFS_DIR set: puts the edge camera
# into the image with the same install.sh a user runs on a Pi. systemd is not running
# inside the image build, so install.sh only enables the service; it starts at boot.
# files/ is filled by image/pi-gen/build-image.sh: image/ (install.sh and its files),
# dist/ (our wheel), and the README with the docs/ it links (installed in /opt/edge).

target="${ROOTFS_DIR}/root/edge-install"
rm -rf "${target}"
install -d "${target}"
cp -a files/. "${target}/"

on_chroot <<'CHROOT'
bash /root/edge-install/image/install.sh --wheel /root/edge-install/dist
CHROOT

# Settings a user can set before the first boot: an example on the boot partition.
install -m 0644 files/image/pi-gen/edge.toml.boot-example "${ROOTFS_DIR}/boot/firmware/edge.toml.example"
rm -rf "${target}"
