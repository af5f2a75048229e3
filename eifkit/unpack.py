"""Unpack a cpio ramdisk into a new folder, without ever following a link out of it.

The archive is hostile by assumption. Every member's path is checked before anything
is created: no absolute path, no ``..``, no NUL, nothing through a symlink an earlier
member made. Nothing is ever done *through* a symlink: files are created with
``O_NOFOLLOW | O_EXCL`` after whatever stood at their path is removed (a symlink is
unlinked, never followed), and permissions and times are set through a descriptor of
the very file or directory created (``fchmod``/``futimes``), so a symlink planted by
an earlier member, e.g. ``victim -> /etc`` followed by a directory entry ``victim``,
cannot redirect a ``chmod`` or ``utime``. A symlink whose target would lead out of the
folder (absolute, or climbing past the ramdisk's root) is written relative to its own
folder, as the enclave resolves it (``bin/sh -> /bin/busybox`` becomes ``busybox``), so
that nothing that later follows a link leaves the folder. Set-user/group-ID bits are dropped; device
nodes, FIFOs and sockets are not created (they are listed instead); a symlink target
longer than PATH_MAX (which the kernel skips) is not created either.

Work is bounded by :class:`~eifkit.limits.ExpansionLimits`; the folder is filled under
a temporary name beside it and renamed only when the whole archive unpacked, so a
failure (a damaged archive, a limit, a signal) leaves no half-unpacked folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import FormatError, InputError, shown
from .inspect.initramfs import Entry, iter_members
from .limits import DEFAULT_LIMITS, PATH_MAX, ExpansionLimits
from .sources import Source, open_source

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_KEEP_MODE = 0o1777  # permission bits and sticky; never set-user/group-ID
MAX_DIRECTORY_FIXUPS = 100_000
MAX_NOTES = 1_000


def member_parts(name: str) -> list[str]:
    """The components of member ``name`` (``.`` and empty ones dropped), or FormatError
    if it would land outside the folder: absolute, ``..``, NUL."""
    if "\0" in name:
        raise FormatError(f"member {shown(name)} has a NUL byte in its name", field="cpio")
    if name.startswith("/"):
        raise FormatError(f"member {shown(name)} has an absolute path", field="cpio")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise FormatError(f"member {shown(name)} goes up with '..'", field="cpio")
    if not parts:
        raise FormatError(f"member {shown(name)} has no name", field="cpio")
    return parts


def member_path(root: str, name: str, *, make_parents: bool = False) -> str:
    """Where member ``name`` goes below ``root``, or FormatError if it would land
    outside it (see :func:`member_parts`, or through a symlink already in the folder).
    ``make_parents`` creates the missing folders on the way, one at a time (a path of
    2,000 components is fine: nothing recurses)."""
    parts = member_parts(name)
    path = root
    for p in parts[:-1]:
        path = os.path.join(path, p)
        if os.path.islink(path):
            raise FormatError(
                f"member {shown(name)} would be written through the symlink "
                f"{shown(os.path.relpath(path, root))}",
                field="cpio",
            )
        if make_parents and not os.path.lexists(path):
            os.mkdir(path)
    return os.path.join(path, parts[-1])


def contained_link_target(parts: list[str], target: str) -> str:
    """A symlink's target as the enclave resolves it (an absolute target starts at the
    ramdisk's root, ``..`` stops at the root), written relative to the link's folder in
    normal form: ``..`` only first, to climb the link's own folders (real directories:
    nothing is written through a symlink), then names. Every link made so stays inside
    the unpack folder, even through other links (``s -> .`` then ``l -> s/../etc`` would
    otherwise leave it): ``bin/sh -> /bin/busybox`` becomes ``busybox``."""
    folder = parts[:-1]
    resolved = [] if target.startswith("/") else list(folder)
    for p in target.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(p)
    common = 0
    while common < min(len(folder), len(resolved)) and folder[common] == resolved[common]:
        common += 1
    relative = [".."] * (len(folder) - common) + resolved[common:]
    return "/".join(relative) or "."


def _clear(path: str, *, keep_directory: bool) -> bool:
    """Make room at ``path``: unlink whatever non-directory is there (a symlink is
    removed, never followed). A real directory stays; returns False if one is in the
    way of a non-directory."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if stat.S_ISDIR(st.st_mode):
        return keep_directory
    os.unlink(path)
    return True


