#!/usr/bin/env bash
# Rebuild an example's init and init.cpio from its init.c, reproducibly (Debian's gcc).
#
#   examples/build-init.sh examples/hello proc sys
#   examples/build-init.sh examples/attest dev sys
#
# Arguments: the example's folder, then the empty folders its init mounts on. init.cpio
# holds /init and those folders, all owned by root with mtime 0 (the kernel's built-in
# initramfs provides /dev and /dev/console).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: build-init.sh EXAMPLE-DIR [FOLDER...]" >&2; exit 2; }
HERE=$(readlink -f "$1")
shift
gcc -static -nostdlib -nostartfiles -ffreestanding -Os -fno-stack-protector \
    -fno-asynchronous-unwind-tables \
    -fno-ident -Wl,--build-id=none -Wl,-n -s -o "$HERE/init" "$HERE/init.c"
TREE=$(mktemp -d)
trap 'rm -rf "$TREE"' EXIT
for folder in "$@"; do
  mkdir "$TREE/$folder"
  chmod 0755 "$TREE/$folder"
done
cp "$HERE/init" "$TREE/init"
chmod 0755 "$TREE/init"
python3 -m eifkit initramfs "$TREE" -o "$HERE/init.cpio" --mtime 0
echo "built $HERE/init ($(stat -c %s "$HERE/init") bytes) and $HERE/init.cpio"
