#!/bin/bash
# Install, upgrade or remove the edge camera daemon on Raspberry Pi OS Lite 64-bit
# (Bookworm or Trixie).
#
#   sudo ./image/install.sh                     install or upgrade from this source tree
#   sudo ./image/install.sh --wheel FILE|DIR    ... from a built wheel
#   sudo ./image/install.sh --uninstall         remove (keeps config and recordings)
#
# Run ./image/install.sh --help for every option. Re-running it upgrades: the
# configuration in /etc/edge is never overwritten. Nothing is downloaded except
# Debian/Raspberry Pi OS packages (apt) and Python packages (pip, from PyPI unless
# --wheelhouse is given, at the versions and hashes in constraints.txt beside this script).
set -Eeuo pipefail
shopt -s nullglob

readonly PREFIX=/opt/edge
readonly VENV_LINK=$PREFIX/venv
readonly VENVS=$PREFIX/venvs
# The daemon's command: edge run, edge config (template, get, apply-boot), edge doctor, edge token.
readonly EDGE=$VENV_LINK/bin/edge
readonly CONF_DIR=/etc/edge
readonly CONF=$CONF_DIR/edge.toml
readonly STATE_DIR=/var/lib/edge
readonly UNIT_DIR=/usr/local/lib/systemd/system
readonly UNITS=(edge.service edge-boot-config.service)
# Prints the login URL with the access token (as the service user, with its state).
readonly TOKEN_COMMAND=/usr/local/sbin/edge-token
readonly SERVICE_USER=edge
readonly SERVICE_GROUPS=(video gpio audio render)
readonly BOOT_CONFIG=/boot/firmware/edge.toml
readonly AVAHI_SERVICE=/etc/avahi/services/edge.service
readonly MIN_PYTHON=3.11
# Raspberry Pi OS packages: picamera2, libcamera's IPA modules (the camera tuning, without
# which libcamera finds no usable camera), rpicam-apps-lite (rpicam-hello, for checking the
# camera) and lgpio come from Raspberry Pi's archive, the rest from Debian. Recommends are
# skipped (picamera2's pull in a desktop), so what the camera needs is named here.
readonly APT_PACKAGES=(python3 python3-venv python3-numpy python3-av python3-gpiozero
    python3-lgpio python3-picamera2 libcamera-ipa rpicam-apps-lite)
# [rtsp], installed when the configuration turns it on (it is off by default: every other
# camera is spared GStreamer): its RTSP server through PyGObject, with appsrc (base), RTP
# (good) and h264parse (bad). Turned on later: run install.sh again.
readonly RTSP_APT_PACKAGES=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
# picamera2 0.3.32 brought force_key_frame(): before it, a new viewer waits for the next
# periodic keyframe (up to keyframe_interval).
readonly MIN_PICAMERA2=0.3.32

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# The daemon's Python dependencies, each pinned with the sha256 of its files (make constraints).
readonly CONSTRAINTS=$SCRIPT_DIR/constraints.txt