@dataclass
class _Unpacking:
    root: str
    entries: int = 0
    not_created: list[str] = field(default_factory=list)
    # Directories whose final mode and time are set last (children first); past
    # MAX_DIRECTORY_FIXUPS a directory gets its mode at once and keeps the time of
    # unpacking, so memory does not grow with a hostile ramdisk's directory count.
    directories: list[tuple[str, int, int]] = field(default_factory=list)
    times_not_restored: int = 0
    notes_left_out: int = 0

    def note(self, text: str) -> None:
        """Something not created, and why (the first MAX_NOTES of them are kept)."""
        if len(self.not_created) < MAX_NOTES:
            self.not_created.append(text)
        else:
            self.notes_left_out += 1

    open_file: tuple[int, Entry] | None = None

    def file_sink(self, entry: Entry) -> Callable[[bytes], None] | None:
        if not stat.S_ISREG(entry.mode):
            return None
        path = member_path(self.root, entry.name, make_parents=True)
        if not _clear(path, keep_directory=False):
            self.note(f"{entry.name} (file in the place of a directory)")
            return None
        fd = os.open(path, _CREATE, 0o600)
        self.open_file = (fd, entry)

        def write(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

        return write

    def finish_file(self) -> None:
        if self.open_file is None:
            return
        fd, entry = self.open_file
        self.open_file = None
        try:
            os.fchmod(fd, entry.mode & _KEEP_MODE)
            os.utime(fd, (entry.mtime, entry.mtime))
        finally:
            os.close(fd)

    def add(self, entry: Entry, link_target: bytes | None) -> None:
        self.entries += 1
        path = member_path(self.root, entry.name, make_parents=True)
        if stat.S_ISDIR(entry.mode):
            if not _clear(path, keep_directory=True):  # pragma: no cover - keep_directory
                return
            if not os.path.isdir(path):
                os.mkdir(path)
            if len(self.directories) < MAX_DIRECTORY_FIXUPS:
                self.directories.append((path, entry.mode & _KEEP_MODE, entry.mtime))
            else:
                _set_directory(path, entry.mode & _KEEP_MODE, None)
                self.times_not_restored += 1
        elif stat.S_ISLNK(entry.mode):
            if link_target is None:
                self.note(f"{entry.name} (symlink target of {entry.size} bytes, over PATH_MAX)")
                return
            if b"\0" in link_target:
                raise FormatError(
                    f"symlink {shown(entry.name)} has a NUL byte in its target", field="cpio"
                )
            if not link_target:
                self.note(f"{entry.name} (symlink with an empty target)")
                return
            if not _clear(path, keep_directory=False):
                self.note(f"{entry.name} (symlink in the place of a directory)")
                return
            target = os.fsdecode(link_target)
            os.symlink(contained_link_target(member_parts(entry.name), target), path)
        elif not stat.S_ISREG(entry.mode):
            self.note(f"{entry.name} ({entry.kind} {entry.rdevmajor}:{entry.rdevminor})")

    def finish_directories(self) -> None:
        """Directory modes and times last (children first), through a descriptor of the
        directory itself: a symlink now at its path is not followed."""
        for path, mode, mtime in reversed(self.directories):
            _set_directory(path, mode, mtime)


def _set_directory(path: str, mode: int, mtime: int | None) -> None:
    """Mode (owner rwx kept, so it stays usable) and time of a directory this module
    made, through its own descriptor; nothing if something else stands there now."""
    try:
        fd = os.open(path, _OPEN_DIR)
    except OSError:
        return  # replaced by a later member (a symlink ...): nothing to set
    try:
        os.fchmod(fd, mode | 0o700)
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def remove_tree(root: str) -> None:
    """Remove a folder this module made, never following a link and never listing a
    whole directory at once (a hostile ramdisk can hold a million files in one;
    ``shutil.rmtree`` would hold all their names)."""
    pending = [root]
    while pending:
        folder = pending[-1]
        fd = os.open(folder, _OPEN_DIR)
        subfolder = None
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        subfolder = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
        finally:
            os.close(fd)
        if subfolder is not None:
            pending.append(os.path.join(folder, subfolder))
        else:
            os.rmdir(folder)
            pending.pop()


@contextlib.contextmanager
def _new_folder(folder: str) -> Iterator[str]:
    """A temporary folder beside ``folder``, renamed to it when the block succeeds and
    removed (without following links) when it fails."""
    if os.path.lexists(folder):
        raise InputError("unpack folder already exists", path=folder)
    parent = os.path.dirname(os.path.abspath(folder))
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        os.rename(tmp, folder)
    except BaseException:
        try:
            remove_tree(tmp)
        except OSError:  # a path too long to open, say: the library's way, with fds
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def unpack_cpio(
    source: Source, folder: str, *, limits: ExpansionLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Unpack a cpio (plain or gzip) into the new folder ``folder`` in one streaming
    pass. Returns the folder, the member count and what was not created (and why)."""
    with _new_folder(folder) as tmp:
        job = _Unpacking(os.path.realpath(tmp))
        try:
            with open_source(source) as f:
                for m in iter_members(
                    f,
                    keep_data=lambda e: stat.S_ISLNK(e.mode),
                    keep_limit=PATH_MAX,
                    sink=job.file_sink,
                    limits=limits,
                ):
                    job.finish_file()
                    job.add(m.entry, m.data)
        finally:
            job.finish_file()
        job.finish_directories()
    not_created = list(job.not_created)
    if job.notes_left_out:
        not_created.append(f"{job.notes_left_out} more members, not listed")
    if job.times_not_restored:
        not_created.append(
            f"the times of {job.times_not_restored} directories (past the first "
            f"{MAX_DIRECTORY_FIXUPS:,}; they keep the time of unpacking)"
        )
    return {"folder": folder, "entries": job.entries, "not_created": not_created}
