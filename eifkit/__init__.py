"""eifkit: read, write, measure and check AWS Nitro Enclaves EIF v4 files."""

from __future__ import annotations

from ._version import __version__
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
