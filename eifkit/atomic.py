"""Output files that appear whole or not at all, and never destroy an input.

Every file eifkit writes is written to a temporary file in the target's folder and
renamed over the target only when complete; on any failure (an interrupting signal
included) the temporary file is removed, so neither a half-written target nor a stray
temporary file is left. A failed write raises ``OSError`` naming the target (not the
temporary file), which the CLI prints as one line.

This is also the one home of the output-path rules every writing command follows:
an output may not be one of the command's inputs (same path, another spelling, a
hard link or a symlink to it) nor lie inside an input folder; a symlink as output
has its target replaced (the link stays a link); replacing an existing file keeps
its permission bits, and its owner where the process may set it.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import InputError


def write_error(e: OSError, name: str) -> OSError:
    """``e``, raised by writing ``name``, as an error that names it."""
    return OSError(e.errno, f"cannot write: {e.strerror or e}", name)


class _NamedWriter(io.RawIOBase):
    """Unbuffered writes to a descriptor it does not own; errors name the target."""

    def __init__(self, fd: int, name: str) -> None:
        super().__init__()
        self._fd, self._name = fd, name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: object) -> int:
        try:
            return os.write(self._fd, data)  # type: ignore[arg-type]
        except OSError as e:
            raise write_error(e, self._name) from None

    def close(self) -> None:  # the descriptor belongs to AtomicFile
        super().close()


@dataclass(frozen=True)
class AtomicFile:
    """The temporary file behind an :func:`atomic_output`: write through ``fd`` or
    :meth:`open`; do not close ``fd``."""

    fd: int
    tmp: str
    target: str

    def open(self, buffer_size: int = 1 << 20) -> BinaryIO:
        """A buffered binary file object over ``fd`` (closing it leaves ``fd`` open)."""
        return io.BufferedWriter(_NamedWriter(self.fd, self.target), buffer_size)


InputPaths = Iterable[str | os.PathLike[str] | None]


def check_output_not_input(output: str | os.PathLike[str], inputs: InputPaths) -> None:
    """Refuse an output that is one of ``inputs`` or lies inside an input folder.

    "Is" means the same file, however spelled: the same path, ``./`` or ``..`` forms,
    a hard link, or a symlink on either side. ``None`` entries are ignored, so callers
    can pass optional inputs as they are.
    """
    out = os.fspath(output)
    try:
        out_stat: os.stat_result | None = os.stat(out)
    except OSError:
        out_stat = None
    out_real = os.path.realpath(out)
    for given in inputs:
        if given is None:
            continue
        name = os.fspath(given)
        try:
            in_stat = os.stat(name)
        except OSError:
            continue
        if out_stat is not None and os.path.samestat(out_stat, in_stat):
            raise InputError(
                f"output path is also an input file ({name}); refusing to overwrite it", path=out
            )
        if stat.S_ISDIR(in_stat.st_mode):
            folder = os.path.realpath(name)
            if os.path.commonpath([folder, out_real]) == folder:
                raise InputError(
                    f"output path is inside the input folder {name}; refusing to write there",
                    path=out,
                )


def check_output_path(path: str | os.PathLike[str]) -> str:
    """The path to write: ``path`` itself, or the file a symlink at ``path`` leads to;
    checked that its folder exists and that it is not a folder itself."""
    given = os.fspath(path)
    target = os.path.realpath(given) if os.path.islink(given) else given
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InputError("output folder does not exist", path=folder)
    if os.path.isdir(target):
        raise InputError("output path is a directory", path=given)
    return target


def _final_mode(tmp: str, target: str) -> None:
    """Give ``tmp`` the permissions ``target`` has now (and its owner where allowed),
    or, for a new file, 0666 less the umask."""
    try:
        old = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
    mine = os.stat(tmp)
    if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
        # Only root may give a file away; anyone may keep a group they belong to.
        with contextlib.suppress(PermissionError):
            os.chown(tmp, old.st_uid, old.st_gid)
        # chown clears set-id bits: put the mode back.
        os.chmod(tmp, stat.S_IMODE(old.st_mode))


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, fsync: bool = False, inputs: InputPaths = ()
) -> Iterator[AtomicFile]:
    """Create a temporary file beside ``path`` (or beside the file a symlink at ``path``
    leads to); when the block ends without an error, give it the permissions of the
    file it replaces (a new file: 0666 less the umask), optionally flush it to the disk,
    and rename it into place. On an error, remove it. ``inputs`` are the paths the
    command reads: an output that is one of them, or inside one, is refused first."""
    check_output_not_input(path, inputs)
    target = check_output_path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.",
            suffix=".tmp",
            dir=os.path.dirname(os.path.abspath(target)),
        )
    except OSError as e:
        raise InputError(f"cannot create the output file: {e.strerror}", path=target) from None
    closed = False
    try:
        yield AtomicFile(fd, tmp, target)
        try:
            if fsync:
                os.fsync(fd)
        except OSError as e:
            raise write_error(e, target) from None
        closed = True
        os.close(fd)
        _final_mode(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        if not closed:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_file_atomically(
    path: str | os.PathLike[str], data: bytes, *, inputs: InputPaths = ()
) -> None:
    """Write a small file whole or not at all (``inputs`` as for :func:`atomic_output`)."""
    with atomic_output(path, inputs=inputs) as out, out.open() as f:
        f.write(data)
