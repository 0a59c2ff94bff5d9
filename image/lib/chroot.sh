# shellcheck shell=bash
# Helpers shared by the image tests and `make check-arm64`: build (once) and cache a
# Debian chroot as a tarball, unpack it, and run commands inside it.
#
# Source this file; it defines functions only. Needs root, debootstrap, zstd and
# util-linux (unshare); qemu-user-static + binfmt for a foreign architecture.
#
# Environment:
#   EDGE_TEST_CACHE     cache directory (default /var/cache/edge-tests)
#   EDGE_DEBIAN_MIRROR  Debian archive to debootstrap from (default: the one apt on
#                       this machine is configured with, else http://deb.debian.org/debian)

edge_log() {
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

edge_die() {
    edge_log "error: $*"
    exit 1
}

edge_cache_dir() {
    local dir="${EDGE_TEST_CACHE:-/var/cache/edge-tests}"
    mkdir -p "$dir"
    printf '%s\n' "$dir"
}

# The Debian archive apt on this machine already uses (deb822 .sources or one-line
# .list entries), so tests reach the same mirror the host does. Security and
# third-party archives are skipped.
edge_debian_mirror() {
    if [[ -n "${EDGE_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "$EDGE_DEBIAN_MIRROR"
        return
    fi
    local f uri
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        while read -r uri; do
            case "$uri" in
                *security*) continue ;;
                http://*/debian | https://*/debian | http://*/debian/ | https://*/debian/)
                    printf '%s\n' "${uri%/}"
                    return
                    ;;
            esac
        done < <(sed -n -e 's/^URIs:[[:space:]]*//p' \
            -e 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' "$f" |
            tr ' ' '\n')
    done
    printf '%s\n' "http://deb.debian.org/debian"
}

# Make sure binfmt_misc can run ARCH binaries (no-op for the host architecture).
edge_ensure_binfmt() {
    local arch="$1"
    [[ "$arch" == "$(dpkg --print-architecture)" ]] && return 0
    local qarch
    case "$arch" in
        arm64) qarch=aarch64 ;;
        armhf) qarch=arm ;;
        *) qarch="$arch" ;;
    esac
    command -v "qemu-$qarch-static" >/dev/null || edge_die "qemu-$qarch-static missing: apt-get install qemu-user-static binfmt-support"
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        # Another check starting at the same time may mount it first.
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
            [[ -e /proc/sys/fs/binfmt_misc/register ]] || edge_die "cannot mount binfmt_misc"
    fi
    if [[ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qarch" ]]; then
        update-binfmts --enable "qemu-$qarch" >/dev/null 2>&1 || true
    fi
    [[ -e "/proc/sys/fs/binfmt_misc/qemu-$qarch" ]] ||
        edge_die "binfmt for qemu-$qarch is not registered (update-binfmts --enable qemu-$qarch)"
}

# edge_chroot_tarball ARCH SUITE [PACKAGE...]
# Prints the path of a cached tarball of a minbase Debian SUITE for ARCH with the
# given extra packages, building it with debootstrap if it is not cached yet.
edge_chroot_tarball() {
    local arch="$1" suite="$2"
    shift 2
    local include
    include="$(printf '%s\n' "$@" | sort -u | paste -sd, -)"
    local cache key tarball
    cache="$(edge_cache_dir)"
    key="$(printf 'v1 %s %s %s\n' "$arch" "$suite" "$include" | sha256sum | cut -c1-12)"
    tarball="$cache/debian-$suite-$arch-$key.tar.zst"
    (
        # One builder at a time per tarball.
        exec 9>"$tarball.lock"
        flock 9
        if [[ -s "$tarball" ]]; then
            exit 0
        fi
        edge_ensure_binfmt "$arch"
        command -v debootstrap >/dev/null || edge_die "debootstrap missing: apt-get install debootstrap"
        local dir mirror start
        dir="$(mktemp -d "$cache/build-$suite-$arch.XXXXXX")"
        mirror="$(edge_debian_mirror)"
        start=$SECONDS
        edge_log "debootstrap $suite/$arch from $mirror (include: ${include:-none}); first run only"
        if ! debootstrap --arch="$arch" --variant=minbase ${include:+--include="$include"} \
            "$suite" "$dir" "$mirror" >"$dir.log" 2>&1; then
            tail -n 30 "$dir.log" >&2
            rm -rf --one-file-system "$dir"
            edge_die "debootstrap failed (log: $dir.log)"
        fi
        chmod 0755 "$dir" # mktemp made it 0700: it becomes the chroot's /
        chroot "$dir" apt-get clean
        find "$dir/var/lib/apt/lists" -type f -delete
        tar -C "$dir" --numeric-owner -cf - . | zstd -q -T0 -3 -o "$tarball.tmp"
        mv "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$dir" "$dir.log"
        edge_log "cached $tarball after $((SECONDS - start)) s"
    ) || return 1
    printf '%s\n' "$tarball"
}

# edge_chroot_extract TARBALL DIR
edge_chroot_extract() {
    mkdir -p "$2"
    tar -C "$2" --numeric-owner -I zstd -xf "$1"
    chmod 0755 "$2"
}

# edge_chroot_run DIR COMMAND [ARG...]
# Runs COMMAND chrooted into DIR inside a private mount namespace with /proc, a
# minimal /dev and /dev/shm mounted. The mounts vanish with the namespace, so
# nothing is left mounted on the host even if the command is killed.
edge_chroot_run() {
    local dir="$1"
    shift
    # shellcheck disable=SC2016 # the inner script expands its own positional parameters
    unshare --mount --propagation private -- /bin/sh -c '
        set -e
        root="$1"; shift
        mount -t proc proc "$root/proc"
        mount -t tmpfs -o mode=0755,nosuid devtmp "$root/dev"
        for n in null zero full random urandom tty; do
            touch "$root/dev/$n"
            mount --bind "/dev/$n" "$root/dev/$n"
        done
        mkdir -p "$root/dev/shm" "$root/dev/pts"
        mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
        ln -s /proc/self/fd "$root/dev/fd"
        ln -s /proc/self/fd/0 "$root/dev/stdin"
        ln -s /proc/self/fd/1 "$root/dev/stdout"
        ln -s /proc/self/fd/2 "$root/dev/stderr"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 "$@"
    ' edge-chroot "$dir" "$@"
}

# edge_keep_or_remove DIR KEEP: at the end of a check, say where DIR is when KEEP is 1,
# else remove it.
edge_keep_or_remove() {
    if [[ "$2" == 1 ]]; then
        edge_log "kept $1"
    else
        edge_rm_chroot "$1"
    fi
}

# edge_rm_chroot DIR: remove an unpacked chroot (never crossing into other file systems).
edge_rm_chroot() {
    [[ -n "$1" && "$1" != / && -d "$1" ]] || return 0
    rm -rf --one-file-system "$1"
}

# edge_netns_create NAME: a network namespace with loopback and a veth pair whose
# both ends stay inside it (10.213.0.1/24 on edge0). WebRTC gets a host candidate
# (aioice skips loopback) and no packet can leave this machine.
edge_netns_create() {
    local ns="$1"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add edge0 type veth peer name edge1
    ip -n "$ns" addr add 10.213.0.1/24 dev edge0
    ip -n "$ns" link set edge0 up
    ip -n "$ns" link set edge1 up
}

# edge_wait_port NS PORT SECONDS [PID]: wait until something listens on
# 127.0.0.1:PORT in namespace NS; fails early if PID exits.
edge_wait_port() {
    local ns="$1" port="$2" limit="$3" pid="${4:-}" start=$SECONDS
    while ((SECONDS - start < limit)); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            edge_log "the process listening on $port exited"
            return 1
        fi
        if ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    edge_log "nothing listens on port $port after $limit s"
    return 1
}

# edge_kill_group PGID: SIGTERM a process group, SIGKILL what is left after 10 s.
edge_kill_group() {
    local pgid="$1"
    [[ "$pgid" =~ ^[0-9]+$ ]] && ((pgid > 1)) || return 0 # never "-0": our own group
    kill -TERM -- "-$pgid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 -- "-$pgid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
}
