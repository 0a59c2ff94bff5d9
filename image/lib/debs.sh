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
