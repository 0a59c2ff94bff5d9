#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# make check-fresh [DEBIAN=bookworm|trixie]: the README's two commands on a bare Debian 12
# or 13, as a new user runs them.
#
# 1. a minimal Debian root of that release for this machine's architecture (debootstrap
#    --variant=minbase plus make, git, python3, ca-certificates, curl: a fresh cloud or
#    container image), built once and cached as a tarball in $EDGE_TEST_CACHE;
# 2. a clean clone of this repository's HEAD in it;
# 3. inside it, as a machine of its own would: `make run` until /healthz answers, then
#    `make test` with $EDGE_FRESH_TESTS (default: one test of each kind of tool: the
#    browser, GStreamer, network namespaces, ALSA, recording with ffprobe/PyAV, the
#    image checks, the WHIP rig: Janus and simple-whip-server on Debian's node, axe-core
#    on the page, Firefox with the OpenH264 plugin make builds, picamera2's contract tests on
#    the release's Python). `make test` installs every Debian and PyPI package the whole
#    suite needs whatever tests it is given, so every install step is proven.
# 4. pip may not compile anything (the root's /etc/pip.conf: only-binary = :all:; our own
#    package is built all the same, and the pure-Python dependencies published as source only,
#    EDGE_SOURCE_ONLY in lib/wheels.sh, are built from their source: no-binary, read after
#    only-binary, which an environment's order would not ensure): a dependency without a
#    wheel for the release's Python fails the check, named.
#
# The root runs in a private mount namespace with itself bind-mounted onto itself
# (so `ip netns exec` can make "/" a slave mount) and /proc, /sys, /dev mounted; it
# shares the host's network to reach the package registries. Downloaded .deb files
# and pip's cache are kept in $EDGE_TEST_CACHE between runs (installs still run).
#
# Needs root, debootstrap, zstd, util-linux, git. Environment: DEBIAN (release, default
# bookworm), EDGE_TEST_CACHE, EDGE_FRESH_TESTS (pytest arguments), EDGE_FRESH_KEEP=1 keeps
# the work dir.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source=lib/chroot.sh
source "$HERE/lib/chroot.sh"
# shellcheck source=lib/wheels.sh
source "$HERE/lib/wheels.sh" # edge_release_python

readonly RELEASE="${DEBIAN:-bookworm}" PORT=18080
readonly BARE_PACKAGES=(make git python3 ca-certificates curl)
TESTS="${EDGE_FRESH_TESTS:-tests/test_browser_live.py::test_live_video_and_audio_in_chromium \
tests/test_webrtcbin_viewer.py tests/netns/test_network_watch.py tests/test_microphone_daemon.py \
tests/recording/test_daemon_clips.py::test_a_simulated_press_makes_a_clip_with_pre_and_post_roll_that_plays \
tests/image/test_static_checks.py \
tests/publish/test_publish_janus.py::test_a_janus_viewer_sees_the_camera_with_sound \
tests/recording/test_review_page.py::test_light_scheme_and_shortcut_list_pass_axe \
tests/test_firefox.py::test_firefox_plays_the_camera_with_sound \
tests/pi/test_picamera2_contract.py}"

((EUID == 0)) || edge_die "run as root (chroot, mounts, network namespaces)"
for tool in debootstrap zstd unshare git; do
    command -v "$tool" >/dev/null || edge_die "$tool missing: apt-get install debootstrap zstd util-linux git"
done

t_start=$SECONDS
timing() { printf '%-34s %4d s\n' "$1" "$2" >&2; }

edge_release_python "$RELEASE" >/dev/null # bookworm or trixie, else it stops naming them
tarball="$(edge_chroot_tarball "$(dpkg --print-architecture)" "$RELEASE" "${BARE_PACKAGES[@]}")"
t_root=$((SECONDS - t_start))

work="$(mktemp -d /var/tmp/edge-fresh.XXXXXX)"
cleanup() {
    local rc=$?
    edge_keep_or_remove "$work" "${EDGE_FRESH_KEEP:-0}"
    exit "$rc"
}
trap cleanup EXIT

