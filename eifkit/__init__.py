"""eifkit: read, write, measure and check AWS Nitro Enclaves EIF v4 files.

The names below are imported on first use (PEP 562), so that ``import eifkit`` (and
every command-line run) pays only for the modules it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .build import BuildFinding, BuildInputs, BuiltImage, build_image, make_image
    from .errors import EifError, FormatError, InputError, MetadataError, SignatureError
    from .format import Arch, EifHeader, SectionHeader, SectionType
    from .image import EifImage, Section
    from .measure import MeasureEngine, Measurements
    from .metadata import Metadata, parse_metadata_section
    from .reader import read
    from .sources import BytesSource, FileRange, FileSource
    from .stream import measure_image
    from .writer import WriteResult, write

_HOMES = {
    "build": ("BuildFinding", "BuildInputs", "BuiltImage", "build_image", "make_image"),
    "errors": ("EifError", "FormatError", "InputError", "MetadataError", "SignatureError"),
    "format": ("Arch", "EifHeader", "SectionHeader", "SectionType"),
    "image": ("EifImage", "Section"),
    "measure": ("MeasureEngine", "Measurements"),
    "metadata": ("Metadata", "parse_metadata_section"),
    "reader": ("read",),
    "sources": ("BytesSource", "FileRange", "FileSource"),
    "stream": ("measure_image",),
    "writer": ("WriteResult", "write"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'eifkit' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Arch",
    "BuildFinding",
    "BuildInputs",
    "BuiltImage",
    "BytesSource",
    "EifError",
    "EifHeader",
    "EifImage",
    "FileRange",
    "FileSource",
    "FormatError",
    "InputError",
    "MeasureEngine",
    "Measurements",
    "Metadata",
    "MetadataError",
    "Section",
    "SectionHeader",
    "SectionType",
    "SignatureError",
    "WriteResult",
    "__version__",
    "build_image",
    "make_image",
    "measure_image",
    "parse_metadata_section",
    "read",
    "write",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