usage() {
    cat <<EOF
Usage: sudo $0 [OPTION]...

Installs the edge camera daemon as the systemd service "edge", or upgrades it.

  --wheel PATH       install this wheel (or the newest edge_camera-*.whl in directory
                     PATH) instead of building from the source tree around this script
  --wheelhouse DIR   install Python dependencies only from DIR (offline, no PyPI)
  --no-start         enable the service but do not (re)start it (implied when systemd
                     is not running, e.g. in a chroot or an image build)
  --uninstall        stop and remove the service, program, user and state, keeping
                     $CONF_DIR and $STATE_DIR/recordings
  --any-arch         allow an architecture other than arm64 (tests; no camera there)
  --print-apt-packages
                     print the apt packages this installs, and exit
  -h, --help         show this help
EOF
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
trap 'die "install.sh failed at line $LINENO: $BASH_COMMAND"' ERR

WHEEL=""
WHEELHOUSE=""
START=1
ACTION=install
ANY_ARCH=0

while (($#)); do
    case "$1" in
        --wheel)
            (($# >= 2)) || die "--wheel needs a path"
            WHEEL="$2"
            shift
            ;;
        --wheelhouse)
            (($# >= 2)) || die "--wheelhouse needs a directory"
            WHEELHOUSE="$2"
            shift
            ;;
        --no-start) START=0 ;;
        --uninstall) ACTION=uninstall ;;
        --any-arch) ANY_ARCH=1 ;;
        --print-apt-packages)
            printf '%s\n' "${APT_PACKAGES[@]}"
            exit 0
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown option: $1"
            ;;
    esac
    shift
done

# True when systemd is the running init (not in a chroot or an image build).
systemd_running() {
    [[ -d /run/systemd/system ]] && [[ "$(readlink -f /proc/1/exe 2>/dev/null)" == */systemd ]]
}

check_root() {
    ((EUID == 0)) || die "run as root: sudo $0"
}

check_platform() {
    [[ -r /etc/os-release ]] || die "unsupported OS: /etc/os-release is missing; this needs Raspberry Pi OS (Bookworm or Trixie)"
    local id codename pretty
    # shellcheck source=/dev/null
    id="$(. /etc/os-release && printf '%s' "${ID:-}")"
    # shellcheck source=/dev/null
    codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
    # shellcheck source=/dev/null
    pretty="$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$id}")"
    case "$id" in
        debian | raspbian) ;;
        *) die "unsupported OS: $pretty. This needs Raspberry Pi OS Lite 64-bit (Bookworm or Trixie)." ;;
    esac
    case "$codename" in
        bookworm | trixie) ;;
        *) die "unsupported OS release: $pretty. This needs Raspberry Pi OS Bookworm or Trixie." ;;
    esac
    local arch
    arch="$(dpkg --print-architecture)"
    case "$arch" in
        arm64) ;;
        armhf | armel)
            die "unsupported architecture: $arch (32-bit). Flash Raspberry Pi OS Lite 64-bit; the media libraries have no 32-bit builds." ;;
        *)
            ((ANY_ARCH)) || die "unsupported architecture: $arch. This runs on a Raspberry Pi with 64-bit Raspberry Pi OS (arm64); --any-arch overrides this for tests."
            warn "architecture $arch: no Raspberry Pi camera here, use [camera] backend = \"simulated\""
            ;;
    esac
    command -v python3 >/dev/null || die "python3 is missing: sudo apt install python3"
    local version
    version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
        die "python3 does not run"
    if ! printf '%s\n%s\n' "$MIN_PYTHON" "$version" | sort -C -V; then
        die "unsupported Python: python3 is $version, $MIN_PYTHON or newer is needed (Raspberry Pi OS Bookworm has 3.11, Trixie 3.13)"
    fi
}

installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# install_apt_packages PACKAGE...: those of them that are missing.
install_apt_packages() {
    local missing=() p
    for p in "$@"; do
        installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "apt packages already installed"
        return
    fi
    say "installing apt packages: ${missing[*]}"
    apt-get update -q || die "apt-get update failed"
    for p in "${missing[@]}"; do
        if [[ "$(apt-cache policy "$p" | sed -n 's/^ *Candidate: *//p')" =~ ^(\(none\))?$ ]]; then
            die "package $p is not available from your apt sources. It comes with Raspberry Pi OS (archive.raspberrypi.com); install onto Raspberry Pi OS Lite 64-bit."
        fi
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install failed"
}

package_version() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null
}

# An older python3-picamera2 is left alone by "already installed": upgrade it.
ensure_picamera2_version() {
    local version
    version="$(package_version python3-picamera2)"
    dpkg --compare-versions "$version" ge "$MIN_PICAMERA2" && return
    say "python3-picamera2 $version is older than $MIN_PICAMERA2: upgrading it"
    apt-get update -q || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --only-upgrade python3-picamera2 ||
        die "apt-get install --only-upgrade python3-picamera2 failed"
    version="$(package_version python3-picamera2)"
    if ! dpkg --compare-versions "$version" ge "$MIN_PICAMERA2"; then
        warn "python3-picamera2 is still $version (older than $MIN_PICAMERA2): edge does not start with it. Update Raspberry Pi OS (sudo apt update && sudo apt full-upgrade)."
    fi
}

create_user() {
    local g
    for g in "${SERVICE_GROUPS[@]}"; do
        # Plain Debian has no gpio group (Raspberry Pi OS does, with udev rules).
        getent group "$g" >/dev/null || groupadd --system "$g"
    done
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        say "creating system user $SERVICE_USER"
        local group_opt=(--user-group)
        getent group "$SERVICE_USER" >/dev/null && group_opt=(--gid "$SERVICE_USER")
        useradd --system "${group_opt[@]}" --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "edge camera daemon" "$SERVICE_USER"
    fi
    usermod --append --groups "$(
        IFS=,
        printf '%s' "${SERVICE_GROUPS[*]}"
    )" "$SERVICE_USER"
}

