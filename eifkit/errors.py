"""Exceptions raised by eifkit.

Every error carries enough context to print one line that answers: which file,
which offset or field, what was found and what was expected.
"""

from __future__ import annotations


class EifError(Exception):
    """Base class for every error eifkit raises on bad input."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.offset = offset
        self.field = field

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if self.field is not None:
            where.append(self.field)
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def with_path(self, path: str) -> EifError:
        """Return the same error, naming ``path`` if it names no file yet."""
        if self.path is None:
            self.path = str(path)
        return self


class FormatError(EifError):
    """The bytes of an EIF do not follow the format (structure, sizes, offsets)."""


class MetadataError(EifError):
    """A metadata section or a custom metadata file is not acceptable JSON."""


class SignatureError(EifError):
    """A signature section, certificate or key cannot be used."""


class InputError(EifError):
    """A build input (kernel, ramdisk, cmdline, output path ...) is unusable."""


class LimitError(EifError):
    """Reading an input would take more work or memory than a limit allows (a
    decompression bomb, millions of entries ...). ``limit`` names the limit that was
    reached (e.g. ``max_bytes``) so that a front end can say how to raise it."""

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        path: str | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, path=path, offset=offset, field=field)
        self.limit = limit


SHOWN_LIMIT = 160


def shown(text: str | bytes, limit: int = SHOWN_LIMIT) -> str:
    """``text`` quoted for an error line, cut to ``limit`` characters with the full
    length said: a name from a hostile file can be 4 KiB of anything."""
    quoted = repr(text)
    if len(quoted) <= limit:
        return quoted
    return f"{quoted[:limit]}… ({len(text)} {'bytes' if isinstance(text, bytes) else 'characters'})"


class ImageError(EifError):
    """A container image (a ``docker save`` archive, an OCI layout or archive) cannot
    be read: a missing or corrupt blob, a digest that does not match, JSON that is too
    large or not what the format says, an image or platform that is not there."""
