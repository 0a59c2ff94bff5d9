#!/bin/sh
# build.sh OUTDIR: builds Firefox's OpenH264 plugin into OUTDIR/gmp-gmpopenh264/<version>/
# (libgmpopenh264.so and gmpopenh264.info: the layout Firefox needs), from the plugin wrapper
# next to this script and Debian's static libopenh264.a (apt-get install g++ libopenh264-dev).
# <version> is the Debian library's. Other versions in OUTDIR/gmp-gmpopenh264 are removed.
#
# The codec is linked statically on purpose: Firefox's plugin sandbox preloads only a fixed
# list of system libraries, so a plugin linked to libopenh264.so dies at start.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
wrapper=$here/openh264-v2.3.1
triplet=$(gcc -print-multiarch)
lib=/usr/lib/$triplet/libopenh264.a
pc=/usr/lib/$triplet/pkgconfig/openh264.pc
for f in "$lib" "$pc"; do
    [ -f "$f" ] || { echo "$f missing: apt-get install libopenh264-dev" >&2; exit 1; }
done
version=$(sed -n 's/^Version: *//p' "$pc")
[ -n "$version" ] || { echo "no Version in $pc" >&2; exit 1; }

rm -rf "$1/gmp-gmpopenh264"
dest=$1/gmp-gmpopenh264/$version
mkdir -p "$dest"
map=$(mktemp)
trap 'rm -f "$map"' EXIT
echo '{ global: GMPInit; GMPGetAPI; GMPShutdown; local: *; };' >"$map"
g++ -O2 -fPIC -shared -Wall -I"$here/gmp-api-Firefox39" -I/usr/include/wels -I"$wrapper/module" \
    "$wrapper/module/gmp-openh264.cpp" -o "$dest/libgmpopenh264.so" "$lib" -lpthread \
    -Wl,-z,defs -Wl,--version-script="$map" -s
sed "s/^Version: .*/Version: $version/" "$wrapper/gmpopenh264.info" >"$dest/gmpopenh264.info"
echo "built $dest/libgmpopenh264.so ($(basename "$wrapper") wrapper, Debian's libopenh264 $version)"
