"""Reports about an image: the ``describe`` JSON (nitro-cli's fields first) and tables.

Reports take what the reader and the measurement engine produced; they never
parse section bytes themselves beyond the small cmdline and metadata sections,
through the same parsers the writer's side uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import MetadataError
from .format import SECTION_HEADER_SIZE
from .image import EifImage
from .jsonfmt import OrderedObject
from .limits import DEFAULT_LIMITS, ExpansionLimits
from .measure import Measurements
from .metadata import METADATA_PARSE_LIMIT, Metadata, parse_metadata_section
from .sources import read_small

CMDLINE_READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class Description:
    """Everything ``describe`` shows."""

    image: EifImage
    measurements: Measurements
    metadata: Metadata | None
    metadata_error: str | None
    cmdline: str | None
    kernel: Any = None  # kernel.KernelInfo, when inspected
    ramdisks: list[Any] | None = None  # lint.RamdiskInfo per ramdisk, when inspected

    @property
    def crc_ok(self) -> bool:
        return self.image.stored_crc == self.measurements.crc32


def read_cmdline_bytes(image: EifImage) -> bytes | None:
    """The cmdline section's bytes, None if there is none; FormatError over 1 MiB."""
    sec = image.cmdline_section
    if sec is None:
        return None
    return read_small(sec.source, CMDLINE_READ_LIMIT, "cmdline section")


def read_cmdline(image: EifImage) -> str | None:
    """The cmdline as text to show (undecodable bytes replaced; a huge one summarized)."""
    sec = image.cmdline_section
    if sec is not None and sec.size > CMDLINE_READ_LIMIT:
        return f"<{sec.size} bytes, not shown>"
    raw = read_cmdline_bytes(image)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def read_metadata_bytes(image: EifImage) -> bytes | None:
    """The metadata section's bytes, None if there is none; MetadataError over the limit."""
    sec = image.metadata_section
    if sec is None:
        return None
    return read_small(sec.source, METADATA_PARSE_LIMIT, "metadata section", MetadataError)


def read_metadata(image: EifImage) -> Metadata | None:
    """The parsed metadata section, None if there is none; MetadataError if it is bad."""
    raw = read_metadata_bytes(image)
    if raw is None:
        return None
    try:
        return parse_metadata_section(raw)
    except MetadataError as e:
        sec = image.metadata_section
        e.offset = sec.offset + SECTION_HEADER_SIZE if sec and sec.offset is not None else None
        e.field = e.field or "metadata section"
        raise


def describe(
    image: EifImage,
    measurements: Measurements,
    *,
    strict: bool = True,
    inspect: bool = True,
    deep: bool = False,
    limits: ExpansionLimits = DEFAULT_LIMITS,
) -> Description:
    metadata: Metadata | None = None
    error: str | None = None
    try:
        metadata = read_metadata(image)
    except MetadataError as e:
        if strict:
            raise
        error = e.message
    kernel = ramdisks = None
    if inspect:
        from .inspect.kernel import inspect_source
        from .inspect.ramdisk import lint_image

        if image.kernel is not None:
            kernel = inspect_source(image.kernel.source)
        ramdisks = lint_image(
            image, deep=deep, limits=limits, kernel_release=kernel.release if kernel else None
        )
    return Description(image, measurements, metadata, error, read_cmdline(image), kernel, ramdisks)


def describe_json(
    d: Description,
    certificate: dict[str, Any] | None = None,
    signature_check: bool | None = None,
) -> OrderedObject:
    """nitro-cli describe-eif's fields in its order, then eifkit's own fields."""
    img, m = d.image, d.measurements
    out = OrderedObject()
    out["EifVersion"] = img.version
    out["Measurements"] = m.as_dict()
    out["IsSigned"] = img.is_signed
    if certificate is not None:
        out["SigningCertificate"] = certificate
    out["CheckCRC"] = d.crc_ok
    if signature_check is not None:
        out["SignatureCheck"] = signature_check
    if d.metadata is not None:
        out["ImageName"] = d.metadata.image_name
        out["ImageVersion"] = d.metadata.image_version
        meta = OrderedObject()
        bi = d.metadata.build_info
        meta["BuildTime"] = bi.build_time
        meta["BuildTool"] = bi.build_tool
        meta["BuildToolVersion"] = bi.build_tool_version
        meta["OperatingSystem"] = bi.img_os
        meta["KernelVersion"] = bi.img_kernel
        meta["DockerInfo"] = d.metadata.docker_info
        custom = d.metadata.custom
        # nitro-cli flattens an object of custom metadata into Metadata (sorted keys).
        if isinstance(custom, dict):
            for key in sorted(custom, key=lambda k: k.encode("utf-8")):
                meta.setdefault(key, custom[key])
        elif custom is not None:
            meta["CustomMetadata"] = custom
        out["Metadata"] = meta
    out["Arch"] = img.arch.value
    out["DefaultMemory"] = img.default_mem
    out["DefaultCpus"] = img.default_cpus
    out["Cmdline"] = d.cmdline
    out["CRC"] = OrderedObject(Stored=img.stored_crc, Computed=m.crc32)
    out["File"] = img.path
    out["FileSize"] = img.file_size
    out["Sections"] = [
        OrderedObject(
            Index=i, Type=s.type_name, TypeId=s.type, Flags=s.flags, Offset=s.offset, Size=s.size
        )
        for i, s in enumerate(img.sections)
    ]
    if d.kernel is not None:
        out["Kernel"] = d.kernel.as_json()
    if d.ramdisks is not None:
        out["Ramdisks"] = [r.as_json() for r in d.ramdisks]
        out["Lint"] = [
            OrderedObject(Level=f.level, Message=f.message) for r in d.ramdisks for f in r.findings
        ]
    if d.metadata_error is not None:
        out["MetadataError"] = d.metadata_error
    if m.signature_error is not None:
        out["SignatureError"] = m.signature_error
    out["Findings"] = list(img.findings)
    return out


