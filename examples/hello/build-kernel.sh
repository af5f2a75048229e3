#!/usr/bin/env bash
# Rebuild examples/hello/bzImage from Debian's linux-source package, reproducibly.
#
#   examples/hello/build-kernel.sh            # ~3-4 minutes on 2 cores
#
# Needs Debian's archive (apt-get download) and: gcc make flex bison bc libelf-dev
# xz-utils. The kernel is `make ARCH=x86_64 tinyconfig` plus the options in
# kernel-options.txt; KBUILD_BUILD_USER/HOST/TIMESTAMP/VERSION are fixed so the same
# source package gives the same bzImage. Writes bzImage, kernel.config and
# SOURCE-VERSION next to this script, or into $OUT when set.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE}
PKG=${LINUX_SOURCE_PACKAGE:-linux-source-6.1}
WORK=$(mktemp -d /tmp/eifkit-hello-kernel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s flex bison bc libelf-dev >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends flex bison bc libelf-dev >/dev/null
fi
cd "$WORK"
apt-get download "$PKG" >/dev/null 2>&1
DEB=$(ls "$PKG"_*.deb)
VERSION=$(dpkg-deb -f "$DEB" Version)
dpkg-deb --fsys-tarfile "$DEB" | tar -x --wildcards './usr/src/linux-source-*.tar.xz'
tar -xf usr/src/linux-source-*.tar.xz
cd linux-source-*/
make -s ARCH=x86_64 tinyconfig
while read -r opt; do
  case "$opt" in ''|'#'*) continue;; esac
  ./scripts/config --enable "$opt"
done < "$HERE/kernel-options.txt"
make -s ARCH=x86_64 olddefconfig
export KBUILD_BUILD_USER=eifkit KBUILD_BUILD_HOST=eifkit KBUILD_BUILD_VERSION=1
export KBUILD_BUILD_TIMESTAMP='Wed Jan  1 00:00:00 UTC 2025'
make -s ARCH=x86_64 -j"$(nproc)" bzImage
cp arch/x86/boot/bzImage "$OUT/bzImage"
cp .config "$OUT/kernel.config"
echo "$PKG $VERSION" > "$OUT/SOURCE-VERSION"
echo "built $OUT/bzImage from $PKG $VERSION ($(stat -c %s "$OUT/bzImage") bytes)"