root="$work/root"
edge_chroot_extract "$tarball" "$root"
# What a fresh Debian machine is given by where it runs: the archive (with security
# updates) and how apt reaches it, a resolver, the site's certificate authorities and
# the variables that point tools at them. Nothing else of the host's. The host's apt
# sources name its own release: the root's name the root's.
rm -f "$root/etc/apt/sources.list"
for list in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$list" ]] && cp -a "$list" "$root/etc/apt/sources.list.d/"
done
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
host_release="$(. /etc/os-release && printf '%s' "$VERSION_CODENAME")"
if [[ "$host_release" != "$RELEASE" ]]; then
    find "$root/etc/apt" -maxdepth 2 -type f \( -path '*/sources.list' -o -path '*/sources.list.d/*.list' \
        -o -path '*/sources.list.d/*.sources' \) -exec sed -i "s/\\b$host_release\\b/$RELEASE/g" {} +
fi
for conf in /etc/apt/apt.conf.d/99*; do
    [[ -f "$conf" ]] && cp "$conf" "$root/etc/apt/apt.conf.d/"
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    edge_chroot_run "$root" update-ca-certificates >/dev/null
fi
printf '[global]\nonly-binary = :all:\nno-binary = %s\n' "${EDGE_SOURCE_ONLY// /,}" >"$root/etc/pip.conf"
site_env=()
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY SSL_CERT_FILE SSL_CERT_DIR \
    REQUESTS_CA_BUNDLE PIP_CERT NODE_EXTRA_CA_CERTS; do
    [[ -n "${!name:-}" ]] && site_env+=("$name=${!name}")
done
git clone -q --no-hardlinks "$REPO" "$root/root/edge-camera"
cache="$(edge_cache_dir)/fresh-$RELEASE"
mkdir -p "$cache/apt-archives/partial" "$cache/pip"

# edge_machine SCRIPT: run a bash script as root in the bare root, as on its own machine.
edge_machine() {
    # shellcheck disable=SC2016 # the inner script expands its own positional parameters
    unshare --mount --propagation private -- /bin/bash -c '
        set -e
        root="$1" cache="$2" script="$3"
        shift 3
        mount --rbind "$root" "$root"
        mount --make-rprivate "$root"
        mount -t proc proc "$root/proc"
        mount -t sysfs sysfs "$root/sys"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
        mount -t tmpfs -o mode=0755,nosuid,nodev run "$root/run"
        mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$root/tmp"
        mkdir -p "$root/root/.cache/pip"
        mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
        mount --bind "$cache/pip" "$root/root/.cache/pip"
        cd "$root"
        exec chroot . /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 TERM=dumb CI=true "$@" \
            /bin/bash -euo pipefail -c "$script"
    ' edge-fresh "$root" "$cache" "$1" "${site_env[@]}"
}

# pip_refused LOG: after a failed step, name what pip would have had to compile.
pip_refused() {
    local packages
    packages="$(sed -n 's/.*No matching distribution found for \([^ ;]*\).*/\1/p' "$1" | sort -u | paste -sd' ')"
    if [[ -n "$packages" ]]; then
        edge_log "error: no binary wheel of $packages for Debian $RELEASE's Python: pip would compile it"
    fi
}

# Keep downloaded packages (Debian's images delete them after each install).
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/10keep-debs"

edge_log "make run on a bare Debian $RELEASE (installs python3-venv and the daemon's PyPI packages)"
t0=$SECONDS
edge_machine "
cd /root/edge-camera
setsid make run ARGS='--host 127.0.0.1 --port $PORT' >/tmp/run.log 2>&1 &
pid=\$!
for _ in \$(seq 1 600); do
    if curl -fs http://127.0.0.1:$PORT/healthz; then echo; kill -TERM -- -\$pid; wait \$pid || true; exit 0; fi
    kill -0 \$pid 2>/dev/null || break
    sleep 1
done
cat /tmp/run.log
echo 'make run did not answer /healthz' >&2
kill -TERM -- -\$pid 2>/dev/null || true
exit 1
" >"$work/run.log" 2>&1 || {
    tail -n 40 "$work/run.log" >&2
    pip_refused "$work/run.log"
    exit 1
}
t_run=$((SECONDS - t0))

edge_log "make test there ($TESTS)"
t0=$SECONDS
edge_machine "cd /root/edge-camera && make test PYTEST_ARGS='-q -p no:cacheprovider $TESTS'" 2>&1 |
    tee "$work/test.log" || {
    pip_refused "$work/test.log"
    exit 1
}
t_test=$((SECONDS - t0))

echo >&2
timing "bare root (cached: ~0)" "$t_root"
timing "make run until /healthz answers" "$t_run"
timing "make test (installs + tests)" "$t_test"
timing "total" "$((SECONDS - t_start))"
edge_log "check-fresh passed on Debian $RELEASE ($(edge_chroot_run "$root" python3 --version))"
