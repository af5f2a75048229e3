"""The files of a container image's container: a directory or a tar archive.

Both ``docker save`` archives and OCI layouts are a few named files (``index.json``,
``manifest.json``, ``blobs/sha256/<hex>``, ``<id>/layer.tar``). A :class:`BlobStore`
finds one by its relative name and says where its bytes are (a
:class:`~eifkit.container.blobs.BlobLocation`), without reading them.
:class:`DirectoryStore` is a folder; :class:`TarStore` is an uncompressed tar whose
member headers are listed once (about 200 bytes of memory a member; a ``docker save``
archive has a few per layer), members' data never copied.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from typing import NamedTuple

from ..errors import ImageError, LimitError, shown
from .blobs import BlobLocation

# A docker-save archive holds 3-5 members per layer; an OCI archive, one per blob.
MAX_ARCHIVE_MEMBERS = 200_000
# Links between members (Docker 25+ may write layer.tar as a link to a blob) are
# followed this many times at most.
MAX_LINK_DEPTH = 8
# Member types whose data is one run of bytes (not GNU sparse files).
_CONTIGUOUS_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


def check_member_name(name: object, where: str) -> str:
    """``name`` normalised (no ``./``), if it is a relative path that stays inside the
    archive or folder; an ImageError naming ``where`` if it is absolute, has ``..``,
    a NUL, or is not a string."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise ImageError(f"file name {shown(str(name))} is not a relative path", path=where)
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../") or ".." in name.split("/"):
        raise ImageError(f"file name {shown(name)} leaves the image (absolute or '..')", path=where)
    return norm


class BlobStore:
    """Files of an image container, found by relative name."""

    path: str

    def exists(self, name: str) -> bool:
        """Whether the container holds a regular file ``name``."""
        raise NotImplementedError

    def locate(self, name: str, what: str) -> BlobLocation:
        """Where the bytes of file ``name`` are; an ImageError naming ``what`` (e.g.
        "layer 2") if it is missing."""
        raise NotImplementedError


class DirectoryStore(BlobStore):
    """An image container that is a folder (an OCI layout, an unpacked docker save)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _file(self, name: str) -> str:
        return os.path.join(self.path, check_member_name(name, self.path))

    def exists(self, name: str) -> bool:
        return os.path.isfile(self._file(name))

    def locate(self, name: str, what: str) -> BlobLocation:
        full = self._file(name)
        try:
            st = os.stat(full)
        except OSError:
            raise ImageError(f"{what}: {shown(name)} is missing", path=self.path) from None
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{what}: {shown(name)} is not a regular file", path=self.path)
        return BlobLocation(full, 0, st.st_size, full)


class _Member(NamedTuple):
    """What is kept of one archive member: its type (tarfile's REGTYPE, LNKTYPE,
    SYMTYPE ...), where its data is, and a link's target."""

    type: bytes
    offset: int
    size: int
    linkname: str


class TarStore(BlobStore):
    """An image container that is an uncompressed tar archive (``docker save``, an OCI
    archive). The member headers are read once (about 200 bytes of memory a member,
    at most ``MAX_ARCHIVE_MEMBERS``); data is located, never copied."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._members: dict[str, _Member] = {}
        try:
            file_size = os.path.getsize(path)
            with tarfile.open(path, mode="r:") as tar:
                # tarfile keeps every TarInfo it reads in TarFile.members (an attribute
                # typeshed does not declare); emptying it after each header keeps only
                # the small _Member tuples.
                kept: list[tarfile.TarInfo] = tar.members  # type: ignore[attr-defined]
                while (info := tar.next()) is not None:
                    kept.clear()
                    if len(self._members) >= MAX_ARCHIVE_MEMBERS:
                        raise LimitError(
                            f"has more than {MAX_ARCHIVE_MEMBERS} members",
                            limit="max_archive_members",
                            path=path,
                        )
                    if (
                        info.type in _CONTIGUOUS_FILE_TYPES
                        and info.offset_data + info.size > file_size
                    ):
                        raise ImageError(
                            f"member {shown(info.name)} ends at byte "
                            f"{info.offset_data + info.size}, past the end of the archive "
                            f"({file_size} bytes)",
                            path=path,
                        )
                    member = _Member(info.type, info.offset_data, info.size, info.linkname)
                    self._members[posixpath.normpath(info.name)] = member
        except (tarfile.TarError, EOFError) as e:
            raise ImageError(
                f"not a readable tar archive: {shown(str(e), 120)}", path=path
            ) from None
        except OSError as e:
            raise ImageError(f"cannot read: {e.strerror or e}", path=path) from None

    def _member(self, name: str, what: str) -> _Member | None:
        """The regular file ``name`` names, following links inside the archive."""
        norm = check_member_name(name, f"{self.path} ({what})")
        for _ in range(MAX_LINK_DEPTH):
            member = self._members.get(norm)
            if member is None or member.type in _CONTIGUOUS_FILE_TYPES:
                return member
            if member.type == tarfile.LNKTYPE:
                norm = posixpath.normpath(member.linkname)
            elif member.type == tarfile.SYMTYPE:
                norm = posixpath.join(posixpath.dirname(norm), member.linkname)
            else:
                return None
            norm = check_member_name(posixpath.normpath(norm), f"{self.path} ({what})")
        raise LimitError(
            f"{what}: {shown(name)} links more than {MAX_LINK_DEPTH} times",
            limit="max_link_depth",
            path=self.path,
        )

    def exists(self, name: str) -> bool:
        return self._member(name, name) is not None

    def locate(self, name: str, what: str) -> BlobLocation:
        member = self._member(name, what)
        if member is None:
            raise ImageError(f"{what}: {shown(name)} is missing from the archive", path=self.path)
        return BlobLocation(self.path, member.offset, member.size, f"{self.path}!{name}")


def open_store(path: str) -> BlobStore:
    """The store for ``path``: a folder, or a file that must be an uncompressed tar."""
    if os.path.isdir(path):
        return DirectoryStore(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"\x1f\x8b") or head == b"\x28\xb5\x2f\xfd":
        raise ImageError(
            "is a compressed archive; decompress it first (e.g. gunzip) so that layers "
            "can be read in place",
            path=path,
        )
    return TarStore(path)