create_dirs() {
    install -d -m 0755 -o root -g root "$PREFIX" "$VENVS"
    install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
    install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR" "$STATE_DIR/recordings"
    # After an uninstall + reinstall the user may have a new uid: recordings follow it.
    if [[ -n "$(find "$STATE_DIR" \( ! -user "$SERVICE_USER" -o ! -group "$SERVICE_USER" \) -print -quit)" ]]; then
        chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"
    fi
}

# The newest edge_camera-*.whl in a directory.
newest_wheel() {
    local w newest=""
    for w in "$1"/edge_camera-*.whl; do
        [[ -z "$newest" || "$w" -nt "$newest" ]] && newest="$w"
    done
    [[ -n "$newest" ]] || return 1
    printf '%s\n' "$newest"
}

# What pip installs: a wheel file, or the source tree this script lives in.
package_source() {
    if [[ -n "$WHEEL" ]]; then
        if [[ -d "$WHEEL" ]]; then
            newest_wheel "$WHEEL" || die "no edge_camera-*.whl in $WHEEL"
        else
            [[ -f "$WHEEL" ]] || die "no such wheel: $WHEEL"
            printf '%s\n' "$WHEEL"
        fi
    elif [[ -f "$SCRIPT_DIR/../pyproject.toml" ]]; then
        (cd "$SCRIPT_DIR/.." && pwd)
    else
        newest_wheel "$SCRIPT_DIR" || die "nothing to install: give --wheel, or run this from the source tree"
    fi
}

# Builds a fresh venv beside the current one, then switches the link: a failed
# upgrade leaves the running installation untouched. The dependencies go in first, as
# constraints.txt pins them, every file checked against its hashes there (pip's
# --require-hashes: it needs every requirement pinned, so the file is given as requirements,
# not with -c); then the package itself, which finds them all there.
install_venv() {
    local source new
    source="$(package_source)"
    [[ -f "$CONSTRAINTS" ]] || die "no $CONSTRAINTS (it comes with install.sh, in the source tree's image/)"
    new="$VENVS/$(date +%Y%m%d-%H%M%S)-$$"
    say "creating $new (with system site packages: picamera2, libcamera, lgpio)"
    python3 -m venv --system-site-packages "$new"
    local pip=("$new/bin/python" -m pip --disable-pip-version-check --no-input --quiet)
    local index=()
    if [[ -n "$WHEELHOUSE" ]]; then
        [[ -d "$WHEELHOUSE" ]] || die "no such directory: $WHEELHOUSE"
        index=(--no-index --find-links "$WHEELHOUSE")
    fi
    say "installing the Python dependencies pinned in $CONSTRAINTS, each checked against its hashes"
    if ! "${pip[@]}" install "${index[@]}" --require-hashes -r "$CONSTRAINTS"; then
        rm -rf "$new"
        die "pip could not install the dependencies pinned in $CONSTRAINTS"
    fi
    local build=""
    if [[ -d "$source" ]]; then
        # Built from a copy: the checkout (often the login user's) gets no root-owned
        # build/ or *.egg-info.
        build="$(mktemp -d)"
        mkdir "$build/src"
        tar -C "$source" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
            --exclude='*/__pycache__' -cf - . | tar -C "$build/src" -xf -
        if ! "${pip[@]}" wheel "${index[@]}" --no-deps -w "$build" "$build/src"; then
            rm -rf "$new" "$build"
            die "pip could not build a wheel from $source"
        fi
        source="$(newest_wheel "$build")"
    fi
    say "installing $(basename "$source")"
    # --no-index: its dependencies are all in place by now (pinned above, or the system's);
    # one that is not is an error here, never a download that no hash checks.
    if ! "${pip[@]}" install --no-index "$source"; then
        rm -rf "$new" "$build"
        die "pip could not install $(basename "$source"): is a dependency missing from $CONSTRAINTS (make constraints)?"
    fi
    [[ -z "$build" ]] || rm -rf "$build"
    if ! "$new/bin/python" -c 'import edge, aiortc, av' || [[ ! -x "$new/bin/edge" ]]; then
        rm -rf "$new"
        die "the new installation does not import; the previous one is unchanged"
    fi
    PREVIOUS_VENV="$(readlink "$VENV_LINK" 2>/dev/null || true)"
    if [[ -e "$VENV_LINK" && ! -L "$VENV_LINK" ]]; then
        rm -rf "$VENV_LINK"
    fi
    ln -sfn "venvs/$(basename "$new")" "$VENV_LINK.tmp"
    mv -Tf "$VENV_LINK.tmp" "$VENV_LINK"
    CURRENT_VENV="venvs/$(basename "$new")"
}

