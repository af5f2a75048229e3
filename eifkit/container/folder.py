"""nitro-cli's ramdisks from folders (``build --cpio-format nitro-cli``).

``--rootfs DIR`` in nitro-cli's form is the customer ramdisk nitro-cli 1.5.0 would
build from a one-layer image whose filesystem is DIR (with the given Cmd and Env):
DIR is indexed as Docker would apply a layer tar of it (every path with a header of
its own: its mode with setuid/setgid/sticky, owner, group, mtime in whole seconds;
hard links by inode; sockets skipped, as Docker's tar writer skips them), then
Docker's init layer, ``docker export``'s order and linuxkit's rules and writer apply
exactly as for an image (:mod:`.nitro`). So the folder must hold what the image's
filesystem holds: owners, modes and mtimes included (extract as root, keeping
owners, e.g. ``tar --same-owner -xpf``; a copy that resets mtimes changes PCR2).
Extended attributes are not read (nitro-cli's ramdisk cannot hold them either).

``--bootstrap DIR`` in nitro-cli's form is nitro-cli's bootstrap ramdisk of DIR as a
blobs folder (``init`` and ``nsm.ko``; their modes, owners and times do not matter).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence

from ..errors import InputError, shown
from ..sources import GeneratedSource
from .linuxkit import LayerBytes
from .nitro import CHUNK, CustomerIndex
from .ramdisks import index_source
from .rootfs import (
    BLOCK,
    CHAR,
    DIR,
    FIFO,
    FILE,
    SYMLINK,
    ContainerFilesystem,
    Node,
    apply_init_layer,
    clamp_mtime,
)

_KINDS = (
    (stat.S_ISREG, FILE),
    (stat.S_ISLNK, SYMLINK),
    (stat.S_ISCHR, CHAR),
    (stat.S_ISBLK, BLOCK),
    (stat.S_ISFIFO, FIFO),
)


class FolderFiles:
    """The regular files of an indexed folder, by number (``LayerBytes.layer``)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def read(self, where: LayerBytes) -> Iterator[bytes]:
        path = self.paths[where.layer]
        try:
            with open(path, "rb") as f:
                left = where.size
                while left:
                    chunk = f.read(min(left, CHUNK))
                    if not chunk:
                        raise InputError(
                            f"file ended {left} bytes before the {where.size} it had when "
                            "the folder was indexed; was it changed meanwhile?",
                            path=path,
                        )
                    left -= len(chunk)
                    yield chunk
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}", path=path) from None

    def close(self) -> None:
        pass


def _node(full: str, st: os.stat_result, files: list[str]) -> Node | None:
    """The index node of one path (None for a socket, which Docker does not archive)."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        node = Node(DIR, stat.S_IMODE(mode), st.st_uid, st.st_gid, clamp_mtime(st.st_mtime))
    else:
        kind = next((k for test, k in _KINDS if test(mode)), None)
        if kind is None:
            return None
        node = Node(kind, stat.S_IMODE(mode), st.st_uid, st.st_gid, clamp_mtime(st.st_mtime))
        if kind == FILE:
            node.size, node.layer, node.offset = st.st_size, len(files), 0
            files.append(full)
        elif kind == SYMLINK:
            node.target, node.mode, node.mtime = os.readlink(full), 0o777, int(st.st_mtime)
            if st.st_mtime < 0:
                raise InputError(
                    f"symlink with a negative mtime ({int(st.st_mtime)}): nitro-cli would"
                    " write a corrupt header",
                    path=full,
                )
        elif kind in (CHAR, BLOCK):
            node.rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
    node.links = 1
    return node


def folder_filesystem(folder: str) -> tuple[ContainerFilesystem, FolderFiles]:
    """``folder`` as the filesystem of a container of a one-layer image holding it
    (Docker's init layer added), and its regular files by number."""
    if not os.path.isdir(folder):
        raise InputError("expected a folder", path=folder)
    root = Node(DIR, 0o755, 0, 0, 0)
    files: list[str] = []
    inodes: dict[tuple[int, int], Node] = {}
    stack = [(folder, root)]
    try:
        while stack:
            path, directory = stack.pop()
            assert directory.children is not None
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                st = os.lstat(full)
                key = (st.st_dev, st.st_ino)
                node = inodes.get(key) if not stat.S_ISDIR(st.st_mode) else None
                if node is not None:  # another name of a hard-linked inode
                    node.links += 1
                else:
                    node = _node(full, st, files)
                    if node is None:
                        continue
                    if st.st_nlink > 1 and node.children is None:
                        inodes[key] = node
                directory.children[name] = node
                if node.children is not None:
                    stack.append((full, node))
    except OSError as e:
        raise InputError(
            f"cannot read {shown(e.filename or folder)}: {e.strerror or e}", path=folder
        ) from None
    apply_init_layer(root)
    return ContainerFilesystem(root, []), FolderFiles(files)


def rootfs_source(folder: str, cmd: Sequence[str], env: Sequence[str]) -> GeneratedSource:
    """nitro-cli's customer ramdisk of ``folder`` with ``cmd`` and ``env``, made while
    it is read."""
    fs, files = folder_filesystem(folder)
    index = CustomerIndex(fs, tuple(cmd), tuple(env))
    return index_source(index, lambda: files, f"{folder} (nitro-cli's customer ramdisk)")
