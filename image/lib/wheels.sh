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

# Dependencies published as source only. Pure Python: pip builds each on the Pi in a second
# (no compiler), with setuptools from the wheelhouse; the sdist is what constraints.txt
# hashes, so install.sh checks it as it checks every wheel. check-fresh.sh lets pip build
# these (and only these) from source.
EDGE_SOURCE_ONLY="wsdiscovery"

# edge_wheelhouse DIR [PLATFORM [RELEASE]]: download every dependency of our wheel into
# DIR: what image/constraints.txt pins for that platform (install.sh installs exactly those,
# checking their hashes), as binary wheels but for EDGE_SOURCE_ONLY. PLATFORM "host"
# (default) matches this Python; "aarch64" means Debian RELEASE's (default bookworm) CPython
# on manylinux aarch64 up to its glibc. A dependency with no binary wheel fails here, named
# in the log, instead of being compiled on a Pi.
edge_wheelhouse() {
    local dir="$1" platform="${2:-host}" release="${3:-bookworm}" py python glibc pins src
    py="$(edge_host_python)"
    src="$(edge_source_dir)"
    python="$(edge_release_python "$release")"
    glibc="$(edge_release_glibc "$release")"
    mkdir -p "$dir"
    pins="$dir.pins"
    local target=()
    [[ "$platform" == aarch64 ]] && target=("$python" aarch64)
    "$py" "$src/image/lib/target_pins.py" "$src/image/constraints.txt" "${target[@]}" >"$pins" ||
        edge_die "cannot read the pins of $src/image/constraints.txt"
    [[ -s "$pins" ]] || edge_die "no pins in $src/image/constraints.txt"
    local source_only="^(${EDGE_SOURCE_ONLY// /|})=="
    grep -Ev "$source_only" "$pins" >"$pins.binary" || true
    grep -E "$source_only" "$pins" >"$pins.source" || true
    local args=(--disable-pip-version-check --no-deps -d "$dir")
    local binary=(--only-binary=:all:)
    if [[ "$platform" == aarch64 ]]; then
        binary+=(--python-version "$python" --implementation cp --abi "cp${python/./}" --abi abi3 --abi none
            --platform manylinux2014_aarch64)
        local minor
        for minor in $(seq 17 "${glibc#2.}"); do
            binary+=(--platform "manylinux_2_${minor}_aarch64")
        done
    fi
    if ! "$py" -m pip download "${args[@]}" "${binary[@]}" -r "$pins.binary" >"$dir.log" 2>&1 ||
        ! "$py" -m pip download "${args[@]}" --no-binary=:all: -r "$pins.source" >>"$dir.log" 2>&1; then
        tail -n 40 "$dir.log" >&2
        edge_die "downloading the wheelhouse failed: a dependency without a binary wheel for $platform on $release (Python $python) would be compiled on a Pi (log: $dir.log)"
    fi
}
