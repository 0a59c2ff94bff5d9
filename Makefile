# Two commands: `make run` starts the daemon (simulated hardware off a Pi),
# `make test` installs what the tests need and runs the whole suite.

VENV      ?= .venv
# Debian's own interpreter when there is one: the Python that Raspberry Pi OS runs the daemon with.
PYTHON3   ?= $(firstword $(wildcard /usr/bin/python3) python3)
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip --disable-pip-version-check -q
ARGS      ?=
PYTEST_ARGS ?=
# Janus 1.1.2 (server, plugins, transports) and janus.js for the WHIP rig: Debian 12's packages.
# Debian 13 has neither: Debian 12's are unpacked into the venv (whip-server below,
# image/lib/janus-root.sh, docs/whip.md) and run on these libraries of Debian 13's.
ifeq ($(shell . /etc/os-release 2>/dev/null && echo "$$VERSION_CODENAME"),bookworm)
JANUS_DEBS := janus libjs-janus-gateway
else
JANUS_DEBS := libnice10 libglib2.0-0t64 libjansson4 libssl3t64 zlib1g libusrsctp2 libsrtp2-1 libcurl4t64 \
              libogg0 libmicrohttpd12t64 libcap2
endif
# Debian packages the tests use; only missing ones are installed (image/lib/apt-need.sh).
#   browsers: chromium, and libatomic1 for Playwright's bundled node; firefox-esr (Marionette)
#   Firefox's OpenH264 plugin, built from testbed/firefox_openh264 (firefox-openh264 below): g++, libopenh264-dev
#   media clients: ffmpeg (ffprobe), alsa-utils (arecord)
#   GStreamer's webrtcbin as an independent WebRTC viewer, run by Debian's python3;
#   gst-rtsp-server for [rtsp], and rtspsrc as an RTSP client
#   image tests: shellcheck, systemd, debootstrap, zstd, util-linux, dpkg-dev
#   network namespaces: iproute2; a WireGuard tunnel into one (testbed/netns/vpn.py): wireguard-go (userspace,
#   for kernels without the module) and wireguard-tools (wg, wg-quick strip); viewers away from home
#   (tests/netns/test_remote_viewers.py): iptables (the NATs around the TURN server) and conntrack
#   (a NAT forgets its mappings)
#   an MQTT broker for the Home Assistant tests: mosquitto
#   the WHIP server the publisher's tests send to (testbed/whip_rig.py): Janus (JANUS_DEBS), and
#   nodejs for simple-whip-server (see whip-server below); its Chromium subscriber: janus.js
#   (JANUS_DEBS), libjs-webrtc-adapter
#   servers the tests start themselves, each with its own configuration on a loopback port or in
#   a network namespace (TEST_SERVER_DEBS): reverse proxies with TLS in front of the daemon, nginx
#   and caddy (testbed/proxy.py), and the TURN server coturn (testbed/coturn.py). Debian starts
#   their own services (a web server on port 80, a TURN server) when it installs them:
#   apt-need.sh --no-services stops and disables those of the packages it has just installed,
#   where systemd runs, so that make test leaves no server running.
TEST_SERVER_DEBS := nginx caddy coturn
TEST_DEBS := chromium libatomic1 firefox-esr g++ libopenh264-dev ffmpeg alsa-utils \
             python3-gi gir1.2-gst-plugins-bad-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
             gstreamer1.0-plugins-bad gstreamer1.0-nice gstreamer1.0-libav \
             shellcheck systemd debootstrap zstd util-linux dpkg-dev iproute2 wireguard-go wireguard-tools \
             iptables conntrack mosquitto $(JANUS_DEBS) libjs-webrtc-adapter nodejs $(TEST_SERVER_DEBS)

.PHONY: run run-deps venv-gi test test-fast lint venv test-deps system-deps whip-server axe-core typescript firefox-openh264 bench clean
.DEFAULT_GOAL := run

