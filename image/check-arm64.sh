#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# make check-arm64 [DEBIAN=bookworm|trixie]: install.sh on the Pi's architecture and OS
# release, and the installed service streaming.
#
# 1. an emulated Debian arm64 chroot of that release (qemu-user-static + binfmt) with what
#    install.sh takes from Debian (python3-av, python3-gpiozero, systemd, ...), built once
#    with debootstrap and cached as a tarball in $EDGE_TEST_CACHE;
# 2. our wheel (built from this tree) and an aarch64 wheelhouse of its dependencies for the
#    release's Python (3.11 on Bookworm, 3.13 on Trixie), binary wheels only (downloaded on
#    the host from PyPI; a dependency that would be compiled on a Pi fails here);
# 3. image/install.sh --wheel --wheelhouse run in the chroot as on a Pi, with the packages
#    only Raspberry Pi's archive has as empty stand-ins (testbed/pi_stubs.py) from a local
#    apt repository: the venv --system-site-packages, the user, the config, the unit;
# 4. the venv `make run` starts from (make .venv/bin/python) from a copy of this tree in the same
#    root, with a Raspberry Pi 4's model in its device tree and the release's `make` (a .deb from
#    Debian, kept in $EDGE_TEST_CACHE): it imports picamera2 and lgpio (the stand-ins) from the
#    system (doctor's findings in such a venv: tests/image/test_make_venv.py; pip is left out
#    here, where it runs minutes under emulation);
# 5. edge doctor as the service user, its output shown here;
# 6. the service's command (user edge, STATE_DIRECTORY) with simulated hardware at 320x240,
#    15 fps, inside a network namespace of its own (nothing leaves it);
# 7. a WHEP exchange from the host's Python (image/check_whep.py, aiortc) in that namespace:
#    201 + an answer with H264, ICE connected, 10 decoded frames whose frame codes count up
#    with capture times from this clock.
#
# Needs root, debootstrap, qemu-user-static, binfmt-support, zstd, iproute2, dpkg-dev.
# Environment: DEBIAN (release, default bookworm), EDGE_TEST_CACHE (default
# /var/cache/edge-tests), EDGE_ARM64_TIMEOUT (seconds for the daemon to start, default 300),
# EDGE_ARM64_KEEP=1 keeps the work dir.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source=lib/chroot.sh
source "$HERE/lib/chroot.sh"
# shellcheck source=lib/wheels.sh
source "$HERE/lib/wheels.sh"
# shellcheck source=lib/debs.sh
source "$HERE/lib/debs.sh"

readonly ARCH=arm64 PORT=8080 CONF=/etc/edge/edge.toml TOKEN=check-arm64-token-0123456789
RELEASE="${DEBIAN:-bookworm}"
PYTHON="$(edge_release_python "$RELEASE")"
START_TIMEOUT="${EDGE_ARM64_TIMEOUT:-300}"

((EUID == 0)) || edge_die "run as root (chroot, network namespaces)"
for tool in debootstrap zstd unshare ip dpkg-deb dpkg-scanpackages; do
    command -v "$tool" >/dev/null || edge_die "$tool missing: apt-get install debootstrap zstd util-linux iproute2 dpkg-dev"
done
edge_ensure_binfmt "$ARCH"

host_python="$(edge_host_python)"
# install.sh's apt packages that Debian has are in the cached chroot, with systemd for its
# `systemctl enable`; the Pi-only ones come from the stand-ins' repository.
mapfile -t pi_only < <(cd "$REPO" && "$host_python" -c 'from testbed.pi_stubs import PI_ONLY; print(*PI_ONLY, sep="\n")')
mapfile -t base_packages < <(bash "$HERE/install.sh" --print-apt-packages | grep -vxF -f <(printf '%s\n' "${pi_only[@]}"))
base_packages+=(systemd)

t_start=$SECONDS
timing() { printf '%-34s %4d s\n' "$1" "$2" >&2; }

tarball="$(edge_chroot_tarball "$ARCH" "$RELEASE" "${base_packages[@]}")"
t_chroot=$((SECONDS - t_start))

work="$(mktemp -d /var/tmp/edge-arm64.XXXXXX)"
netns="edge-arm64-$$"
daemon_pid=""
cleanup() {
    local rc=$?
    if [[ -n "$daemon_pid" ]]; then
        edge_kill_group "$daemon_pid"
    fi
    ip netns del "$netns" 2>/dev/null || true
    if ((rc != 0)) && [[ -f "$work/daemon.log" ]]; then
        edge_log "daemon log (last 40 lines):"
        tail -n 40 "$work/daemon.log" >&2
    fi
    edge_keep_or_remove "$work" "${EDGE_ARM64_KEEP:-0}"
    exit "$rc"
}
trap cleanup EXIT

root="$work/root"
t0=$SECONDS
edge_chroot_extract "$tarball" "$root"
wheel="$(edge_build_wheel "$work/dist")"
wheelhouse="$(edge_cache_dir)/wheelhouse-$RELEASE-aarch64"
edge_wheelhouse "$wheelhouse" aarch64 "$RELEASE"
mkdir -p "$root/root/edge/dist" "$root/etc/edge"
cp "$wheel" "$root/root/edge/dist/"
cp -r "$wheelhouse" "$root/root/edge/wheelhouse"
tar -C "$REPO" --exclude=__pycache__ -cf - image README.md CONTRIBUTING.md docs | tar -C "$root/root/edge" -xf -
(cd "$REPO" && "$host_python" -m testbed.pi_stubs "$root/var/local/edge-stubs")
rm -f "$root/etc/apt/sources.list.d/"*
echo "deb [trusted=yes] file:/var/local/edge-stubs ./" >"$root/etc/apt/sources.list"
echo "edge-arm64" >"$root/etc/hostname"
# Kept by install.sh (it writes the template only where there is no configuration).
printf '[camera]\nwidth = 320\nheight = 240\nframerate = 15\n\n[auth]\ntoken = "%s"\n' "$TOKEN" >"$root$CONF"
t_prepare=$((SECONDS - t0))

