"""Inputs a user names: small files read whole (with a size cap), text arguments that
must be UTF-8, and SOURCE_DATE_EPOCH. One home for each, so every command refuses the
same things with the same one-line message.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from .errors import EifError, InputError

# Caps for the small files users name. A file over its cap is refused, never cut.
CMDLINE_FILE_LIMIT = 1 << 20
CERTIFICATE_FILE_LIMIT = 1 << 20
PRIVATE_KEY_FILE_LIMIT = 1 << 20
SIGNATURE_FILE_LIMIT = 1 << 20
PCRS_FILE_LIMIT = 1 << 20
KERNEL_CONFIG_FILE_LIMIT = 16 << 20


def read_input_file(
    path: str | os.PathLike[str],
    what: str,
    limit: int,
    *,
    error: type[EifError] = InputError,
) -> bytes:
    """The whole of a small file the user named, at most ``limit`` bytes.

    Raises ``error`` (an :class:`InputError` by default) naming the file when it is
    missing, a directory, unreadable or larger than ``limit``; a larger file is
    refused, not truncated. ``what`` names the file in messages ("cmdline").
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise error(f"{what} file is {st.st_size} bytes, at most {limit} allowed", path=p)
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{what} file not found", path=p) from None
    except IsADirectoryError:
        raise error(f"{what} must be a file, found a directory", path=p) from None
    except OSError as e:
        raise error(f"cannot read {what} file: {e.strerror or e}", path=p) from None
    if len(data) > limit:
        raise error(f"{what} file is more than {limit} bytes, at most {limit} allowed", path=p)
    return data


def utf8_text(value: str, what: str) -> str:
    """``value`` if it can be stored as UTF-8; an InputError naming ``what`` if not.

    Arguments that were not UTF-8 on the command line reach Python with the bad bytes
    as lone surrogates (PEP 383); they cannot be written into an EIF's cmdline or JSON.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = value[e.start]
        shown = f"byte {ord(bad) - 0xDC00:#04x}" if 0xDC80 <= ord(bad) <= 0xDCFF else repr(bad)
        raise InputError(
            f"{what} is not valid UTF-8 ({shown} at character {e.start})", field=what
        ) from None
    return value


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int | None:
    """SOURCE_DATE_EPOCH in seconds when it is set (reproducible builds), else None."""
    env = os.environ if environ is None else environ
    sde = env.get("SOURCE_DATE_EPOCH")
    if not sde:
        return None
    try:
        return int(sde)
    except ValueError:
        raise InputError(
            f"SOURCE_DATE_EPOCH is {sde!r}, expected an integer number of seconds",
            field="SOURCE_DATE_EPOCH",
        ) from None


MAX_CPIO_MTIME = 0xFFFFFFFF


def archive_mtime(value: int | None, environ: Mapping[str, str] | None = None) -> int:
    """The mtime of every entry of a reproducible cpio: ``value``, else SOURCE_DATE_EPOCH,
    else 0; it must fit the cpio field."""
    if value is None:
        value = source_date_epoch(environ) or 0
        what = "SOURCE_DATE_EPOCH"
    else:
        what = "--mtime"
    if not 0 <= value <= MAX_CPIO_MTIME:
        raise InputError(f"{what} {value} does not fit the cpio field (0..{MAX_CPIO_MTIME})")
    return value
