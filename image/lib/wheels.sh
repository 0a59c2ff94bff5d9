# shellcheck shell=bash
# Build our wheel and download a wheelhouse of its dependencies on the host, for
# installing into a chroot with `pip install --no-index --find-links`.
# Source after lib/chroot.sh (uses edge_log, edge_die, edge_cache_dir).
#
# Environment:
#   EDGE_SOURCE   the project tree (default: two levels above this file)
#   EDGE_PYTHON   host Python with pip (default: $EDGE_SOURCE/.venv/bin/python, else python3)

edge_source_dir() {
    if [[ -n "${EDGE_SOURCE:-}" ]]; then
        printf '%s\n' "$EDGE_SOURCE"
    else
        (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    fi
}

edge_host_python() {
    local src
    src="$(edge_source_dir)"
    if [[ -n "${EDGE_PYTHON:-}" ]]; then
        printf '%s\n' "$EDGE_PYTHON"
    elif [[ -x "$src/.venv/bin/python" ]]; then
        printf '%s\n' "$src/.venv/bin/python"
    else
        command -v python3
    fi
}

# edge_build_wheel OUTDIR: build edge_camera-*.whl from the source tree into OUTDIR,
# print its path.
edge_build_wheel() {
    local out="$1" src py
    src="$(edge_source_dir)"
    py="$(edge_host_python)"
    mkdir -p "$out"
    rm -f "$out"/edge_camera-*.whl
    # Build from a clean copy so the work tree gets no build/ or *.egg-info.
    local tmp
    tmp="$(mktemp -d)"
    tar -C "$src" --exclude=./.venv --exclude=./.git --exclude='*/__pycache__' \
        --exclude=./build --exclude=./dist --exclude='./*.egg-info' -cf - . | tar -C "$tmp" -xf -
    if ! "$py" -m pip wheel --disable-pip-version-check --no-deps -w "$out" "$tmp" >"$out/build.log" 2>&1; then
        tail -n 40 "$out/build.log" >&2
        rm -rf "$tmp"
        edge_die "building the wheel failed (log: $out/build.log)"
    fi
    rm -rf "$tmp"
    local wheels=("$out"/edge_camera-*.whl)
    [[ -f "${wheels[0]}" ]] || edge_die "no wheel was built"
    printf '%s\n' "${wheels[0]}"
}

# edge_release_python RELEASE / edge_release_glibc RELEASE: the Python and the glibc of a
# Debian release we support (those of Raspberry Pi OS of that release).
edge_release_python() {
    case "$1" in
        bookworm) echo 3.11 ;;
        trixie) echo 3.13 ;;
        *) edge_die "unsupported Debian release: $1 (bookworm or trixie)" ;;
    esac
}

edge_release_glibc() {
    case "$1" in
        bookworm) echo 2.36 ;;
        trixie) echo 2.41 ;;
        *) edge_die "unsupported Debian release: $1 (bookworm or trixie)" ;;
    esac
}

# edge_constraint_pins FILE: name==version of each package in a file made by `make
# constraints`, without its markers and hashes (pip download evaluates markers for the
# Python it runs on, not for --python-version: every pinned version is taken).
edge_constraint_pins() {
    sed -nE 's/^([A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\]+).*/\1/p' "$1"
}

# edge_wheelhouse WHEEL DIR [PLATFORM [RELEASE]]: download every dependency of WHEEL as
# binary wheels into DIR, at the versions image/constraints.txt pins (install.sh installs
# those, checking their hashes). PLATFORM "host" (default) matches this Python; "aarch64"
# means Debian RELEASE's (default bookworm) CPython on manylinux aarch64 up to its glibc.
# Binary wheels only: a dependency without one fails here, named in the log, instead of
# being compiled on a Pi.
edge_wheelhouse() {
    local wheel="$1" dir="$2" platform="${3:-host}" release="${4:-bookworm}" py python glibc pins
    py="$(edge_host_python)"
    python="$(edge_release_python "$release")"
    glibc="$(edge_release_glibc "$release")"
    mkdir -p "$dir"
    pins="$dir.pins"
    edge_constraint_pins "$(edge_source_dir)/image/constraints.txt" >"$pins"
    [[ -s "$pins" ]] || edge_die "no pins in $(edge_source_dir)/image/constraints.txt"
    local args=(--only-binary=:all: -c "$pins" -d "$dir")
    if [[ "$platform" == aarch64 ]]; then
        args+=(--python-version "$python" --implementation cp --abi "cp${python/./}" --abi abi3 --abi none
            --platform manylinux2014_aarch64)
        local minor
        for minor in $(seq 17 "${glibc#2.}"); do
            args+=(--platform "manylinux_2_${minor}_aarch64")
        done
    fi
    if ! "$py" -m pip download --disable-pip-version-check "${args[@]}" "$wheel" >"$dir.log" 2>&1; then
        tail -n 40 "$dir.log" >&2
        edge_die "downloading the wheelhouse failed: a dependency without a binary wheel for $platform on $release (Python $python) would be compiled on a Pi (log: $dir.log)"
    fi
    # Our own wheel is installed from its own path.
    rm -f "$dir"/edge_camera-*.whl
}
