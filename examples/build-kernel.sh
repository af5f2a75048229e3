#!/usr/bin/env bash
# Rebuild an example's bzImage from Debian's linux-source package, reproducibly.
#
#   examples/build-kernel.sh examples/hello/kernel-options.txt linux-source-6.1=6.1.192-2
#   examples/build-kernel.sh examples/attest/kernel-options.txt linux-source-6.12=6.12.117-1~deb12u1
#
# Arguments: the options file (one Kconfig symbol a line, '#' comments) and the Debian
# source package, optionally pinned as PACKAGE=VERSION. The kernel is
# `make ARCH=x86_64 tinyconfig` plus those options; KBUILD_BUILD_USER/HOST/TIMESTAMP/VERSION
# are fixed so the same source package gives the same bzImage. Writes bzImage,
# kernel.config and SOURCE-VERSION next to the options file, or into $OUT when set.
# $LINUX_SOURCE_DEB may name an already downloaded .deb of that package (skips apt-get).
#
# Needs Debian's archive (apt-get download) and: gcc make flex bison bc libelf-dev xz-utils.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: build-kernel.sh OPTIONS-FILE PACKAGE[=VERSION]" >&2; exit 2; }
OPTIONS=$(readlink -f "$1")
SPEC=$2
PKG=${SPEC%%=*}
OUT=$(readlink -f "${OUT:-$(dirname "$OPTIONS")}")
WORK=$(mktemp -d /tmp/eifkit-kernel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s flex bison bc libelf-dev >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends flex bison bc libelf-dev >/dev/null
fi
cd "$WORK"
if [ -n "${LINUX_SOURCE_DEB:-}" ]; then
  DEB=$(readlink -f "$LINUX_SOURCE_DEB")
else
  apt-get download "$SPEC" >/dev/null 2>&1
  DEB=$(readlink -f "$(ls "$PKG"_*.deb)")
fi
[ "$(dpkg-deb -f "$DEB" Package)" = "$PKG" ] || { echo "$DEB is not $PKG" >&2; exit 1; }
VERSION=$(dpkg-deb -f "$DEB" Version)
case "$SPEC" in *=*) [ "$VERSION" = "${SPEC#*=}" ] || {
  echo "$DEB is $PKG $VERSION, not ${SPEC#*=}" >&2; exit 1; };; esac
dpkg-deb --fsys-tarfile "$DEB" | tar -x --wildcards './usr/src/linux-source-*.tar.xz'
tar -xf usr/src/linux-source-*.tar.xz
cd linux-source-*/
make -s ARCH=x86_64 tinyconfig
while read -r opt; do
  case "$opt" in ''|'#'*) continue;; esac
  ./scripts/config --enable "$opt"
done < "$OPTIONS"
make -s ARCH=x86_64 olddefconfig
while read -r opt; do  # an option that olddefconfig dropped (a missing dependency) is an error
  case "$opt" in ''|'#'*) continue;; esac
  grep -qx "CONFIG_$opt=y" .config || { echo "CONFIG_$opt is not =y after olddefconfig" >&2; exit 1; }
done < "$OPTIONS"
export KBUILD_BUILD_USER=eifkit KBUILD_BUILD_HOST=eifkit KBUILD_BUILD_VERSION=1
export KBUILD_BUILD_TIMESTAMP='Wed Jan  1 00:00:00 UTC 2025'
make -s ARCH=x86_64 -j"$(nproc)" bzImage
mkdir -p "$OUT"
cp arch/x86/boot/bzImage "$OUT/bzImage"
cp .config "$OUT/kernel.config"
echo "$PKG $VERSION" > "$OUT/SOURCE-VERSION"
echo "built $OUT/bzImage from $PKG $VERSION ($(stat -c %s "$OUT/bzImage") bytes)"
