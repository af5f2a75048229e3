"""The metadata section: JSON written exactly as AWS's eif_build writes it.

``{"ImageName":…,"ImageVersion":…,"BuildMetadata":{"BuildTime":…,"BuildTool":…,
"BuildToolVersion":…,"OperatingSystem":…,"KernelVersion":…},"DockerInfo":…,
"CustomMetadata":…}``, compact, fields in this order, custom metadata re-serialized
through serde_json's rules (see :mod:`eifkit.jsonfmt`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from . import jsonfmt
from .errors import MetadataError
from .inputs import KERNEL_CONFIG_FILE_LIMIT, read_input_file

MAX_CUSTOM_METADATA_FILE_SIZE = 4096
# Parsing a metadata section read from an EIF: more than this is not read.
METADATA_PARSE_LIMIT = 16 << 20
# eif_build's metadata is a few hundred bytes (custom metadata at most 4096, nitro-cli's
# DockerInfo a few KiB); a section with more values than this is not parsed.
METADATA_MAX_VALUES = 100_000
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class BuildInfo:
    build_time: str
    build_tool: str
    build_tool_version: str
    img_os: str
    img_kernel: str


@dataclass(frozen=True)
class Metadata:
    """The parsed metadata section."""

    image_name: str
    image_version: str
    build_info: BuildInfo
    docker_info: Any = None
    custom: Any = None

    def to_json_value(self) -> jsonfmt.OrderedObject:
        return jsonfmt.OrderedObject(
            ImageName=self.image_name,
            ImageVersion=self.image_version,
            BuildMetadata=jsonfmt.OrderedObject(
                BuildTime=self.build_info.build_time,
                BuildTool=self.build_info.build_tool,
                BuildToolVersion=self.build_info.build_tool_version,
                OperatingSystem=self.build_info.img_os,
                KernelVersion=self.build_info.img_kernel,
            ),
            DockerInfo=self.docker_info,
            CustomMetadata=self.custom,
        )

    def to_bytes(self) -> bytes:
        """The section bytes, as serde_json::to_vec writes them."""
        return jsonfmt.dumps(self.to_json_value()).encode("utf-8")


def load_custom_metadata(path: str | os.PathLike[str]) -> Any:
    """Read a user's custom metadata file (at most 4096 bytes of JSON), as eif_build does."""
    p = os.fspath(path)
    data = read_input_file(p, "custom metadata", MAX_CUSTOM_METADATA_FILE_SIZE, error=MetadataError)
    try:
        return jsonfmt.loads(data)
    except MetadataError as e:
        raise e.with_path(p) from None


def rust_lines(data: bytes) -> list[bytes]:
    """Lines as Rust's ``BufRead::lines()`` gives them: only ``\\n`` ends a line, and one
    ``\\r`` before that newline is dropped (any other ``\\r`` stays); no empty last line."""
    *ended, last = data.split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in ended]
    return [*lines, last] if last else lines


def parse_kernel_config(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(OperatingSystem, KernelVersion) from line 3 of a kernel .config, as eif_build reads it.

    ``# Linux/x86_64 6.1.0-18-amd64 Kernel Configuration`` -> ("Linux", "6.1.0"):
    the line is split at spaces, slashes and dashes; words 1 and 3 are taken. Lines
    are split as eif_build splits them (Rust's ``lines()``: only a newline ends a line),
    and line 3 must be UTF-8, as eif_build requires.
    """
    p = os.fspath(path)
    data = read_input_file(p, "kernel config", KERNEL_CONFIG_FILE_LIMIT, error=MetadataError)
    lines = rust_lines(data)
    if len(lines) < 3:
        raise MetadataError(
            f"kernel config has fewer than 3 lines (found {len(lines)}; only a newline "
            "ends a line)",
            path=p,
        )
    try:
        line = lines[2].decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataError(
            f"line 3 of the kernel config is not UTF-8 (byte {lines[2][e.start]:#04x} at "
            f"column {e.start + 1})",
            path=p,
        ) from None
    words = re.split(r"[ /-]", line)
    img_os = words[1] if len(words) > 1 else UNKNOWN
    img_kernel = words[3] if len(words) > 3 else UNKNOWN
    return img_os, img_kernel


def parse_metadata_section(data: bytes) -> Metadata:
    """Parse a metadata section into its fields; MetadataError if it is not of the schema."""
    value = jsonfmt.loads(data, max_values=METADATA_MAX_VALUES)
    if not isinstance(value, dict):
        raise MetadataError("metadata section is not a JSON object")

    def need_str(obj: dict[str, Any], key: str, where: str) -> str:
        v = obj.get(key)
        if not isinstance(v, str):
            raise MetadataError(f"metadata field {where}{key} is missing or not a string")
        return v

    bm = value.get("BuildMetadata")
    if not isinstance(bm, dict):
        raise MetadataError("metadata field BuildMetadata is missing or not an object")
    for key in ("DockerInfo", "CustomMetadata"):
        if key not in value:
            raise MetadataError(f"metadata field {key} is missing")
    return Metadata(
        image_name=need_str(value, "ImageName", ""),
        image_version=need_str(value, "ImageVersion", ""),
        build_info=BuildInfo(
            build_time=need_str(bm, "BuildTime", "BuildMetadata."),
            build_tool=need_str(bm, "BuildTool", "BuildMetadata."),
            build_tool_version=need_str(bm, "BuildToolVersion", "BuildMetadata."),
            img_os=need_str(bm, "OperatingSystem", "BuildMetadata."),
            img_kernel=need_str(bm, "KernelVersion", "BuildMetadata."),
        ),
        docker_info=value["DockerInfo"],
        custom=value["CustomMetadata"],
    )
