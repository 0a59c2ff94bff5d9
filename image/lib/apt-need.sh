#!/bin/bash
# apt-need.sh PACKAGE...: install the Debian packages that are missing (root only;
# apt-get update runs only when something is missing). Used by image/image.mk.
set -euo pipefail
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
echo "installing: ${missing[*]}" >&2
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
