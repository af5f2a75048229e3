"""Turn build inputs (kernel, ramdisks, cmdline, metadata values) into an EifImage."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._version import __version__
from .errors import InputError
from .format import DEFAULT_CPUS, DEFAULT_MEMORY, MAX_SECTIONS, Arch, EifHeader, SectionType
from .image import EifImage, Section
from .metadata import BuildInfo, Metadata
from .signing.signers import Signer, make_signature_section
from .sources import BytesSource, DeferredSource, FileSource

# eif_build's own defaults, used by --eif-build-compat.
EIF_BUILD_TOOL = "eif_build"
EIF_BUILD_TOOL_VERSION = "0.3.1"
DEFAULT_IMAGE_VERSION = "1.0"
DEFAULT_IMG_OS = "OS"
DEFAULT_IMG_KERNEL = "kernel"


def rfc3339(moment: _dt.datetime) -> str:
    """RFC 3339 as chrono's ``to_rfc3339`` writes a UTC time: ``2024-06-21T12:00:00+00:00``.

    Sub-second digits appear only when non-zero (chrono prints 9 digits for
    nanoseconds; Python has microseconds, printed as chrono prints them: 3, 6 or 9).
    """
    moment = moment.astimezone(_dt.UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    us = moment.microsecond
    if us:
        ns = us * 1000
        if ns % 1_000_000 == 0:
            base += f".{ns // 1_000_000:03d}"
        elif ns % 1000 == 0:
            base += f".{ns // 1000:06d}"
        else:
            base += f".{ns:09d}"
    return base + "+00:00"


def default_build_time(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds), in RFC 3339."""
    env = os.environ if environ is None else environ
    sde = env.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            seconds = int(sde)
        except ValueError:
            raise InputError(
                f"SOURCE_DATE_EPOCH is {sde!r}, expected an integer number of seconds",
                field="SOURCE_DATE_EPOCH",
            ) from None
        return rfc3339(_dt.datetime.fromtimestamp(seconds, _dt.UTC))
    return rfc3339(_dt.datetime.now(_dt.UTC).replace(microsecond=0))


def check_build_time(value: str) -> str:
    """Refuse a --build-time that is not an RFC 3339 date and time (with an offset)."""
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value.upper():
        raise InputError(
            f"build time {value!r} is not an RFC 3339 time such as 2024-06-21T12:00:00+00:00",
            field="build-time",
        )
    return value


def cmdline_bytes(cmdline: str | bytes) -> bytes:
    """The cmdline section's bytes: the string as UTF-8, no trailing NUL, no NUL inside."""
    data = cmdline.encode("utf-8") if isinstance(cmdline, str) else bytes(cmdline)
    pos = data.find(b"\0")
    if pos >= 0:
        raise InputError(
            f"cmdline contains a NUL byte at position {pos}; the kernel would ignore "
            "everything after it",
            field="cmdline",
        )
    return data


@dataclass(frozen=True)
class BuildInputs:
    """Everything ``eifkit build`` needs. Paths are opened when the image is made."""

    kernel: str
    ramdisks: Sequence[str]
    cmdline: str | bytes
    arch: Arch = Arch.X86_64
    name: str | None = None
    version: str | None = None
    custom_metadata: Any = None
    build_time: str | None = None
    build_tool: str = "eifkit"
    build_tool_version: str = __version__
    img_os: str = DEFAULT_IMG_OS
    img_kernel: str = DEFAULT_IMG_KERNEL
    default_mem: int = DEFAULT_MEMORY
    default_cpus: int = DEFAULT_CPUS
    extra_sections: Sequence[Section] = field(default=())
    # Signing: the certificate's file bytes (stored verbatim) and a signer for PCR0.
    signing_certificate: bytes | None = None
    signer: Signer | None = None

    def metadata(self) -> Metadata:
        name = self.name if self.name is not None else os.path.basename(self.kernel)
        return Metadata(
            image_name=name,
            image_version=self.version if self.version is not None else DEFAULT_IMAGE_VERSION,
            build_info=BuildInfo(
                build_time=self.build_time if self.build_time is not None else default_build_time(),
                build_tool=self.build_tool,
                build_tool_version=self.build_tool_version,
                img_os=self.img_os,
                img_kernel=self.img_kernel,
            ),
            docker_info=None,
            custom=self.custom_metadata,
        )


def make_image(inputs: BuildInputs) -> EifImage:
    """An EifImage in AWS's section order, sources pointing at the input files."""
    if not inputs.ramdisks:
        raise InputError("at least one ramdisk is needed", field="ramdisk")
    kernel = FileSource.open(inputs.kernel, "kernel")
    ramdisks = [FileSource.open(r, "ramdisk") for r in inputs.ramdisks]
    cmd = cmdline_bytes(inputs.cmdline)
    meta = inputs.metadata().to_bytes()
    sections = [
        Section(SectionType.KERNEL, kernel),
        Section(SectionType.CMDLINE, BytesSource(cmd)),
        Section(SectionType.METADATA, BytesSource(meta)),
        *(Section(SectionType.RAMDISK, r) for r in ramdisks),
        *inputs.extra_sections,
    ]
    if (inputs.signer is None) != (inputs.signing_certificate is None):
        raise InputError("signing needs both a certificate and a private key", field="signing")
    if inputs.signer is not None and inputs.signing_certificate is not None:
        cert_pem, signer = inputs.signing_certificate, inputs.signer
        sections.append(
            Section(
                SectionType.SIGNATURE,
                DeferredSource(lambda pcr0: make_signature_section(pcr0, cert_pem, signer)),
            )
        )
    if len(sections) > MAX_SECTIONS:
        raise InputError(
            f"{len(sections)} sections ({len(ramdisks)} ramdisks), at most {MAX_SECTIONS} "
            "fit in an EIF header",
            field="ramdisk",
        )
    header = EifHeader(
        flags=inputs.arch.flag, default_mem=inputs.default_mem, default_cpus=inputs.default_cpus
    )
    return EifImage(sections=tuple(sections), header=header)


def check_output_not_input(output: str, inputs: Sequence[str]) -> None:
    """Refuse an output path that is one of the input files (it would be destroyed)."""
    if not os.path.exists(output):
        return
    for p in inputs:
        try:
            if os.path.samefile(output, p):
                raise InputError(
                    "output path is also an input file; refusing to overwrite it", path=output
                )
        except FileNotFoundError:
            continue
