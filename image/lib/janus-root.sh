#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# janus-root.sh DEST: Janus for the WHIP test rig where Debian has no `janus` package (Debian
# 13): Debian 12's janus 1.1.2 (server, plugins, transports) and libjs-janus-gateway (janus.js),
# with the two libraries of Debian 12's that it links and Debian 13 lacks (libconfig9,
# libwebsockets17), unpacked (dpkg -x, not installed) into DEST. testbed/janus.py runs DEST's
# janus with LD_LIBRARY_PATH=DEST/usr/lib/<triplet>; its other libraries are the release's own
# (the Makefile's TEST_DEBS installs them). ldd must find every library of janus and of the
# plugins and transports the tests and benches load, else this fails naming the missing ones.
#
# Does nothing where Debian's janus is installed (Debian 12: TEST_DEBS), and only the ldd check
# when DEST is complete. The .debs come from Debian 12 through an apt configuration of its own
# (sources, lists and downloads in $EDGE_TEST_CACHE/apt-bookworm, default
# /var/cache/edge-tests): the machine's apt sources are not changed, only their Debian mirror is
# reused. Only when a .deb is missing there does it need root, to download it. Used by the
# Makefile (test-deps); docs/whip.md says why.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=chroot.sh
source "$here/chroot.sh" # edge_cache_dir, edge_debian_mirror
# shellcheck source=debs.sh
source "$here/debs.sh"

dest="${1:?usage: janus-root.sh DEST}"
packages=(janus libjs-janus-gateway libconfig9 libwebsockets17)
# What testbed/whip_rig.py (VideoRoom, WebSockets) and bench/janus.py (streaming, HTTP) load.
modules=(plugins/libjanus_videoroom.so plugins/libjanus_streaming.so
    transports/libjanus_websockets.so transports/libjanus_http.so)

[[ "$(dpkg-query -W -f='${db:Status-Status}' janus 2>/dev/null)" == installed ]] && exit 0

# check ROOT: janus.js is there, and janus and the modules find all their libraries.
check() {
    local root="$1" libs file missing
    libs="$(find "$root/usr/lib" -mindepth 3 -maxdepth 3 -path '*/janus/plugins' -type d -printf '%h\n' -quit)"
    [[ -n "$libs" ]] || {
        echo "no janus plugins directory in $root/usr/lib" >&2
        return 1
    }
    for file in "$root/usr/bin/janus" "${modules[@]/#/$libs/}" "$root/usr/share/javascript/janus-gateway/janus.js"; do
        [[ -f "$file" ]] || {
            echo "$file is missing" >&2
            return 1
        }
    done
    missing="$(LD_LIBRARY_PATH="${libs%/janus}" ldd "$root/usr/bin/janus" "${modules[@]/#/$libs/}" |
        awk '/not found/ { print $1 }' | sort -u | paste -sd' ')"
    if [[ -n "$missing" ]]; then
        echo "Debian 12's janus in $root cannot find these libraries: $missing" >&2
        echo "(install the packages of this release that have them: the Makefile's TEST_DEBS)" >&2
        return 1
    fi
}

if [[ -f "$dest/.complete" ]]; then
    check "$dest"
    exit
fi

state="$(edge_cache_dir)/apt-bookworm"
debs="$state/debs"
mapfile -t apt_opts < <(edge_apt_options "$state")

# "PACKAGE FILE" for each of $packages at Debian 12's version; FILE as apt-get download names it.
candidates() {
    [[ -f "$state/sources.list" ]] || return 1
    { apt-cache "${apt_opts[@]}" show --no-all-versions "${packages[@]}" 2>/dev/null || true; } | edge_deb_files
}

list="$(candidates)" || list=""
if [[ "$(wc -l <<<"$list")" != "${#packages[@]}" ]] || [[ -n "$(edge_debs_missing "$debs" "$list")" ]]; then
    if ((EUID != 0)); then
        echo "Debian 12's janus packages are not in $debs: run as root (make test-deps) to download them" >&2
        exit 1
    fi
    echo "downloading Debian 12's ${packages[*]} into $debs" >&2
    mkdir -p "$state/none" "$state/lists/partial" "$state/cache/archives/partial" "$debs"
    echo "deb $(edge_debian_mirror) bookworm main" >"$state/sources.list"
    apt-get "${apt_opts[@]}" update -q >/dev/null
    list="$(candidates)"
    if [[ "$(wc -l <<<"$list")" != "${#packages[@]}" ]]; then
        echo "Debian 12 (bookworm) does not have all of ${packages[*]}: $(cut -d' ' -f1 <<<"$list" | paste -sd' ')" >&2
        exit 1
    fi
    mapfile -t wanted < <(edge_debs_missing "$debs" "$list")
    if ((${#wanted[@]})); then
        (cd "$debs" && apt-get "${apt_opts[@]}" download -q "${wanted[@]}" >/dev/null)
    fi
fi

edge_debs_unpack "$debs" "$list" "$dest" check
