"""A container's filesystem as Docker Engine 20.10 exports it, without Docker.

``container_export(image)`` applies the image's layers the way dockerd 20.10's
``docker load`` does (``pkg/archive`` UnpackLayer: whiteouts, opaque directories,
type changes, hard links; the vfs storage driver's view of hard links to files of a
lower layer), adds Docker's init layer, and yields what ``docker export`` of a
container created from the image holds, in its order: a depth-first walk with the
names of each directory sorted bytewise, a directory before its contents, the first
name of a hard-linked inode as the file and later names as links to it.

Only an index is kept: per path the header fields and where the data lies (layer,
offset in the uncompressed layer tar, size), never the data. Its memory grows with
the number of paths, about 350 bytes each, at the peak too (a ``Node`` with slots,
its key in the parent's dict, and the integers; measured in the tests: 20,000 files
took 330 bytes each), not with their bytes. Applying a layer adds only the names of
its hard links and the directories it changes.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from ..errors import FormatError, InputError, shown
from .image import ContainerImage, Layer

FILE, DIR, SYMLINK, CHAR, BLOCK, FIFO = "-", "d", "l", "c", "b", "p"

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
AUFS_META = ".wh..wh."

# Go's time.Time after which pkg/system.Chtimes stamps the epoch instead (int64 ns).
_CHTIMES_MAX = (1 << 63) - 1

# Docker 20.10's daemon/initlayer: the paths every container's init layer holds.
INIT_LAYER: tuple[tuple[str, str], ...] = (
    ("dev/pts", DIR),
    ("dev/shm", DIR),
    ("proc", DIR),
    ("sys", DIR),
    (".dockerenv", FILE),
    ("etc/resolv.conf", FILE),
    ("etc/hosts", FILE),
    ("etc/hostname", FILE),
    ("dev/console", FILE),
    ("etc/mtab", "/proc/mounts"),
)


class Node:
    """One inode of the index. Hard-linked names share one ``Node``; ``links``
    counts them. Regular files record where their bytes are, not the bytes."""

    __slots__ = (
        "children",
        "gid",
        "kind",
        "layer",
        "links",
        "mode",
        "mtime",
        "offset",
        "rdev",
        "size",
        "target",
        "uid",
        "unpacked_in",
    )

    def __init__(self, kind: str, mode: int, uid: int, gid: int, mtime: int) -> None:
        self.kind = kind
        self.mode = mode  # permission bits with setuid/setgid/sticky
        self.uid = uid
        self.gid = gid
        self.mtime = mtime  # whole seconds, as Docker stamped it
        self.size = 0  # regular files only
        self.layer = -1  # regular files: index of the layer holding the bytes
        self.offset = 0  # ... and their offset in its uncompressed tar
        self.target = ""  # symlinks: the target
        self.rdev = (0, 0)  # devices: major, minor
        self.links = 0
        self.unpacked_in = -1  # the last layer whose own entry made or merged it
        self.children: dict[str, Node] | None = {} if kind == DIR else None


def clamp_mtime(mtime: float) -> int:
    """The whole-second mtime Docker's Chtimes gives a file: before the epoch or past
    Go's int64 nanoseconds it is the epoch; a fraction is dropped."""
    if mtime < 0 or mtime * 1e9 > _CHTIMES_MAX:
        return 0
    return int(mtime)