def table(rows: list[list[str]], *, indent: str = "  ") -> list[str]:
    """Left-aligned columns, numbers right-aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            cell.rjust(w) if cell.isdigit() and n > 0 else cell.ljust(w)
            for n, (cell, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def measurements_lines(m: Measurements, *, indent: str = "  ") -> list[str]:
    rows = [[k, v] for k, v in m.as_dict().items() if k != "HashAlgorithm"]
    return table(rows, indent=indent)


def describe_text(
    d: Description,
    certificate: dict[str, Any] | None = None,
    signature_check: bool | None = None,
) -> str:
    img, m = d.image, d.measurements
    lines = []
    kv: list[tuple[str, str]] = [
        ("File", f"{img.path} ({img.file_size} bytes)"),
        ("EIF version", str(img.version)),
        ("Arch", img.arch.value + (f" (flags {img.flags:#06x})" if img.flags > 1 else "")),
        ("Defaults", f"{img.default_mem // (1 << 20)} MiB memory, {img.default_cpus} CPUs"),
        (
            "CRC32",
            f"{img.stored_crc:#010x} "
            + ("ok" if d.crc_ok else f"MISMATCH (computed {m.crc32:#010x})"),
        ),
        ("Signed", _signed_text(img.is_signed, certificate, signature_check)),
    ]
    if d.metadata is not None:
        bi = d.metadata.build_info
        kv += [
            ("Image", f"{d.metadata.image_name} {d.metadata.image_version}"),
            ("Built", f"{bi.build_time} by {bi.build_tool} {bi.build_tool_version}"),
            ("OS / kernel", f"{bi.img_os} {bi.img_kernel}"),
        ]
        if d.metadata.custom is not None:
            from .jsonfmt import dumps

            kv.append(("Custom", dumps(d.metadata.custom)))
    elif d.metadata_error:
        kv.append(("Metadata", f"unreadable: {d.metadata_error}"))
    else:
        kv.append(("Metadata", "none"))
    kv.append(("Cmdline", d.cmdline if d.cmdline is not None else "(none)"))
    if d.kernel is not None:
        k = d.kernel
        facts = [k.format, k.arch or "arch unknown"]
        if "BootProtocol" in k.details:
            facts.append(f"boot protocol {k.details['BootProtocol']}")
        if k.efi_stub:
            facts.append(f"EFI stub ({k.pe_machine})")
        if k.problem:
            facts.append(f"NOT BOOTABLE: {k.problem}")
        kv.append(("Kernel", ", ".join(facts)))
        if k.version:
            kv.append(("Kernel version", k.version))
    for r in d.ramdisks or []:
        if r.skipped:
            kv.append((f"Ramdisk {r.index}", f"{r.format}, {r.error}"))
            continue
        facts = [r.format]
        if r.entries is not None and r.format != "not cpio":
            facts.append(f"{r.entries} entries")
        if r.init:
            target = f" -> {r.init['Target']}" if r.init.get("Target") else ""
            facts.append(f"/init{target} ({r.init.get('Arch') or r.init['Kind']})")
        if r.nitro_cli_layout:
            facts.append("nitro-cli app layout (rootfs/, cmd, env)")
        if r.has_nsm_ko:
            facts.append("nsm.ko")
        kv.append((f"Ramdisk {r.index}", ", ".join(facts)))
    width = max(len(k) for k, _ in kv)
    lines += [f"{k.ljust(width)}  {v}" for k, v in kv]
    lines.append("")
    lines.append("Sections")
    rows = [["#", "type", "flags", "offset", "size"]]
    for i, s in enumerate(img.sections):
        rows.append([str(i), s.type_name, f"{s.flags:#06x}", str(s.offset), str(s.size)])
    lines += table(rows)
    lines.append("")
    lines.append(f"Measurements ({m.algo.upper()})")
    lines += measurements_lines(m)
    if m.signature_error:
        lines.append(f"  PCR8  unknown: {m.signature_error}")
    lint = [f for r in d.ramdisks or [] for f in r.findings]
    if img.findings or lint:
        lines.append("")
        lines.append("Findings")
        lines += [f"  - {f}" for f in img.findings]
        lines += [f"  - {f}" for f in lint]
    return "\n".join(lines)


def _signed_text(signed: bool, cert: dict[str, Any] | None, check: bool | None) -> str:
    if not signed:
        return "no"
    verdict = {True: "signature ok", False: "SIGNATURE CHECK FAILED", None: "not checked"}[check]
    if cert is None:
        return f"yes, {verdict}"
    issuer = ", ".join(f"{k}={v}" for k, v in cert["IssuerName"].items())
    return f"yes, {verdict}; issuer {issuer}; valid {cert['NotBefore']} .. {cert['NotAfter']}"


def signature_fields(image: EifImage, m: Measurements) -> dict[str, Any]:
    """describe's signature fields, as keyword arguments for :func:`describe_json` and
    :func:`describe_text`: ``certificate`` (nitro-cli's SigningCertificate) and
    ``signature_check``; nothing for an unsigned image, and only a failed check for a
    signature section that cannot be decoded."""
    if not image.is_signed:
        return {}
    from .errors import EifError
    from .signing.signers import certificate_info
    from .signing.verify import read_signature, signature_check

    try:
        sig = read_signature(image)
    except EifError:
        return {"signature_check": False}
    return {
        "certificate": certificate_info(sig.certificate) if sig else None,
        "signature_check": signature_check(image, m),
    }
