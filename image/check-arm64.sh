#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# make check-arm64: prove the package installs and runs on the Pi's architecture.
#
# 1. an emulated Debian Bookworm arm64 chroot (qemu-user-static + binfmt), built once
#    with debootstrap and cached as a tarball in $EDGE_TEST_CACHE;
# 2. our wheel (built from this tree) and an aarch64 wheelhouse of its dependencies
#    (downloaded on the host from PyPI), installed into a --system-site-packages venv
#    in the chroot, as install.sh does on a Pi;
# 3. the daemon started there with simulated hardware at 320x240, 15 fps, inside a
#    network namespace of its own (loopback and a veth pair inside it: nothing leaves);
# 4. a WHEP exchange from the host's Python (image/check_whep.py, aiortc) in that
#    namespace: 201 + an answer with H264, ICE connected, a decoded frame.
#
# Needs root, debootstrap, qemu-user-static, binfmt-support, zstd, iproute2.
# Environment: EDGE_TEST_CACHE (default /var/cache/edge-tests), EDGE_ARM64_TIMEOUT
# (seconds for the daemon to start, default 300), EDGE_ARM64_KEEP=1 keeps the work dir.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/chroot.sh
source "$HERE/lib/chroot.sh"
# shellcheck source=lib/wheels.sh
source "$HERE/lib/wheels.sh"

readonly ARCH=arm64 SUITE=bookworm PORT=8080
readonly BASE_PACKAGES=(python3 python3-venv python3-numpy)
START_TIMEOUT="${EDGE_ARM64_TIMEOUT:-300}"

((EUID == 0)) || edge_die "run as root (chroot, network namespaces)"
for tool in debootstrap zstd unshare ip; do
    command -v "$tool" >/dev/null || edge_die "$tool missing: apt-get install debootstrap zstd util-linux iproute2"
done
edge_ensure_binfmt "$ARCH"

t_start=$SECONDS
timing() { printf '%-28s %4d s\n' "$1" "$2" >&2; }

tarball="$(edge_chroot_tarball "$ARCH" "$SUITE" "${BASE_PACKAGES[@]}")"
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
wheelhouse="$(edge_cache_dir)/wheelhouse-$SUITE-aarch64"
edge_wheelhouse "$wheel" "$wheelhouse" aarch64
mkdir -p "$root/root/edge"
cp "$wheel" "$root/root/edge/"
cp -r "$wheelhouse" "$root/root/edge/wheelhouse"
t_prepare=$((SECONDS - t0))

edge_log "installing $(basename "$wheel") into an arm64 venv (emulated)"
t0=$SECONDS
edge_chroot_run "$root" python3 -m venv --system-site-packages /opt/edge/venv
t_venv=$((SECONDS - t0))
# --no-compile: byte-compiling every module under emulation costs more than
# compiling the imported ones at the daemon's first start.
edge_chroot_run "$root" /opt/edge/venv/bin/python -m pip install --disable-pip-version-check --no-input \
    --quiet --no-compile --no-index --find-links /root/edge/wheelhouse "/root/edge/$(basename "$wheel")"
edge_chroot_run "$root" /opt/edge/venv/bin/python -c '
import platform, sys
import aiortc, av, numpy, edge
machine = platform.machine()
print(f"{machine}, Python {sys.version.split()[0]}, aiortc {aiortc.__version__}, av {av.__version__}, numpy {numpy.__version__}")
print("h264_v4l2m2m (the Pi hardware encoder) in PyAV:", "h264_v4l2m2m" in av.codecs_available)
sys.exit(machine != "aarch64")
' >&2
t_install=$((SECONDS - t0))

readonly TOKEN=check-arm64-token-0123456789
cat >"$root/root/edge/edge.toml" <<EOF
[camera]
width = 320
height = 240
framerate = 15

[auth]
token = "$TOKEN"
EOF

edge_netns_create "$netns"

edge_log "starting the daemon (arm64, simulated camera 320x240@15)"
t0=$SECONDS
# setsid: the daemon and its wrappers get a process group of their own to stop.
# shellcheck disable=SC2016 # expanded by the inner bash
setsid ip netns exec "$netns" bash -c 'source "$1"; shift; edge_chroot_run "$@"' edge \
    "$HERE/lib/chroot.sh" "$root" \
    env STATE_DIRECTORY=/var/lib/edge PYTHONUNBUFFERED=1 \
    /opt/edge/venv/bin/edge run --config /root/edge/edge.toml --simulate \
    --host 127.0.0.1 --port "$PORT" >"$work/daemon.log" 2>&1 &
daemon_pid=$!

edge_wait_port "$netns" "$PORT" "$START_TIMEOUT" "$daemon_pid" || edge_die "the daemon did not start"
t_daemon=$((SECONDS - t0))

edge_log "WHEP exchange from the host"
t0=$SECONDS
ip netns exec "$netns" "$(edge_host_python)" "$HERE/check_whep.py" \
    --url "http://127.0.0.1:$PORT/whep" --token "$TOKEN" --media --timeout 120
t_whep=$((SECONDS - t0))

echo >&2
timing "chroot (cached: ~0)" "$t_chroot"
timing "unpack + wheel + wheelhouse" "$t_prepare"
timing "venv (emulated)" "$t_venv"
timing "venv + pip install (emulated)" "$t_install"
timing "daemon start (emulated)" "$t_daemon"
timing "WHEP + first frame" "$t_whep"
timing "total" "$((SECONDS - t_start))"
edge_log "check-arm64 passed"
