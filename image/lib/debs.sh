# shellcheck shell=bash
# Debian packages unpacked (dpkg -x, not installed) for the test rig's servers:
# whip-server-root.sh (simple-whip-server and its node packages) and janus-root.sh (Debian
# 12's Janus on Debian 13). Source this file; it defines functions only.

# edge_deb_files: `apt-cache show --no-all-versions` output on stdin, "PACKAGE FILE" lines out,
# FILE being the name `apt-get download` gives the package (the epoch's ':' as %3a).
edge_deb_files() {
    awk '
        /^Package: / { p = $2 }
        /^Version: / { v = $2; gsub(/:/, "%3a", v) }
        /^Architecture: / { a = $2 }
        /^$/ && p { print p, p "_" v "_" a ".deb"; p = "" }'
}

# edge_debs_missing DIR LIST: the packages of LIST ("PACKAGE FILE" lines) whose file is not in DIR.
edge_debs_missing() {
    local package file
    while read -r package file; do
        [[ -f "$1/$file" ]] || printf '%s\n' "$package"
    done <<<"$2"
}

# edge_debs_unpack DIR LIST DEST [CHECK]: LIST's files from DIR unpacked into a new tree that
# replaces DEST only once it is whole and CHECK (a command given the tree) passes; DEST/.complete
# then names the files.
edge_debs_unpack() {
    local debs="$1" list="$2" dest="$3" check="${4:-}" work file
    mkdir -p "$(dirname "$dest")"
    work="$(mktemp -d "$dest.XXXXXX")"
    while read -r _ file; do
        if ! dpkg -x "$debs/$file" "$work"; then
            rm -rf "$work"
            return 1
        fi
    done <<<"$list"
    if [[ -n "$check" ]] && ! "$check" "$work"; then
        rm -rf "$work"
        return 1
    fi
    chmod 755 "$work"
    cut -d' ' -f2 <<<"$list" >"$work/.complete"
    rm -rf "$dest"
    mv "$work" "$dest"
}

# edge_apt_options STATE [ARCH]: options (one a line) that give apt a configuration of its own
# under STATE (sources.list, lists, downloads), for ARCH's packages (default: this machine's).
# The machine's apt sources are not changed.
edge_apt_options() {
    local state="$1" arch="${2:-}"
    printf '%s\n' -o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=$state/none" \
        -o "Dir::Etc::Preferences=$state/none" -o "Dir::Etc::PreferencesParts=$state/none" \
        -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o "APT::Sandbox::User=root" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Acquire::Languages=none -o Acquire::GzipIndexes=true
    if [[ -n "$arch" ]]; then
        printf '%s\n' -o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
    fi
}

# edge_release_deb RELEASE ARCH PACKAGE: the path of Debian RELEASE's PACKAGE for ARCH, downloaded
# once into $EDGE_TEST_CACHE/apt-RELEASE-ARCH (needs root then) from this machine's Debian mirror.
edge_release_deb() {
    local release="$1" arch="$2" package="$3" state debs opts file
    state="$(edge_cache_dir)/apt-$release-$arch"
    debs="$state/debs"
    mapfile -t opts < <(edge_apt_options "$state" "$arch")
    file="$(find "$debs" -maxdepth 1 -name "${package}_*_$arch.deb" -print -quit 2>/dev/null)"
    if [[ -z "$file" ]]; then
        mkdir -p "$state/none" "$state/lists/partial" "$state/cache/archives/partial" "$debs"
        echo "deb $(edge_debian_mirror) $release main" >"$state/sources.list"
        apt-get "${opts[@]}" update -q >/dev/null
        (cd "$debs" && apt-get "${opts[@]}" download -q "$package:$arch" >/dev/null)
        file="$(find "$debs" -maxdepth 1 -name "${package}_*_$arch.deb" -print -quit)"
    fi
    [[ -n "$file" ]] || return 1
    printf '%s\n' "$file"
}