def name_key(name: str) -> bytes:
    """Bytewise sort key of a path component (Go compares strings as bytes)."""
    return name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One entry of ``docker export``: ``name`` has no leading ``/`` and ends with
    ``/`` for a directory; ``link_to`` is the first name of a hard-linked inode."""

    name: str
    node: Node
    link_to: str | None = None


@dataclass
class ContainerFilesystem:
    """The applied layers plus the init layer, and what could not match nitro-cli."""

    root: Node
    warnings: list[str]

    def export(self) -> Iterator[ExportEntry]:
        """Docker's export walk (see the module docstring)."""
        first_names: dict[int, str] = {}
        assert self.root.children is not None
        stack: list[tuple[str, Node]] = [
            (name, node) for name, node in _sorted_children(self.root.children)
        ]
        while stack:
            path, node = stack.pop()
            if node.children is not None:
                yield ExportEntry(path + "/", node)
                stack.extend((f"{path}/{n}", c) for n, c in _sorted_children(node.children))
                continue
            if node.links > 1:
                first = first_names.get(id(node))
                if first is not None:
                    yield ExportEntry(path, node, link_to=first)
                    continue
                first_names[id(node)] = path
            yield ExportEntry(path, node)


def _sorted_children(children: dict[str, Node]) -> list[tuple[str, Node]]:
    """Children in reverse bytewise order (a stack pops them in order)."""
    return sorted(children.items(), key=lambda item: name_key(item[0]), reverse=True)