# On Raspberry Pi OS the venv sees the system's packages, as the installer's does (install.sh):
# picamera2, libcamera's bindings and lgpio come only from apt, and numpy (and av on Trixie) stay
# the system's, which those are built against. That is: on a Raspberry Pi, or wherever Debian's
# Python finds picamera2 (python3-picamera2). Elsewhere (plain Debian 12/13) it sees none of
# Debian's python3-* packages, whose av and numpy would stand in for the pinned ones.
SYSTEM_SITE := $(shell grep -qs '^Raspberry Pi' /proc/device-tree/model /sys/firmware/devicetree/base/model \
	|| $(PYTHON3) -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("picamera2") is None)' \
	2>/dev/null && echo true || echo false)
# The venv as this machine wants it; one made the other way (say, before picamera2 was
# installed) is made again, empty, rather than keep PyPI's numpy over the system's. A first
# one is made without --clear: what test-deps unpacked into $(VENV) before it (Janus,
# simple-whip-server) stays.
VENV_MADE := $(VENV)/.system-site-packages-$(SYSTEM_SITE)

$(VENV_MADE):
	@$(PYTHON3) -c 'import ensurepip, venv' 2>/dev/null || bash image/lib/apt-need.sh python3-venv
	@made="$$(sed -n 's/^include-system-site-packages *= *//p' $(VENV)/pyvenv.cfg 2>/dev/null)"; \
	if [ "$$made" != $(SYSTEM_SITE) ]; then \
		clear="$${made:+--clear }"; \
		echo "$(PYTHON3) -m venv $$clear$(if $(filter true,$(SYSTEM_SITE)),--system-site-packages )$(VENV)"; \
		$(PYTHON3) -m venv $$clear$(if $(filter true,$(SYSTEM_SITE)),--system-site-packages) $(VENV); \
	fi
	@touch $@

$(PY): $(VENV_MADE)

$(VENV)/.installed: pyproject.toml $(VENV_MADE)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	@touch $@

# What [rtsp] needs: GStreamer's RTSP server through Debian's PyGObject. As root `make run`
# installs it; as a user it names the packages (the daemon runs without them: RTSP is off by default).
RUN_DEBS := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
            gstreamer1.0-plugins-bad

run-deps:
	@bash image/lib/apt-need.sh $(RUN_DEBS) || echo "(only [rtsp] needs these; the daemon runs without them)"

# Debian's PyGObject has no wheel: a venv made from Debian's /usr/bin/python3 sees it through
# a link (one with the system's site packages, as on Raspberry Pi OS, sees it anyway).
DEBIAN_GI := /usr/lib/python3/dist-packages/gi

venv-gi: $(VENV)/.installed
	@site="$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"; \
	if [ $(SYSTEM_SITE) = false ] && [ -d $(DEBIAN_GI) ] && [ "$$(readlink -f $(PY))" = "$$(readlink -f /usr/bin/python3)" ] \
		&& [ ! -e "$$site/gi" ]; then ln -s $(DEBIAN_GI) "$$site/gi"; fi

# The picamera2 releases the Pi camera adapter's contract tests run (testbed/picamera2_env.py):
# the one Raspberry Pi OS Trixie ships and the oldest we support (docs/picamera2.md). Each goes
# into <venv>/picamera2-<version> without its dependencies, from its wheel: the test extra has
# those the tests run, and testbed/picamera2_stubs stands in for python-prctl and PiDNG (C sources only).
TRIXIE_PICAMERA2 := 0.3.37
OLDEST_PICAMERA2 := 0.3.32

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed | system-deps
	$(PIP) install -e '.[test]'
	for v in $(TRIXIE_PICAMERA2) $(OLDEST_PICAMERA2); do \
		$(PIP) install --no-deps --only-binary=:all: --upgrade --target $(VENV)/picamera2-$$v picamera2==$$v || exit 1; \
	done
	@touch $@

venv: $(VENV)/.installed

run: run-deps venv-gi
	$(VENV)/bin/edge run $(ARGS)

system-deps:
	@bash image/lib/apt-need.sh --no-services $(TEST_SERVER_DEBS)
	@bash image/lib/apt-need.sh $(TEST_DEBS)

