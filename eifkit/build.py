"""Turn build inputs (kernel, ramdisks or folders, cmdline, metadata values) into an
EifImage, with every check ``eifkit build`` makes: :func:`make_image` refuses exactly
what the command refuses, and :func:`build_image` also returns the findings (warnings
as data) for the caller to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .atomic import check_output_not_input
from .buildinputs import BuildInputs
from .buildpolicy import (
    DEFAULT_IMAGE_VERSION,
    DEFAULT_IMG_KERNEL,
    DEFAULT_IMG_OS,
    EIF_BUILD_TOOL,
    EIF_BUILD_TOOL_VERSION,
    BuildFinding,
    FolderRamdisk,
    check_app_lines,
    check_cpio_format,
    choose_arch,
    choose_metadata,
    folder_ramdisk,
    lint_ramdisks,
)
from .errors import InputError
from .format import MAX_SECTIONS, Arch, EifHeader, SectionType
from .image import EifImage, Section
from .inputs import CMDLINE_FILE_LIMIT, read_input_file, utf8_text
from .metadata import load_custom_metadata
from .sources import BytesSource, DeferredSource, FileSource, Source
from .timefmt import default_build_time, rfc3339

__all__ = [
    "DEFAULT_IMAGE_VERSION",
    "DEFAULT_IMG_KERNEL",
    "DEFAULT_IMG_OS",
    "EIF_BUILD_TOOL",
    "EIF_BUILD_TOOL_VERSION",
    "BuildFinding",
    "BuildInputs",
    "BuiltImage",
    "build_image",
    "check_output_not_input",
    "cmdline_bytes",
    "default_build_time",
    "make_image",
    "rfc3339",
]

U64_LIMIT = 1 << 64


def cmdline_bytes(cmdline: str | bytes) -> bytes:
    """The cmdline section's bytes: the string as UTF-8, no trailing NUL, no NUL inside."""
    if isinstance(cmdline, str):
        data = utf8_text(cmdline, "--cmdline").encode("utf-8")
    else:
        data = bytes(cmdline)
    pos = data.find(b"\0")
    if pos >= 0:
        raise InputError(
            f"cmdline contains a NUL byte at position {pos}; the kernel would ignore "
            "everything after it",
            field="cmdline",
        )
    return data


@dataclass
class BuiltImage:
    """An image ready to write, what the build noticed, and each ramdisk's label (its
    file, or the folder it was made from). Use as a context manager (or call
    :meth:`close`) to remove the temporary cpios of folder ramdisks at once; otherwise
    they go when the image is no longer used."""

    image: EifImage
    findings: list[BuildFinding]
    ramdisk_labels: list[str]
    _made: list[FolderRamdisk] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for made in self._made:
            made.remove()

    def __enter__(self) -> BuiltImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cmdline(inputs: BuildInputs) -> bytes:
    if (inputs.cmdline is None) == (inputs.cmdline_file is None):
        raise InputError("give a cmdline or a cmdline file (one of them)", field="cmdline")
    if inputs.cmdline_file is not None:
        data = read_input_file(inputs.cmdline_file, "cmdline", CMDLINE_FILE_LIMIT)
        return cmdline_bytes(data[:-1] if data.endswith(b"\n") else data)
    assert inputs.cmdline is not None
    return cmdline_bytes(inputs.cmdline)


def _custom_metadata(inputs: BuildInputs) -> Any:
    if inputs.metadata_file is None:
        return inputs.custom_metadata
    if inputs.custom_metadata is not None:
        raise InputError("give custom metadata or a metadata file, not both", field="metadata")
    return load_custom_metadata(inputs.metadata_file)


def _check_header_values(inputs: BuildInputs) -> None:
    if inputs.default_mem <= 0 or inputs.default_cpus <= 0:
        raise InputError("--default-memory and --default-cpus must be positive")
    if inputs.default_mem >= U64_LIMIT or inputs.default_cpus >= U64_LIMIT:
        raise InputError("--default-memory and --default-cpus must fit 64 bits")
    ramdisks = len(inputs.ramdisks) + len(inputs.ramdisk_sources)
    ramdisks += bool(inputs.bootstrap) + bool(inputs.rootfs)
    signature = inputs.signer is not None or inputs.signing_certificate is not None
    sections = 3 + ramdisks + len(inputs.extra_sections) + signature
    if sections > MAX_SECTIONS:
        raise InputError(
            f"{sections} sections ({ramdisks} ramdisks), at most {MAX_SECTIONS} "
            "fit in an EIF header",
            field="ramdisk",
        )


