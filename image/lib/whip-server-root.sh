#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# whip-server-root.sh DEST: Debian's simple-whip-server and the node-* and libjs-* packages it
# depends on, unpacked (dpkg -x, not installed) into DEST for the WHIP test rig
# (testbed/whip_rig.py), which runs it with whatever `node` is on PATH and NODE_PATH into DEST:
# apt cannot install it beside NodeSource's nodejs (docs/whip.md). nodejs and libnode are not
# unpacked, nor the libraries they need.
#
# Does nothing if DEST is complete. The .deb files are kept where apt keeps its own downloads
# ($WHIP_SERVER_DEBS to choose another directory); only when some are missing there does it
# need root, to run apt-get update before downloading them. Used by the Makefile (test-deps).
set -euo pipefail

# shellcheck source=debs.sh
source "$(dirname "${BASH_SOURCE[0]}")/debs.sh"

dest="${1:?usage: whip-server-root.sh DEST}"
debs="${WHIP_SERVER_DEBS:-/var/cache/apt/archives}"
[[ -f "$dest/.complete" ]] && exit 0

# "PACKAGE FILE" for simple-whip-server and each node-* and libjs-* package in its Depends
# closure (node-* packages link files to /usr/share/javascript, which libjs-* ones hold), at the
# candidate version; FILE is the name apt gives the download (the epoch's ':' as %3a).
closure() {
    local packages
    packages="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances simple-whip-server 2>/dev/null |
        grep -E '^(simple-whip-server|node-|libjs-)' | sort -u)" ||
        return 1
    # shellcheck disable=SC2086 # one package name per word
    apt-cache show --no-all-versions $packages | edge_deb_files
}

if ! list="$(closure)" || [[ -z "$list" ]] || [[ -n "$(edge_debs_missing "$debs" "$list")" ]]; then
    if ((EUID != 0)); then
        echo "simple-whip-server's packages are not in $debs: run as root (make test-deps) to download them" >&2
        exit 1
    fi
    echo "downloading simple-whip-server and the packages it needs into $debs" >&2
    apt-get update -q >/dev/null
    list="$(closure)"
    mapfile -t wanted < <(edge_debs_missing "$debs" "$list")
    if ((${#wanted[@]})); then
        mkdir -p "$debs"
        # The sandbox user _apt may not write to $debs: download as root, quietly.
        (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${wanted[@]}" >/dev/null)
    fi
fi

# Every link a node package makes points into another unpacked package.
no_dangling_links() {
    local dangling
    dangling="$(find "$1/usr/share/nodejs" "$1/usr/lib" -xtype l)"
    if [[ -n "$dangling" ]]; then
        printf 'links to files no unpacked package has:\n%s\n' "$dangling" >&2
        return 1
    fi
}

edge_debs_unpack "$debs" "$list" "$dest" no_dangling_links
