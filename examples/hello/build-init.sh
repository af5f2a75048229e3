#!/usr/bin/env bash
# Rebuild examples/hello/init and init.cpio from init.c, reproducibly (Debian's gcc).
# init.cpio holds /init and the empty folders /proc and /sys, all owned by root with
# mtime 0 (the kernel's built-in initramfs provides /dev/console).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
gcc -static -nostdlib -nostartfiles -ffreestanding -Os -fno-stack-protector \
    -fno-asynchronous-unwind-tables \
    -fno-ident -Wl,--build-id=none -Wl,-n -s -o "$HERE/init" "$HERE/init.c"
TREE=$(mktemp -d)
trap 'rm -rf "$TREE"' EXIT
mkdir "$TREE/proc" "$TREE/sys"
cp "$HERE/init" "$TREE/init"
chmod 0755 "$TREE/init" "$TREE/proc" "$TREE/sys"
python3 -m eifkit initramfs "$TREE" -o "$HERE/init.cpio" --mtime 0
echo "built $HERE/init ($(stat -c %s "$HERE/init") bytes) and $HERE/init.cpio"
