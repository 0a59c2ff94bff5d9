# Included by the top-level Makefile: `include image/image.mk`.
#
#   make image-test-deps   Debian packages the tests in tests/image need (root: installs them)
#   make image-test        those tests only (shellcheck, systemd-analyze, install.sh in a chroot)
#   make check-arm64       install.sh run in an emulated arm64 chroot, and the installed
#                          service streaming to a WHEP client on the host (root; first run
#                          builds the chroot)
#   make check-fresh       the README's two commands (make run, make test) on a bare Debian
#                          root from a clean clone of HEAD (root; first run builds the root)
#   make image-clean-cache remove the cached chroots and wheelhouses
#
# Variables: DEBIAN (the release check-arm64 and check-fresh run on: bookworm, the default,
# or trixie), EDGE_TEST_CACHE (default /var/cache/edge-tests), IMAGE_PYTHON (the project's
# venv Python).

DEBIAN ?= bookworm
EDGE_TEST_CACHE ?= /var/cache/edge-tests
IMAGE_PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

# tests/image: shellcheck; systemd-analyze (systemd); the chroot (debootstrap, zstd,
# unshare from util-linux, dpkg-deb/dpkg-scanpackages from dpkg-dev); the daemon check
# in a network namespace (iproute2).
IMAGE_TEST_DEBS := shellcheck systemd debootstrap zstd util-linux dpkg-dev iproute2
# check-arm64: the above plus emulation.
ARM64_DEBS := $(IMAGE_TEST_DEBS) qemu-user-static binfmt-support

.PHONY: image-test-deps image-test check-arm64 check-fresh image-clean-cache

image-test-deps:
	@bash image/lib/apt-need.sh $(IMAGE_TEST_DEBS)

image-test: image-test-deps
	EDGE_TEST_CACHE=$(EDGE_TEST_CACHE) $(IMAGE_PYTHON) -m pytest tests/image

check-arm64:
	@bash image/lib/apt-need.sh $(ARM64_DEBS)
	DEBIAN=$(DEBIAN) EDGE_TEST_CACHE=$(EDGE_TEST_CACHE) EDGE_PYTHON=$(abspath $(IMAGE_PYTHON)) bash image/check-arm64.sh

check-fresh:
	@bash image/lib/apt-need.sh debootstrap zstd util-linux git
	DEBIAN=$(DEBIAN) EDGE_TEST_CACHE=$(EDGE_TEST_CACHE) bash image/check-fresh.sh

image-clean-cache:
	rm -rf --one-file-system $(EDGE_TEST_CACHE)/debian-*.tar.zst $(EDGE_TEST_CACHE)/wheelhouse-* $(EDGE_TEST_CACHE)/fresh-*