def clean_name(name: str) -> list[str]:
    """A tar member name as Docker joins it to the root: ``filepath.Clean``, leading
    ``/`` ignored; ``[]`` is the root. Docker unpacks in a chroot at the root, so
    ``../x`` is ``x`` there too."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return cleaned.split("/") if cleaned not in ("", ".") else []


def _remove(node: Node) -> None:
    """Drop one name of ``node`` (and, for a directory, of everything below it)."""
    stack = [node]
    while stack:
        current = stack.pop()
        current.links -= 1
        if current.children is not None:
            stack.extend(current.children.values())


def _remove_unlisted(directory: Node, path: str, layer: int, links: set[str]) -> bool:
    """Opaque directory: remove whatever below ``path`` this layer did not unpack
    so far (Docker walks the folder and RemoveAlls every path not in its list).
    A name this layer unpacked is a node it made or merged, or one of ``links``
    (the names of its hard links, whose inode may be older), so no set of every
    path is kept."""
    assert directory.children is not None
    changed = False
    for name in list(directory.children):
        child = directory.children[name]
        child_path = f"{path}/{name}" if path else name
        if child.unpacked_in != layer and child_path not in links:
            _remove(child)
            del directory.children[name]
            changed = True
        elif child.children is not None:
            # a kept directory has a header in this layer, whose time wins anyway
            _remove_unlisted(child, child_path, layer, links)
    return changed


class _LayerApplier:
    """Docker 20.10's UnpackLayer for one layer tar, on the index."""

    def __init__(self, fs: ContainerFilesystem, layer: Layer, implicit_dir_mtime: int) -> None:
        self.fs = fs
        self.layer = layer
        self.where = f"layer {layer.index} ({layer.digest})"
        self.implicit_dir_mtime = implicit_dir_mtime
        self.links: set[str] = set()  # names of this layer's hard links
        self.dir_times: list[tuple[list[str], int]] = []  # stamped at the end, by path
        self.touched: dict[int, tuple[str, Node]] = {}
        self.xattrs: tuple[int, str] = (0, "")  # how many entries, the first one

    def apply(self) -> None:
        with self.layer.open_tar() as stream:
            if stream.seek(0, 2) == 0:
                return  # an empty blob: Go's tar reader sees no entries, nor does Docker
            stream.seek(0)
            try:
                with tarfile.open(fileobj=stream, mode="r:") as tar:
                    while (info := tar.next()) is not None:
                        cast(Any, tar).members = []  # the index is ours: keep no TarInfo
                        self.entry(info)
            except (tarfile.TarError, EOFError) as e:
                raise FormatError(f"not a readable layer tar: {e}", path=self.where) from None
        # Docker Chtimes each directory header's PATH once the layer is in: whatever
        # is there by then (a file that replaced the folder too), not a symlink's target
        stamped = [(self.lookup(parts), mtime) for parts, mtime in self.dir_times]
        headed = {id(node) for node, _ in stamped if node is not None}
        late = [p for key, (p, _) in self.touched.items() if key not in headed and p]
        for key, (_, node) in self.touched.items():
            if key not in headed:
                node.mtime = self.implicit_dir_mtime
        for found, mtime in stamped:
            if found is not None and found.kind != SYMLINK:
                found.mtime = mtime
        if self.xattrs[0]:
            self.fs.warnings.append(
                f"{self.where}: {self.xattrs[0]} entries carry extended attributes or file"
                f" capabilities (first {shown(self.xattrs[1])}), which the ramdisk cannot hold"
            )
        if late:
            listed = ", ".join(sorted(p + "/" for p in late)[:5])
            self.fs.warnings.append(
                f"{self.where} changes {len(late)} folder(s) without a header for them"
                f" ({listed}): Docker stamps them with the time of"
                f" `docker load`, so nitro-cli's PCR2 is not reproducible; eifkit uses"
                f" {self.implicit_dir_mtime}"
            )

    def lookup(self, parts: list[str]) -> Node | None:
        node: Node | None = self.fs.root
        for part in parts:
            if node is None or node.children is None:
                return None
            node = node.children.get(part)
        return node

    def touch(self, path: str, node: Node) -> None:
        self.touched.setdefault(id(node), (path, node))

    def parent_of(self, parts: list[str], name: str) -> Node:
        """The directory holding ``parts``, created (0600, as Docker's MkdirAll does)
        where missing."""
        node, path = self.fs.root, ""
        for part in parts[:-1]:
            assert node.children is not None
            child = node.children.get(part)
            if child is None:
                child = Node(DIR, 0o600, 0, 0, self.implicit_dir_mtime)
                child.links = 1
                node.children[part] = child
                self.touch(path, node)
                self.touch(f"{path}/{part}" if path else part, child)
            elif child.children is None:
                raise InputError(
                    f"member {shown(name)}: {part!r} above it is not a directory"
                    " (paths through symlinks or files are not supported)",
                    path=self.where,
                )
            node = child
            path = f"{path}/{part}" if path else part
        return node

    def entry(self, info: tarfile.TarInfo) -> None:
        parts = clean_name(info.name)
        if any(key.startswith("SCHILY.xattr.") for key in info.pax_headers):
            self.xattrs = (self.xattrs[0] + 1, self.xattrs[1] or info.name)
        if not parts:
            return  # the root: not exported
        parent = self.parent_of(parts, info.name)
        assert parent.children is not None
        if parts[0].startswith(AUFS_META) and parts != [OPAQUE]:
            return  # AUFS metadata (.wh..wh.plnk ...): Docker skips it
        base = parts[-1]
        path = "/".join(parts)
        parent_path = "/".join(parts[:-1])
        if base == OPAQUE:
            if _remove_unlisted(parent, parent_path, self.layer.index, self.links):
                self.touch(parent_path, parent)
            return
        if base.startswith(WHITEOUT):
            gone = parent.children.pop(base[len(WHITEOUT) :], None)
            if gone is not None:
                _remove(gone)
                self.touch(parent_path, parent)
            return
        existing = parent.children.get(base)
        if existing is not None and not (existing.children is not None and info.isdir()):
            _remove(existing)
            del parent.children[base]
            self.touch(parent_path, parent)
            existing = None
        if info.islnk():
            self.hard_link(info, parent, base, path)
            self.links.add(path)
        elif info.isdir():
            node = existing or self.add(parent, parent_path, base, DIR, info)
            node.mode, node.uid, node.gid = info.mode & 0o7777, info.uid, info.gid
            node.unpacked_in = self.layer.index
            self.dir_times.append((parts, clamp_mtime(info.mtime)))
        else:
            self.add(parent, parent_path, base, _kind(info, self.where), info)

    def add(
        self, parent: Node, parent_path: str, base: str, kind: str, info: tarfile.TarInfo
    ) -> Node:
        node = Node(kind, info.mode & 0o7777, info.uid, info.gid, clamp_mtime(info.mtime))
        if kind == FILE:
            node.size, node.layer, node.offset = info.size, self.layer.index, info.offset_data
        elif kind == SYMLINK:
            node.target = info.linkname
            if info.mtime < 0:  # Docker's LUtimesNano keeps it; linuxkit would write "-"
                raise InputError(
                    f"symlink {shown(info.name)} has a negative mtime ({info.mtime}):"
                    " nitro-cli would write a corrupt header",
                    path=self.where,
                )
            node.mtime = int(info.mtime)
            node.mode = 0o777
        elif kind in (CHAR, BLOCK):
            node.rdev = (info.devmajor, info.devminor)
        node.links, node.unpacked_in = 1, self.layer.index
        assert parent.children is not None
        parent.children[base] = node
        self.touch(parent_path, parent)
        return node

    def hard_link(self, info: tarfile.TarInfo, parent: Node, base: str, path: str) -> None:
        target_parts = clean_name(info.linkname)
        target = self.lookup(target_parts)
        if target is None:
            raise InputError(
                f"hard link {shown(info.name)} -> {shown(info.linkname)}: no such file",
                path=self.where,
            )
        if target.children is not None:
            raise InputError(
                f"hard link {shown(info.name)} -> {shown(info.linkname)} is a directory",
                path=self.where,
            )
        if target.unpacked_in != self.layer.index and "/".join(target_parts) not in self.links:
            self.fs.warnings.append(
                f"{self.where}: hard link {shown(info.name)} -> {shown(info.linkname)}"
                " to a file only a lower layer has: Docker's vfs driver loads it (eifkit"
                " follows vfs), overlay2 refuses the image, so nitro-cli fails there"
            )
        assert parent.children is not None
        parent.children[base] = target
        target.links += 1
        self.touch("/".join(path.split("/")[:-1]), parent)
        target.uid, target.gid = info.uid, info.gid
        if target.kind != SYMLINK:  # Docker chmods and stamps the inode, not a symlink
            target.mode = info.mode & 0o7777
            target.mtime = clamp_mtime(info.mtime)