# simple-whip-server and the node-* and libjs-* packages it needs, unpacked from Debian's .debs
# into the venv (the rig's default $EDGE_WHIP_SERVER_ROOT): apt cannot install it beside
# NodeSource's nodejs (docs/whip.md). Where Debian has no janus (13), Debian 12's Janus and
# janus.js are unpacked too (the rig's default $EDGE_JANUS_ROOT). Only a first run, or new
# package versions, need root.
WHIP_SERVER_ROOT := $(VENV)/simple-whip-server
JANUS_ROOT := $(VENV)/janus

whip-server: system-deps
	@bash image/lib/whip-server-root.sh $(WHIP_SERVER_ROOT)
	@bash image/lib/janus-root.sh $(JANUS_ROOT)

# axe-core's browser script, for the page's accessibility tests (testbed/axe.py): from the npm
# registry, pinned and checked, no npm needed. Does nothing once it is there.
axe-core: $(VENV)/.test-installed
	@$(PY) -m testbed.axe fetch >/dev/null

# TypeScript's tsc, which type-checks the page's JavaScript in `make lint` (testbed/typescript.py,
# tsconfig.json): fetched the same way, run by Debian's nodejs.
typescript: $(VENV)/.test-installed
	@$(PY) -m testbed.typescript fetch >/dev/null

# Firefox's OpenH264 plugin (its only H.264), built once into the venv from the sources in
# testbed/firefox_openh264 and Debian's static libopenh264: testbed/firefox.py finds it there.
FIREFOX_OPENH264 := $(VENV)/.firefox-openh264

firefox-openh264: $(FIREFOX_OPENH264)

$(FIREFOX_OPENH264): $(wildcard testbed/firefox_openh264/build.sh testbed/firefox_openh264/*/*.h \
		testbed/firefox_openh264/*/*.info testbed/firefox_openh264/*/module/*) \
		$(wildcard /usr/lib/*/libopenh264.a) | system-deps $(PY)
	sh testbed/firefox_openh264/build.sh $(VENV)
	@touch $@

test-deps: system-deps whip-server $(VENV)/.test-installed venv-gi axe-core firefox-openh264

test: test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything that needs neither root nor a browser nor a network namespace, as any user, in six
# workers, each handed a run of tests in file order (worksteal: a module's shared daemon starts about
# once): about 50 s on 2 quiet cores, 90 s of CPU (60 s in four workers, 56 s in eight).
test-fast: $(VENV)/.test-installed venv-gi
	$(PY) -m pytest -m "not browser and not root and not slow" -n 6 --dist worksteal -q $(PYTEST_ARGS)

# ruff (lint, import order, format) and mypy, as CI runs them before the tests; tsc on the page's JavaScript.
lint: $(VENV)/.test-installed typescript
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m testbed.typescript check

# Every bench in bench/ in turn: each prints its figures; those docs/benchmarks.md charts also redraw
# docs/bench/*.png. bench.janus compares with Janus, installed (Debian 12) or unpacked (Debian 13)
# as for the WHIP tests; without it the other benches still run.
bench: $(VENV)/.test-installed
	@bash image/lib/apt-need.sh $(JANUS_DEBS) && bash image/lib/janus-root.sh $(JANUS_ROOT) \
		|| echo "(bench.janus needs Janus; the other benches run without it)"
	$(PY) -m bench

# image/constraints.txt, what install.sh installs the daemon's dependencies from: the version of
# each and the sha256 of every file of that version, resolved from pyproject.toml by uv for all
# Pythons from 3.11 (Bookworm's) and all platforms at once, one version per package. numpy, and
# av from Python 3.13 (Trixie) on, are left to Raspberry Pi OS (image/constraints-debian.txt).
# Run it after changing a dependency (a test checks the file against pyproject.toml). Needs PyPI.
.PHONY: constraints
constraints: $(VENV)/.installed
	$(PIP) install 'uv>=0.13,<0.14'
	$(VENV)/bin/uv pip compile pyproject.toml --universal --fork-strategy fewest --generate-hashes \
		--override image/constraints-debian.txt --no-emit-package numpy \
		--no-config --default-index https://pypi.org/simple --custom-compile-command "make constraints" \
		--quiet -o image/constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info

-include image/image.mk