edge_log "install.sh --wheel $(basename "$wheel") on Debian $RELEASE arm64 (emulated)"
t0=$SECONDS
edge_chroot_run "$root" bash /root/edge/image/install.sh --wheel /root/edge/dist --wheelhouse /root/edge/wheelhouse >&2
grep -qx 'include-system-site-packages = true' "$root/opt/edge/venv/pyvenv.cfg" ||
    edge_die "the service's venv does not see the system's packages (picamera2 comes from there)"
# What the service runs on, and which packages came from Debian (/usr/lib/python3) or PyPI (venv).
# shellcheck disable=SC2016 # the script is Python's
edge_chroot_run "$root" /opt/edge/venv/bin/python -c '
import importlib, importlib.metadata, platform, sys
print(platform.machine(), "Python", sys.version.split()[0])
for name in ("edge-camera", "aiortc", "av", "gpiozero", "numpy", "cryptography", "pyroute2"):
    module = importlib.import_module(name.replace("edge-camera", "edge"))
    print(f"  {name} {importlib.metadata.version(name)}: {module.__file__}")
import av
print("  h264_v4l2m2m (the Pi hardware encoder) in PyAV:", "h264_v4l2m2m" in av.codecs_available)
sys.exit(platform.machine() != "aarch64" or "%d.%d" % sys.version_info[:2] != sys.argv[1])
' "$PYTHON" >&2
t_install=$((SECONDS - t0))

edge_log "make run's venv on \"Raspberry Pi OS\": the stand-ins of picamera2 and lgpio come from the system"
t0=$SECONDS
make_deb="$(edge_release_deb "$RELEASE" "$ARCH" make)" || edge_die "could not download Debian $RELEASE's make ($ARCH)"
cp "$make_deb" "$root/var/local/"
edge_chroot_run "$root" dpkg -i "/var/local/$(basename "$make_deb")" >/dev/null
mkdir -p "$root/root/edge-src" "$root/sys/firmware/devicetree/base"
tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude='*/__pycache__' \
    -cf - . | tar -C "$root/root/edge-src" -xf -
printf 'Raspberry Pi 4 Model B Rev 1.4\0' >"$root/sys/firmware/devicetree/base/model"
edge_chroot_run "$root" make -C /root/edge-src --no-print-directory .venv/bin/python >&2
# shellcheck disable=SC2016 # the script is Python's
edge_chroot_run "$root" /root/edge-src/.venv/bin/python -c '
import importlib, sys
system = "/usr/lib/python3/dist-packages/"
found = {name: importlib.import_module(name).__file__ for name in ("picamera2", "lgpio", "av", "numpy")}
for name, where in found.items():
    print(f"  {name}: {where}")
sys.exit(not all(found[name].startswith(system) for name in ("picamera2", "lgpio")))
' >&2 || edge_die "make run's venv on Raspberry Pi OS does not see the system's picamera2 and lgpio"
rm -r "$root/sys/firmware" "$root/root/edge-src"
t_make_venv=$((SECONDS - t0))

as_service=(setpriv --reuid=edge --regid=edge --init-groups env STATE_DIRECTORY=/var/lib/edge PYTHONUNBUFFERED=1)
edge_log "edge doctor, as the service user:"
t0=$SECONDS
edge_chroot_run "$root" "${as_service[@]}" /opt/edge/venv/bin/edge doctor --config "$CONF" >&2 ||
    edge_log "edge doctor found something that blocks streaming (above)"
t_doctor=$((SECONDS - t0))

edge_netns_create "$netns"

edge_log "starting the installed daemon as its unit does (simulated camera 320x240@15)"
t0=$SECONDS
# setsid: the daemon and its wrappers get a process group of their own to stop.
# shellcheck disable=SC2016 # expanded by the inner bash
setsid ip netns exec "$netns" bash -c 'source "$1"; shift; edge_chroot_run "$@"' edge \
    "$HERE/lib/chroot.sh" "$root" "${as_service[@]}" \
    /opt/edge/venv/bin/edge run --config "$CONF" --simulate \
    --host 127.0.0.1 --port "$PORT" >"$work/daemon.log" 2>&1 &
daemon_pid=$!

edge_wait_port "$netns" "$PORT" "$START_TIMEOUT" "$daemon_pid" || edge_die "the daemon did not start"
t_daemon=$((SECONDS - t0))

edge_log "WHEP exchange from the host: 10 frames and their frame codes"
t0=$SECONDS
ip netns exec "$netns" env PYTHONPATH="$REPO" "$host_python" "$HERE/check_whep.py" \
    --url "http://127.0.0.1:$PORT/whep" --token "$TOKEN" --frames 10 --timeout 120
t_whep=$((SECONDS - t0))

echo >&2
timing "chroot (cached: ~0)" "$t_chroot"
timing "unpack + wheel + wheelhouse" "$t_prepare"
timing "install.sh (emulated)" "$t_install"
timing "make run's venv on a Pi (emulated)" "$t_make_venv"
timing "edge doctor (emulated)" "$t_doctor"
timing "daemon start (emulated)" "$t_daemon"
timing "WHEP + 10 frames" "$t_whep"
timing "total" "$((SECONDS - t_start))"
edge_log "check-arm64 passed on Debian $RELEASE arm64, Python $PYTHON"
