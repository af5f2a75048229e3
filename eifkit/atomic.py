"""Output files that appear whole or not at all.

Every file eifkit writes is written to a temporary file in the target's folder and
renamed over the target only when complete; on any failure the temporary file is
removed, so neither a half-written target nor a stray temporary file is left. A
failed write raises ``OSError`` naming the target (not the temporary file), which the
CLI prints as one line.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
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


def check_output_path(path: str | os.PathLike[str]) -> str:
    """The target as a string, once its folder exists and it is not a folder itself."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InputError("output folder does not exist", path=folder)
    if os.path.isdir(target):
        raise InputError("output path is a directory", path=target)
    return target


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[AtomicFile]:
    """Create a temporary file beside ``path``; when the block ends without an error,
    give it the usual permissions (0666 less the umask), optionally flush it to the
    disk, and rename it to ``path``. On an error, remove it."""
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if not closed:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_file_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a small file whole or not at all."""
    with atomic_output(path) as out, out.open() as f:
        f.write(data)