def _kind(info: tarfile.TarInfo, where: str) -> str:
    if info.isreg() and not info.issparse():
        return FILE
    if info.issym():
        return SYMLINK
    if info.ischr():
        return CHAR
    if info.isblk():
        return BLOCK
    if info.isfifo():
        return FIFO
    raise InputError(
        f"member {shown(info.name)} has tar type {info.type!r}, which Docker cannot unpack",
        path=where,
    )


def apply_init_layer(root: Node) -> None:
    """Docker's setupInitLayer: unlink every non-directory on the way to each path,
    then create what is missing (parents 0755, files empty 0755), root-owned."""
    for path, what in INIT_LAYER:
        parts = path.split("/")
        node = root
        for i, part in enumerate(parts):
            assert node.children is not None
            child = node.children.get(part)
            if child is not None and child.children is None:
                _remove(child)
                del node.children[part]
                child = None
            if child is None:
                last = i == len(parts) - 1
                kind = DIR if not last or what == DIR else FILE if what == FILE else SYMLINK
                child = Node(kind, 0o777 if kind == SYMLINK else 0o755, 0, 0, 0)
                child.target = what if kind == SYMLINK else ""
                child.links = 1
                node.children[part] = child
            if child.children is None:
                break
            node = child


def container_filesystem(
    image: ContainerImage, *, implicit_dir_mtime: int = 0
) -> ContainerFilesystem:
    """The filesystem of a container created from ``image`` on dockerd 20.10 (vfs).

    ``implicit_dir_mtime`` is the mtime given to directories a layer changes without
    a header for them (Docker: the time of ``docker load``, which nobody can
    reproduce); each such case is also listed in ``warnings``."""
    root = Node(DIR, 0o755, 0, 0, 0)
    fs = ContainerFilesystem(root, [])
    for layer in image.layers:
        _LayerApplier(fs, layer, implicit_dir_mtime).apply()
    apply_init_layer(root)
    return fs
