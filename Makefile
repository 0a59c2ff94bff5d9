# Two commands: `make run` starts the daemon (simulated hardware off a Pi),
# `make test` installs what the tests need and runs the whole suite.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip --disable-pip-version-check -q
ARGS      ?=
PYTEST_ARGS ?=
# Debian packages the tests use, as "command:package" pairs; only missing ones are installed.
TEST_TOOLS := chromium:chromium ffprobe:ffmpeg arecord:alsa-utils shellcheck:shellcheck \
              systemd-analyze:systemd debootstrap:debootstrap ip:iproute2 dpkg-deb:dpkg \
              dpkg-scanpackages:dpkg-dev zstd:zstd unshare:util-linux

.PHONY: run test venv test-deps system-deps bench clean
.DEFAULT_GOAL := run

$(PY):
	@python3 -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory apt PACKAGES=python3-venv
	python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/edge run $(ARGS)

system-deps:
	@missing=""; for pair in $(TEST_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory apt PACKAGES="$$missing"; fi

# Installs Debian packages when running as root (CI, a fresh machine); otherwise says what to install.
apt:
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:$(PACKAGES)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PACKAGES) >/dev/null; \
	else \
	  echo "please install these Debian packages first: sudo apt-get install$(PACKAGES)"; exit 1; \
	fi

test-deps: system-deps $(VENV)/.test-installed

test: test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info

-include image/image.mk