remove_old_venvs() {
    local v
    for v in "$VENVS"/*; do
        [[ "venvs/$(basename "$v")" == "$CURRENT_VENV" ]] || rm -rf "$v"
    done
}

# The owner's front page (README.md, where the units' Documentation= points) and the pages
# and pictures it links to (CONTRIBUTING.md, docs/), from the tree around this script: a
# clone, or what an image build copies beside image/. docs/ is replaced whole, so a page
# removed upstream goes.
install_docs() {
    local tree=$SCRIPT_DIR/.. dir files
    [[ -f "$tree/README.md" && -d "$tree/docs" ]] || return 0
    install -m 0644 "$tree/README.md" "$tree/CONTRIBUTING.md" "$PREFIX/"
    rm -rf "$PREFIX/docs"
    # docs/examples: the configurations remote.md links (reverse proxies, TURN, WireGuard).
    for dir in docs docs/screenshots docs/bench docs/examples; do
        install -d -m 0755 "$PREFIX/$dir"
        files=("$tree/$dir"/*.md "$tree/$dir"/*.png "$tree/$dir"/*.conf "$tree/$dir"/*Caddyfile)
        if ((${#files[@]})); then
            install -m 0644 "${files[@]}" "$PREFIX/$dir/"
        fi
    done
}

install_files() {
    # Versions before "edge config" installed the config tool here.
    rm -rf "$PREFIX/libexec"
    install_docs
    "$EDGE" config template >"$CONF_DIR/edge.toml.example.tmp"
    install -m 0644 -o root -g root "$CONF_DIR/edge.toml.example.tmp" "$CONF_DIR/edge.toml.example"
    rm -f "$CONF_DIR/edge.toml.example.tmp"
    if [[ -e "$CONF" ]]; then
        say "keeping $CONF"
    else
        say "writing $CONF"
        install -m 0640 -o root -g "$SERVICE_USER" "$CONF_DIR/edge.toml.example" "$CONF"
    fi
    # The file may hold a secret: readable by root and the service only.
    chown "root:$SERVICE_USER" "$CONF"
    chmod 0640 "$CONF"
    if [[ -f "$BOOT_CONFIG" ]]; then
        say "applying $BOOT_CONFIG"
        local live=()
        if systemd_running; then
            live=(--live)
        fi
        "$EDGE" config apply-boot "${live[@]}" ||
            warn "$BOOT_CONFIG was not applied (see above)"
    fi
    install -d -m 0755 "$(dirname "$TOKEN_COMMAND")"
    cat >"$TOKEN_COMMAND.tmp" <<END
#!/bin/sh
# Installed by edge-camera's install.sh: print the camera's login URL with its access
# token (made at the daemon's first start). --rotate makes a new token.
exec runuser -u $SERVICE_USER -- env STATE_DIRECTORY=$STATE_DIR $EDGE token --config $CONF "\$@"
END
    chmod 0755 "$TOKEN_COMMAND.tmp"
    mv -f "$TOKEN_COMMAND.tmp" "$TOKEN_COMMAND"
    local unit
    install -d -m 0755 "$UNIT_DIR"
    for unit in "${UNITS[@]}"; do
        install -m 0644 "$SCRIPT_DIR/systemd/$unit" "$UNIT_DIR/$unit"
    done
    publish_on_the_network
}

# What [rtsp] needs, when the configuration turns it on.
install_rtsp_packages() {
    if [[ "$("$EDGE" config get rtsp enabled --config "$CONF" --default False)" == True ]]; then
        say "[rtsp] is on"
        install_apt_packages "${RTSP_APT_PACKAGES[@]}"
    fi
}

# Announce the page (and RTSP, when on) through the Pi's Avahi, for discovery apps and
# Home Assistant. Written from the configuration: run install.sh again after changing a port.
publish_on_the_network() {
    if [[ ! -d "$(dirname "$AVAHI_SERVICE")" ]]; then
        return # no avahi-daemon: print_url says so
    fi
    if "$EDGE" config avahi --config "$CONF" >"$AVAHI_SERVICE.tmp"; then
        install -m 0644 "$AVAHI_SERVICE.tmp" "$AVAHI_SERVICE"
        say "announced on the network through Avahi ($AVAHI_SERVICE)"
    else
        warn "could not write $AVAHI_SERVICE (see above)"
    fi
    rm -f "$AVAHI_SERVICE.tmp"
}

enable_and_start() {
    systemctl enable --quiet "${UNITS[@]}"
    if ! systemd_running; then
        say "systemd is not running here: edge.service is enabled and starts at boot"
        return 0
    fi
    systemctl daemon-reload
    if ((!START)); then
        say "edge.service enabled, not started (--no-start)"
        return 0
    fi
    say "starting edge.service"
    if systemctl restart edge.service; then
        return 0
    fi
    journalctl -u edge.service -n 40 --no-pager >&2 || true
    if [[ -n "${PREVIOUS_VENV:-}" && -d "$PREFIX/$PREVIOUS_VENV" && "$PREVIOUS_VENV" != "$CURRENT_VENV" ]]; then
        warn "the new version did not start; going back to the previous one"
        ln -sfn "$PREVIOUS_VENV" "$VENV_LINK.tmp"
        mv -Tf "$VENV_LINK.tmp" "$VENV_LINK"
        rm -rf "${PREFIX:?}/$CURRENT_VENV"
        CURRENT_VENV="$PREVIOUS_VENV"
        systemctl restart edge.service || true
    fi
    die "edge.service did not start; see: journalctl -u edge"
}

print_url() {
    local port host
    port="$("$EDGE" config get server port --default 8080 2>/dev/null || echo 8080)"
    # /etc/hostname: the name after the next boot too (and in a chroot, not the host's).
    host="$(cat /etc/hostname 2>/dev/null || hostname)"
    echo
    say "done. Open the camera in a browser on the same network:"
    printf '      http://%s.local:%s/\n' "$host" "$port"
    local addr
    for addr in $(hostname -I 2>/dev/null); do
        [[ "$addr" == *:* ]] && continue
        printf '      http://%s:%s/\n' "$addr" "$port"
    done
    if systemd_running && systemctl --quiet is-active edge.service; then
        printf '    log in once with (keep it secret):\n      %s\n' "$("$TOKEN_COMMAND" 2>/dev/null || echo "sudo edge-token")"
    else
        # Not made here: an image built with this would give every camera the same token.
        printf '    the access token is made at the first start; then show it with: sudo edge-token\n'
    fi
    printf '    settings: %s   logs: journalctl -u edge -f\n' "$CONF"
    if ! installed avahi-daemon; then
        warn "avahi-daemon is not installed, so $host.local will not resolve: sudo apt install avahi-daemon"
    fi
}

# edge doctor's findings, shown only when something blocks streaming (no camera, ...).
report_problems() {
    local report
    if ! report="$("$EDGE" doctor --config "$CONF" 2>&1)"; then
        warn "edge doctor found something that blocks streaming:"
        printf '%s\n' "$report" >&2
    fi
}

do_install() {
    check_root
    check_platform
    mkdir -p /run/lock
    exec 9>/run/lock/edge-install.lock
    flock -n 9 || die "another install.sh is running"
    install_apt_packages "${APT_PACKAGES[@]}"
    ensure_picamera2_version
    create_user
    create_dirs
    install_venv
    install_files
    install_rtsp_packages
    enable_and_start
    remove_old_venvs
    print_url
    report_problems
}

do_uninstall() {
    check_root
    say "removing the edge camera service"
    local unit
    for unit in "${UNITS[@]}"; do
        if systemd_running; then
            systemctl disable --now "$unit" 2>/dev/null || true
        else
            systemctl disable "$unit" 2>/dev/null || true
        fi
        rm -f "$UNIT_DIR/$unit"
    done
    if systemd_running; then
        systemctl daemon-reload
    fi
    rm -rf "$PREFIX"
    rm -f "$TOKEN_COMMAND" "$AVAHI_SERVICE"
    if [[ -d "$STATE_DIR" ]]; then
        find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name recordings -exec rm -rf {} +
    fi
    if getent passwd "$SERVICE_USER" >/dev/null; then
        userdel "$SERVICE_USER"
    fi
    if getent group "$SERVICE_USER" >/dev/null; then
        groupdel "$SERVICE_USER"
    fi
    say "removed. Kept: $CONF_DIR (settings) and $STATE_DIR/recordings; delete them by hand if unwanted."
}

case "$ACTION" in
    install) do_install ;;
    uninstall) do_uninstall ;;
esac
