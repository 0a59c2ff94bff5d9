#!/bin/bash
# apt-need.sh [--no-services] PACKAGE...: install the Debian packages that are missing (root
# only; apt-get update runs only when something is missing). Used by image/image.mk.
# --no-services: the packages are wanted for their programs, which the tests start with
# their own configuration (nginx, caddy): where systemd runs, the services that the packages
# installed by this run start and enable (a web server on port 80) are stopped and disabled.
set -euo pipefail
no_services=false
if [[ "${1:-}" == --no-services ]]; then
    no_services=true
    shift
fi
missing=()
for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]]; then
        missing+=("$p")
    fi
done
((${#missing[@]})) || exit 0
if ((EUID != 0)); then
    echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
installed() {
    dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort
}
echo "installing: ${missing[*]}" >&2
before=$(installed)
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
if $no_services && [[ -d /run/systemd/system ]]; then
    # Every package this run installed, dependencies too (nginx's service is nginx-common's).
    for p in $(comm -13 <(echo "$before") <(installed)); do
        # Its own units (not templates): in /lib/systemd/system on Debian 12, /usr/lib/... on 13.
        for unit in $(dpkg-query -L "$p" | grep -E '^(/usr)?/lib/systemd/system/[^/@]+\.(service|socket)$'); do
            echo "stopping and disabling ${unit##*/} (installed with $p; the tests start their own)" >&2
            systemctl disable --now "${unit##*/}" >/dev/null 2>&1 || echo "could not stop ${unit##*/}" >&2
        done
    done
fi