def build_image(inputs: BuildInputs) -> BuiltImage:
    """An EifImage in AWS's section order with every check ``eifkit build`` makes.

    Raises an :class:`~eifkit.errors.EifError` for what the command refuses (a
    kernel Nitro cannot boot or of another architecture, a ramdisk whose /init
    cannot run, unless ``force``; bad metadata; an output that is an input ...).
    """
    cmd = _cmdline(inputs)
    _check_header_values(inputs)
    arch, findings, kernel_release = choose_arch(
        inputs.kernel, inputs.arch, force=inputs.force, eif_build_compat=inputs.eif_build_compat
    )
    if not (inputs.ramdisks or inputs.ramdisk_sources or inputs.bootstrap or inputs.rootfs):
        raise InputError(
            "at least one ramdisk is needed: --initrd FILE, --bootstrap DIR or --rootfs DIR",
            field="ramdisk",
        )
    check_app_lines(inputs.cmd, inputs.env, inputs.rootfs)
    check_cpio_format(inputs)
    if inputs.rootfs and not inputs.cmd:
        no_cmd = (
            "--rootfs without --cmd: nitro-cli's init would have nothing to run (nitro-cli "
            "refuses an image with neither CMD nor ENTRYPOINT)"
        )
        if not inputs.force:
            raise InputError(f"{no_cmd}; use --force to build anyway", path=inputs.rootfs)
        findings.append(BuildFinding("warning", no_cmd, inputs.rootfs))
    meta, meta_findings = choose_metadata(inputs, _custom_metadata(inputs))
    findings += meta_findings
    if inputs.output is not None:
        check_output_not_input(inputs.output, inputs.input_files())
    kernel = FileSource.open(inputs.kernel, "kernel")
    sources: list[Source] = [source for _, source in inputs.ramdisk_sources]
    sources += [FileSource.open(r, "ramdisk") for r in inputs.ramdisks]
    labels = [label for label, _ in inputs.ramdisk_sources] + list(inputs.ramdisks)
    made: list[FolderRamdisk] = []
    try:
        form = inputs.cpio_format
        if inputs.bootstrap:
            sources.insert(0, folder_ramdisk(inputs.bootstrap, "bootstrap.cpio", form, made))
            labels.insert(0, inputs.bootstrap)
        if inputs.rootfs:
            app = (inputs.cmd, inputs.env)
            sources.append(folder_ramdisk(inputs.rootfs, "app.cpio", form, made, app=app))
            labels.append(inputs.rootfs)
        image = _assemble(inputs, arch, kernel, cmd, meta.to_bytes(), sources)
        if inputs.lint:
            findings += lint_ramdisks(
                sources, labels, arch, force=inputs.force, kernel_release=kernel_release
            )
    except BaseException:
        for m in made:
            m.remove()
        raise
    return BuiltImage(image, findings, labels, made)


def make_image(inputs: BuildInputs) -> EifImage:
    """The image :func:`build_image` makes, without the findings."""
    return build_image(inputs).image


def _assemble(
    inputs: BuildInputs,
    arch: Arch,
    kernel: Source,
    cmdline: bytes,
    metadata: bytes,
    ramdisks: Sequence[Source],
) -> EifImage:
    """The sections in AWS's order: kernel, cmdline, metadata, ramdisks, signature."""
    sections = [
        Section(SectionType.KERNEL, kernel),
        Section(SectionType.CMDLINE, BytesSource(cmdline)),
        Section(SectionType.METADATA, BytesSource(metadata)),
        *(Section(SectionType.RAMDISK, r) for r in ramdisks),
        *inputs.extra_sections,
    ]
    if (inputs.signer is None) != (inputs.signing_certificate is None):
        raise InputError("signing needs both a certificate and a private key", field="signing")
    if inputs.signer is not None and inputs.signing_certificate is not None:
        from .signing.signers import make_signature_section

        cert_pem, signer = inputs.signing_certificate, inputs.signer
        sections.append(
            Section(
                SectionType.SIGNATURE,
                DeferredSource(lambda pcr0: make_signature_section(pcr0, cert_pem, signer)),
            )
        )
    header = EifHeader(
        flags=arch.flag, default_mem=inputs.default_mem, default_cpus=inputs.default_cpus
    )
    return EifImage(sections=tuple(sections), header=header)
