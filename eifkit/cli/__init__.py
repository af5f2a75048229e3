"""Command-line front end: parse arguments, call the library, print. No format logic here.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from .. import jsonfmt
from .._version import __version__
from ..atomic import write_file_atomically
from ..build import (
    EIF_BUILD_TOOL,
    EIF_BUILD_TOOL_VERSION,
    BuildInputs,
    check_build_time,
    check_output_not_input,
    make_image,
)
from ..errors import EifError, InputError
from ..format import Arch
from ..measure import (
    ALGORITHM_LABELS,
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    extend_from_zero,
    pcr_of_bytes,
)
from ..metadata import load_custom_metadata, parse_kernel_config
from ..reader import read
from ..report import describe, describe_json, describe_text, table
from ..signing.cose import BY_NAME, ES384, algorithm_for_key, protected_header, sig_structure
from ..signing.signers import (
    attach_signature,
    check_key_matches_certificate,
    cose_from_detached,
    make_signature_section,
    open_signer,
    pcr0_payload,
    read_certificate_file,
)
from ..signing.verify import Expectations, read_signature, signature_check, verify_image
from ..sigsection import PcrSignature, encode_signature_section
from ..stream import measure_image
from ..writer import write

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

PROG = "eifkit"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def _print_json(value: Any) -> None:
    sys.stdout.write(jsonfmt.dumps(value, indent=2) + "\n")


def _warn(msg: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {msg}\n")


# ---------------------------------------------------------------- build

BUILD_HELP = """\
Build an EIF v4 image from a kernel, one or more ramdisks and a kernel command line,
in AWS's layout (kernel, cmdline, metadata, ramdisks), computing the CRC32 exactly as
the loaders verify it and the PCR measurements in the same pass. The output is
written to a temporary file beside OUTPUT and renamed into place when complete.

eif_build's spellings are accepted: --ramdisk, --output, --kernel_config.

Differences from eif_build, on purpose:
  --version is honoured (eif_build stores the --name value as ImageVersion);
  BuildTool/BuildToolVersion default to eifkit and its version;
  --build-time defaults to SOURCE_DATE_EPOCH when that is set.
Use --eif-build-compat to get eif_build's exact bytes for the same arguments.

examples:
  eifkit build --kernel bzImage --initrd init.cpio --initrd app.cpio \\
      --cmdline "console=ttyS0 reboot=k" -o app.eif
  SOURCE_DATE_EPOCH=0 eifkit build --kernel bzImage --initrd init.cpio \\
      --cmdline-file cmdline.txt -o app.eif --json
"""


def _add_build(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "build",
        help="build an EIF from a kernel, ramdisks and a cmdline",
        description=BUILD_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--kernel", required=True, metavar="FILE", help="kernel image (bzImage or arm64 Image)"
    )
    p.add_argument(
        "--initrd",
        "--ramdisk",
        dest="ramdisks",
        action="append",
        default=[],
        metavar="FILE",
        help="a ramdisk (usually a cpio archive); repeat for more, in boot order: the first "
        "is measured into PCR1, the others into PCR2",
    )
    g = p.add_argument_group(
        "ramdisks made on the fly",
        "Order in the EIF: --bootstrap, then the --initrd files, then --rootfs. Made like "
        "`eifkit initramfs` (reproducible; mtime from SOURCE_DATE_EPOCH, else 0).",
    )
    g.add_argument(
        "--bootstrap",
        metavar="DIR",
        help="make the first ramdisk from this folder (init, nsm.ko, dev/ ...)",
    )
    g.add_argument(
        "--rootfs",
        metavar="DIR",
        help="make an app ramdisk in nitro-cli's layout: rootfs/ from DIR, plus "
        "the files cmd and env",
    )
    g.add_argument(
        "--cmd",
        action="append",
        default=[],
        metavar="ARG",
        help="a line of the app ramdisk's cmd file (repeat, in order; write --cmd=ARG for an "
        "ARG that starts with -)",
    )
    g.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a line of the app ramdisk's env file (repeat)",
    )
    cmd = p.add_mutually_exclusive_group(required=True)
    cmd.add_argument("--cmdline", metavar="STRING", help="the kernel command line")
    cmd.add_argument(
        "--cmdline-file",
        metavar="FILE",
        help="read the command line from FILE (one trailing newline is dropped)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the EIF")
    p.add_argument(
        "--arch",
        choices=[a.value for a in Arch],
        default=None,
        help="architecture flag in the header (default: the kernel's, else x86_64); one "
        "that contradicts the kernel is an error unless --force",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="build even if the kernel is one Nitro cannot boot (ELF vmlinux, compressed "
        "arm64, 32-bit) or its architecture contradicts --arch",
    )
    p.add_argument("--name", help="ImageName in the metadata (default: the kernel file's name)")
    p.add_argument(
        "--version",
        dest="image_version",
        metavar="VERSION",
        help="ImageVersion in the metadata (default: 1.0)",
    )
    p.add_argument(
        "--metadata",
        metavar="FILE",
        help="custom metadata: a JSON file of at most 4096 bytes, stored re-serialized "
        "as AWS's tools do (keys sorted, numbers in serde_json's form)",
    )
    p.add_argument(
        "--build-time",
        metavar="RFC3339",
        help="BuildTime in the metadata (default: SOURCE_DATE_EPOCH if set, else now)",
    )
    p.add_argument("--build-tool", help="BuildTool in the metadata (default: eifkit)")
    p.add_argument("--build-tool-version", help=f"BuildToolVersion (default: {__version__})")
    p.add_argument("--img-os", help="OperatingSystem in the metadata (default: OS)")
    p.add_argument("--img-kernel", help="KernelVersion in the metadata (default: kernel)")
    p.add_argument(
        "--kernel-config",
        "--kernel_config",
        metavar="FILE",
        help="take OperatingSystem and KernelVersion from line 3 of a kernel .config "
        "(--img-os/--img-kernel still win)",
    )
    p.add_argument(
        "--default-memory",
        type=int,
        metavar="MIB",
        default=1024,
        help="default enclave memory in the header, MiB (default: 1024)",
    )
    p.add_argument(
        "--default-cpus",
        type=int,
        metavar="N",
        default=2,
        help="default enclave CPU count in the header (default: 2)",
    )
    p.add_argument(
        "--algo",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help="hash for the printed measurements (default: sha384, what Nitro uses)",
    )
    p.add_argument(
        "--eif-build-compat",
        action="store_true",
        help="behave as AWS's eif_build 0.3.1: BuildTool eif_build, BuildToolVersion "
        "0.3.1, and ImageVersion taken from --name (its bug; --version is ignored)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print nitro-cli\'s JSON: {"Measurements": {"HashAlgorithm": ..., "PCR0": ...}}',
    )
    _add_signing_key_options(p)
    _add_quiet(p)
    p.add_argument(
        "--no-lint",
        action="store_true",
        help="do not look inside the ramdisks (by default problems such as no /init or an "
        "/init for another CPU are printed as warnings)",
    )
    p.add_argument(
        "--fsync",
        action="store_true",
        help="flush the EIF to the disk before it is renamed into place, so it "
        "survives a power loss (costs the disk's write speed)",
    )
    _add_no_direct_io(p)
    p.set_defaults(func=cmd_build)


def _add_no_direct_io(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-direct-io",
        action="store_true",
        help="write every byte through the page cache (by default long sections bypass "
        "it with O_DIRECT where the file system allows it and the disk keeps up with "
        "hashing; see README's 'Speed')",
    )


def _add_signing_key_options(p: argparse.ArgumentParser, *, detached: bool = False) -> None:
    g = p.add_argument_group("signing")
    g.add_argument(
        "--signing-certificate",
        metavar="CERT",
        help="X.509 certificate of the signing key (PEM is stored verbatim; DER is converted)",
    )
    keys = g.add_mutually_exclusive_group()
    keys.add_argument(
        "--private-key",
        metavar="KEY",
        help="EC private key file (P-256/P-384/P-521 give ES256/ES384/ES512), or an AWS KMS "
        "key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) as eif_build takes it",
    )
    keys.add_argument(
        "--kms-key-id",
        metavar="ID",
        help="sign with this AWS KMS key (id, alias or ARN); needs the eifkit[kms] extra",
    )
    if detached:
        keys.add_argument(
            "--signature",
            metavar="FILE",
            help="attach a signature made elsewhere over `eifkit pcr0-payload`'s bytes: a "
            "COSE_Sign1, a DER ECDSA signature or raw r||s",
        )
    g.add_argument(
        "--kms-region",
        metavar="REGION",
        help="AWS region of the KMS key (default: from the ARN, else the AWS configuration)",
    )


def _signing_inputs(args: argparse.Namespace) -> tuple[bytes, Any] | None:
    """(certificate PEM bytes, signer) from the signing options, or None if unsigned."""
    has_key = args.private_key is not None or args.kms_key_id is not None
    if args.signing_certificate is None and not has_key:
        return None
    if args.signing_certificate is None:
        raise InputError("--signing-certificate is needed with a private key or KMS key")
    if not has_key:
        raise InputError("--private-key or --kms-key-id is needed with --signing-certificate")
    cert_pem, cert = read_certificate_file(args.signing_certificate)
    signer = open_signer(args.private_key, args.kms_key_id, args.kms_region)
    check_key_matches_certificate(signer, cert, args.signing_certificate)
    return cert_pem, signer


def _check_kernel(args: argparse.Namespace) -> Arch:
    """The EIF's arch: --arch, else the kernel's; refuse kernels Nitro cannot boot."""
    from ..inspect.kernel import inspect_source
    from ..sources import FileSource

    info = inspect_source(FileSource.open(args.kernel, "kernel"))
    if info.format == "unknown":
        if not args.eif_build_compat:
            _warn(
                f"{args.kernel}: not a kernel eifkit recognises (bzImage, arm64 Image); "
                "building anyway"
            )
    elif not info.bootable and not args.force:
        raise InputError(
            f"the kernel is {info.problem}; use --force to build anyway", path=args.kernel
        )
    kernel_arch = info.arch if info.arch in ("x86_64", "aarch64") else None
    if args.arch is None:
        return Arch(kernel_arch or "x86_64")
    if kernel_arch and args.arch != kernel_arch and not args.force:
        raise InputError(
            f"--arch {args.arch} contradicts the kernel, which is {kernel_arch} "
            f"({info.format}); use --force to build anyway",
            path=args.kernel,
        )
    return Arch(args.arch)


def _read_cmdline_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except FileNotFoundError:
        raise InputError("cmdline file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("cmdline file must be a file, found a directory", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read cmdline file: {e.strerror}", path=path) from None
    if data.endswith(b"\n"):
        data = data[:-1]
    return data


def cmd_build(args: argparse.Namespace) -> int:
    cmdline: str | bytes = (
        _read_cmdline_file(args.cmdline_file) if args.cmdline_file is not None else args.cmdline
    )
    img_os, img_kernel = "OS", "kernel"
    if args.kernel_config:
        img_os, img_kernel = parse_kernel_config(args.kernel_config)
    if args.img_os is not None:
        img_os = args.img_os
    if args.img_kernel is not None:
        img_kernel = args.img_kernel
    build_tool, build_tool_version = "eifkit", __version__
    image_version = args.image_version
    if args.eif_build_compat:
        build_tool, build_tool_version = EIF_BUILD_TOOL, EIF_BUILD_TOOL_VERSION
        if image_version is not None:
            _warn("--version is ignored under --eif-build-compat, as eif_build ignores it")
        image_version = args.name
    if args.build_tool is not None:
        build_tool = args.build_tool
    if args.build_tool_version is not None:
        build_tool_version = args.build_tool_version
    if args.default_memory <= 0 or args.default_cpus <= 0:
        raise InputError("--default-memory and --default-cpus must be positive")
    arch = _check_kernel(args)
    if not (args.ramdisks or args.bootstrap or args.rootfs):
        raise InputError(
            "at least one ramdisk is needed: --initrd FILE, --bootstrap DIR or --rootfs DIR"
        )
    if (args.cmd or args.env) and not args.rootfs:
        raise InputError("--cmd and --env go with --rootfs")
    for item in args.env:
        if "=" not in item:
            raise InputError(f"--env {item!r} is not KEY=VALUE")
    custom = load_custom_metadata(args.metadata) if args.metadata else None
    signing = _signing_inputs(args)
    with contextlib.ExitStack() as stack:
        ramdisks = _ramdisk_paths(args, stack)
        return _build_image(
            args,
            arch,
            custom,
            signing,
            cmdline,
            img_os,
            img_kernel,
            build_tool,
            build_tool_version,
            image_version,
            ramdisks,
        )


def _ramdisk_paths(args: argparse.Namespace, stack: contextlib.ExitStack) -> list[str]:
    """--initrd files, with --bootstrap first and --rootfs last, made into temporary cpios."""
    ramdisks = list(args.ramdisks)
    if not (args.bootstrap or args.rootfs):
        return ramdisks
    import tempfile

    from ..inspect.initramfs import app_entries, tree_entries, write_archive

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="eifkit-ramdisks."))
    mtime = _mtime(None)
    if args.bootstrap:
        path = os.path.join(tmp, "bootstrap.cpio")
        write_archive(tree_entries(args.bootstrap, mtime=mtime), path)
        ramdisks.insert(0, path)
    if args.rootfs:
        path = os.path.join(tmp, "app.cpio")
        write_archive(app_entries(args.rootfs, args.cmd, args.env, mtime=mtime), path)
        ramdisks.append(path)
    return ramdisks


def _build_image(
    args: argparse.Namespace,
    arch: Arch,
    custom: Any,
    signing: Any,
    cmdline: str | bytes,
    img_os: str,
    img_kernel: str,
    build_tool: str,
    build_tool_version: str,
    image_version: str | None,
    ramdisks: list[str],
) -> int:
    inputs = BuildInputs(
        kernel=args.kernel,
        ramdisks=ramdisks,
        cmdline=cmdline,
        arch=arch,
        name=args.name,
        version=image_version,
        custom_metadata=custom,
        build_time=check_build_time(args.build_time) if args.build_time else None,
        build_tool=build_tool,
        build_tool_version=build_tool_version,
        img_os=img_os,
        img_kernel=img_kernel,
        default_mem=args.default_memory << 20,
        default_cpus=args.default_cpus,
        signing_certificate=signing[0] if signing else None,
        signer=signing[1] if signing else None,
    )
    image = make_image(inputs)
    if not args.no_lint:
        from ..inspect.ramdisk import inspect_ramdisk

        for i, (path, sec) in enumerate(zip(ramdisks, image.ramdisks, strict=True)):
            for finding in inspect_ramdisk(sec.source, i, arch.value).findings:
                note = " (the enclave could not start)" if finding.level == "error" else ""
                _warn(f"{path}: {finding.message}{note}")
    inputs_used = [
        args.kernel,
        *args.ramdisks,
        args.metadata,
        args.cmdline_file,
        args.kernel_config,
    ]
    check_output_not_input(args.output, [p for p in inputs_used if p])
    bar = _progress(args, sum(sec.size for sec in image.sections), "building")
    try:
        result = write(
            image,
            args.output,
            layout="canonical",
            algo=args.algo,
            progress=bar,
            fsync=args.fsync,
            direct_io=not args.no_direct_io,
        )
    finally:
        bar.close()
    m = result.measurements
    if args.json:
        _print_json({"Measurements": m.as_dict()})
    else:
        print(
            f"Built {result.path}: {result.size} bytes, {len(image.sections)} sections, "
            f"CRC32 {result.crc32:#010x}"
        )
        print(f"Measurements ({m.algo.upper()})")
        print("\n".join(table([[k, v] for k, v in m.as_dict().items() if k != "HashAlgorithm"])))
    return EXIT_OK


# ---------------------------------------------------------------- describe

DESCRIBE_HELP = """\
Show what an EIF holds: header fields, the section table, metadata, cmdline, whether
the stored CRC32 matches, and the PCR measurements (computed by streaming the file).

With --json the output starts with nitro-cli describe-eif's fields, in its order
(EifVersion, Measurements, IsSigned, CheckCRC, ImageName, ImageVersion, Metadata), then
eifkit's own: Arch, DefaultMemory, DefaultCpus, Cmdline, CRC, File, FileSize, Sections,
Findings (odd but harmless things: gaps, trailing bytes, unusual order ...), Kernel
(format, arch, boot protocol, EFI stub, version), Ramdisks (cpio or cpio.gz, entry
count, /init and its CPU, nitro-cli layout, nsm.ko) and Lint (problems found inside
them: no /init, /init for another CPU, not cpio or truncated, no nsm.ko ...).

By default the file must be a valid EIF v4 (see --lenient). A CRC mismatch is
reported (CheckCRC false), not an error.
"""


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (it is shown on a terminal for work over a second)",
    )


def _add_image_reading_options(p: argparse.ArgumentParser) -> None:
    _add_quiet(p)
    p.add_argument(
        "--lenient",
        action="store_true",
        help="parse anything that can be parsed (unknown section types, other versions, "
        "flags, duplicate or missing sections), e.g. to inspect loader test fixtures",
    )
    p.add_argument(
        "--algo",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help="hash for the measurements (default: sha384)",
    )


def _add_describe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "describe",
        help="show an EIF's header, sections, metadata and PCRs",
        description=DESCRIBE_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE", help="the EIF file")
    _add_image_reading_options(p)
    p.add_argument(
        "--no-inspect",
        action="store_true",
        help="do not look inside the kernel and ramdisks (Kernel, Ramdisks, Lint)",
    )
    p.add_argument(
        "--deep",
        action="store_true",
        help="also list gzip ramdisks over 256 MiB (they must be decompressed whole)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (fields listed above)")
    p.set_defaults(func=cmd_describe)


def _measure(args: argparse.Namespace, image: Any, algo: str = DEFAULT_ALGORITHM) -> Any:
    bar = _progress(args, sum(sec.size for sec in image.sections), "measuring")
    try:
        return measure_image(image, algo, progress=bar)
    finally:
        bar.close()


def _progress(args: argparse.Namespace, total: int, label: str) -> Any:
    from ..progress import Progress

    return Progress(total, label, enabled=not getattr(args, "quiet", False))


def cmd_describe(args: argparse.Namespace) -> int:
    image = read(args.image, strict=not args.lenient)
    m = _measure(args, image, args.algo)
    try:
        d = describe(image, m, strict=not args.lenient, inspect=not args.no_inspect, deep=args.deep)
    except EifError as e:
        raise e.with_path(args.image) from None
    if args.json:
        _print_json(describe_json(d, **_signature_fields(image, m)))
    else:
        print(describe_text(d, **_signature_fields(image, m)))
    return EXIT_OK


def _signature_fields(image: Any, m: Any) -> dict[str, Any]:
    """SigningCertificate and SignatureCheck for describe (nitro-cli's fields)."""
    if not image.is_signed:
        return {}
    from ..signing.signers import certificate_info

    try:
        sig = read_signature(image)
    except EifError:
        return {"signature_check": False}
    return {
        "certificate": certificate_info(sig.certificate) if sig else None,
        "signature_check": signature_check(image, m),
    }


# ---------------------------------------------------------------- pcr

PCR_HELP = """\
Compute PCR values, Nitro's way: every PCR is extend(zeros, H(content)) where
extend(a, b) = H(a || b) and H is SHA-384 unless --algo says otherwise.

  eifkit pcr IMAGE                    PCR0, PCR1, PCR2 (and PCR8 if signed) of an EIF
  eifkit pcr --input FILE             the PCR of any file's bytes (nitro-cli pcr --input)
  eifkit pcr --signing-certificate C  PCR8: of the certificate's DER (PEM or DER input)
  eifkit pcr --role-arn ARN           PCR3: extend(zeros, ARN as UTF-8), not hashed first
  eifkit pcr --instance-id ID         PCR4: extend(zeros, instance id as UTF-8)

Several may be combined; the values are printed together. With --json the output is
a JSON object with sorted keys as nitro-cli prints it ("PCR" for --input).
"""


def _add_pcr(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pcr",
        help="compute PCR values of an EIF, a file, a certificate, a role",
        description=PCR_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE", nargs="?", help="an EIF file")
    p.add_argument("--input", metavar="FILE", help='any file: prints its PCR as "PCR"')
    p.add_argument("--signing-certificate", metavar="CERT", help="certificate: prints PCR8")
    p.add_argument("--role-arn", metavar="ARN", help="the enclave's IAM role ARN: prints PCR3")
    p.add_argument("--instance-id", metavar="ID", help="the parent instance id: prints PCR4")
    _add_image_reading_options(p)
    p.add_argument(
        "--format",
        choices=["text", "json", "env", "kms-policy"],
        default="text",
        help="text (default); json (nitro-cli's object); env (PCR0=... lines for "
        "a shell or CI); kms-policy (a KMS key-policy Condition block with "
        "kms:RecipientAttestation:PCRn under StringEqualsIgnoreCase)",
    )
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.set_defaults(func=cmd_pcr)


def _hash_file_pcr(path: str, algo: str) -> bytes:
    from ..measure import new_hash, pcr_of_digest
    from ..sources import FileSource

    src = FileSource.open(path, "input")
    h = new_hash(algo)
    for chunk in src.chunks():
        h.update(chunk)
    return pcr_of_digest(h.digest(), algo)


def cmd_pcr(args: argparse.Namespace) -> int:
    if not any([args.image, args.input, args.signing_certificate, args.role_arn, args.instance_id]):
        raise InputError(
            "nothing to measure: give an IMAGE, --input, --signing-certificate, --role-arn "
            "or --instance-id"
        )
    algo = args.algo
    values: dict[str, str] = {}
    if args.image:
        image = read(args.image, strict=not args.lenient)
        m = _measure(args, image, algo)
        values.update(m.as_dict())
        if image.is_signed and m.pcr8 is None:
            _warn(f"{args.image}: PCR8 unknown: {m.signature_error}")
    elif algo != DEFAULT_ALGORITHM:
        values["HashAlgorithm"] = ALGORITHM_LABELS[algo]
    if args.input:
        values["PCR"] = _hash_file_pcr(args.input, algo).hex()
    if args.signing_certificate:
        from cryptography.hazmat.primitives.serialization import Encoding

        _pem, cert = read_certificate_file(args.signing_certificate)
        der = cert.public_bytes(Encoding.DER)
        values["PCR8"] = pcr_of_bytes(der, algo).hex()
    if args.role_arn is not None:
        values["PCR3"] = extend_from_zero(args.role_arn.encode("utf-8"), algo).hex()
    if args.instance_id is not None:
        values["PCR4"] = extend_from_zero(args.instance_id.encode("utf-8"), algo).hex()
    fmt = "json" if args.json else args.format
    if fmt == "json":
        _print_json(values)
    elif fmt == "env":
        for k, v in sorted(values.items()):
            if k != "HashAlgorithm":
                print(f"{k}={v}")
    elif fmt == "kms-policy":
        if algo != "sha384":
            raise InputError("KMS attestation conditions take SHA-384 PCRs; drop --algo")
        pcrs = {k: v for k, v in values.items() if k.startswith("PCR") and k != "PCR"}
        if not pcrs:
            raise InputError("--format kms-policy needs PCR values (an IMAGE, --role-arn ...)")
        keys = sorted(pcrs, key=lambda k: int(k[3:]))
        cond = jsonfmt.OrderedObject((f"kms:RecipientAttestation:{k}", pcrs[k]) for k in keys)
        _print_json(
            jsonfmt.OrderedObject(Condition=jsonfmt.OrderedObject(StringEqualsIgnoreCase=cond))
        )
    else:
        rows = [[k, v] for k, v in sorted(values.items()) if k != "HashAlgorithm"]
        print("\n".join(table(rows, indent="")))
    return EXIT_OK


# ---------------------------------------------------------------- sign

SIGN_HELP = """\
Add a signature to an EIF, or replace its signature (nitro-cli sign-eif). Every other
byte stays as it was; only the header table entry of the signature section and the
CRC32 change. A replaced signature of another size gets its new size in the header.

The signature is a COSE_Sign1 over {register_index: 0, register_value: PCR0}, encoded
exactly as AWS's tools encode it; local keys sign deterministically (RFC 6979), so
signing the same image with the same key gives the same bytes.

Keys: --private-key FILE (EC P-256/P-384/P-521), --private-key arn:aws:kms:... or
--kms-key-id ID (AWS KMS, needs eifkit[kms]), or --signature FILE to attach a
signature made elsewhere over the bytes `eifkit pcr0-payload` writes (an HSM, an
offline machine): a whole COSE_Sign1, a DER ECDSA signature or raw r||s. It is
verified against the certificate and this image's PCR0 before it is attached.

If signing fails, nothing is written.

examples:
  eifkit sign app.eif --signing-certificate cert.pem --private-key key.pem
  eifkit pcr0-payload app.eif --signing-certificate cert.pem -o tbs.cbor
  openssl dgst -sha384 -sign key.pem -out sig.der tbs.cbor
  eifkit sign app.eif --signing-certificate cert.pem --signature sig.der -o signed.eif
"""


def _add_sign(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sign",
        help="add or replace an EIF's signature",
        description=SIGN_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE", help="the EIF to sign")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the signed EIF here (default: replace IMAGE, atomically)",
    )
    _add_signing_key_options(p, detached=True)
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    _add_quiet(p)
    _add_no_direct_io(p)
    p.set_defaults(func=cmd_sign)


def cmd_sign(args: argparse.Namespace) -> int:
    if args.signing_certificate is None:
        raise InputError("--signing-certificate is needed")
    image = read(args.image)
    m = _measure(args, image)
    if image.stored_crc != m.crc32:
        raise InputError(
            f"refusing to sign: stored CRC32 {image.stored_crc:#010x} does not match the "
            f"computed {m.crc32:#010x} (the file is damaged)",
            path=args.image,
            field="eif_crc32",
        )
    if args.signature is not None:
        cert_pem, cert = read_certificate_file(args.signing_certificate)
        try:
            with open(args.signature, "rb") as f:
                data = f.read(1 << 20)
        except OSError as e:
            raise InputError(f"cannot read signature: {e.strerror}", path=args.signature) from None
        try:
            cose = cose_from_detached(data, cert, m.pcr0)
        except EifError as e:
            raise e.with_path(args.signature) from None
        section = encode_signature_section([PcrSignature(cert_pem, cose)])
    else:
        signing = _signing_inputs(args)
        assert signing is not None
        section = make_signature_section(m.pcr0, *signing)
    try:
        signed = attach_signature(image, section)
    except EifError as e:
        raise e.with_path(args.image) from None
    out = args.output or args.image
    bar = _progress(args, sum(sec.size for sec in signed.sections), "signing")
    try:
        result = write(
            signed,
            out,
            layout="original",
            crc="compute",
            progress=bar,
            direct_io=not args.no_direct_io,
        )
    finally:
        bar.close()
    rm = result.measurements
    if args.json:
        _print_json({"Measurements": rm.as_dict()})
    else:
        print(f"Signed {out}: {result.size} bytes, CRC32 {result.crc32:#010x}")
        print(f"Measurements ({rm.algo.upper()})")
        print("\n".join(table([[k, v] for k, v in rm.as_dict().items() if k != "HashAlgorithm"])))
    return EXIT_OK


# ---------------------------------------------------------------- pcr0-payload

PAYLOAD_HELP = """\
Write the exact bytes a signer must sign for IMAGE: the COSE Sig_structure
["Signature1", protected {1: alg}, h'', {register_index: 0, register_value: PCR0}].
Sign them with ECDSA using the hash of the algorithm (SHA-256/384/512 for
ES256/ES384/ES512), then attach the result with `eifkit sign IMAGE --signature FILE`.

The algorithm is part of the signed bytes: it comes from --signing-certificate's key,
or --alg (default ES384).
"""


def _add_pcr0_payload(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pcr0-payload",
        help="write the bytes to sign for detached signing",
        description=PAYLOAD_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write them")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--signing-certificate", metavar="CERT", help="take the algorithm from it")
    g.add_argument("--alg", choices=sorted(BY_NAME), help="the COSE algorithm (default ES384)")
    p.set_defaults(func=cmd_pcr0_payload)


def cmd_pcr0_payload(args: argparse.Namespace) -> int:
    alg = ES384
    if args.signing_certificate:
        _pem, cert = read_certificate_file(args.signing_certificate)
        try:
            alg = algorithm_for_key(cert.public_key())  # type: ignore[arg-type]
        except EifError as e:
            raise e.with_path(args.signing_certificate) from None
    elif args.alg:
        alg = BY_NAME[args.alg]
    image = read(args.image)
    m = _measure(args, image)
    data = sig_structure(protected_header(alg), pcr0_payload(m.pcr0))
    write_file_atomically(args.output, data)
    print(
        f"Wrote {len(data)} bytes to {args.output}: {alg.name} Sig_structure over PCR0 "
        f"{m.pcr0.hex()}"
    )
    print(
        f"Sign them with ECDSA/{alg.hash_name.upper()} on {alg.curve_label}, then: "
        f"eifkit sign {args.image} --signing-certificate CERT --signature SIGFILE"
    )
    return EXIT_OK


# ---------------------------------------------------------------- verify

VERIFY_HELP = """\
Check an EIF and print each check's verdict:

  structure             a valid EIF v4 (a file that does not parse fails here)
  crc                   the stored CRC32 equals the computed one
  signature             the COSE_Sign1 verifies with the certificate's key, and its alg
                        matches the key's curve (unsigned images pass unless a signature
                        is required by --require-signature, --signing-certificate or --pcr8)
  payload               the signed payload is exactly {0, PCR0 of this file}
  certificate           the certificate is valid now, or at --at TIME
  expected-certificate  the image was signed with --signing-certificate
  pcrN                  PCRs equal --pcrN values or the --pcrs JSON file

--pcrs takes the JSON that `eifkit build --json`, `eifkit pcr --json`, `eifkit describe
--json` or nitro-cli print (a "Measurements" object or a flat {"PCR0": ...} object).

Exit status: 0 if every check passes, 1 if any fails, 2 on bad usage or input.
"""


def _add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check CRC, signature, certificate and expected PCRs",
        description=VERIFY_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "--signing-certificate",
        metavar="CERT",
        help="require a signature by this certificate (PEM or DER)",
    )
    for n in (0, 1, 2, 8):
        p.add_argument(f"--pcr{n}", metavar="HEX", help=f"expected PCR{n}")
    p.add_argument("--pcrs", metavar="FILE.json", help="expected PCRs from a JSON file")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="check the certificate's validity at this RFC 3339 time (default: now)",
    )
    p.add_argument("--require-signature", action="store_true", help="fail if unsigned")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_verify)


def _expected_pcrs(args: argparse.Namespace) -> dict[str, str]:
    import re

    pcrs: dict[str, str] = {}
    if args.pcrs:
        try:
            with open(args.pcrs, "rb") as f:
                value = jsonfmt.loads(f.read(1 << 20))
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", path=args.pcrs) from None
        except EifError as e:
            raise e.with_path(args.pcrs) from None
        if isinstance(value, dict) and isinstance(value.get("Measurements"), dict):
            value = value["Measurements"]
        if not isinstance(value, dict):
            raise InputError("expected a JSON object of PCR values", path=args.pcrs)
        for k, v in value.items():
            if re.fullmatch(r"PCR\d+", k) and isinstance(v, str):
                pcrs[k] = v
        if not pcrs:
            raise InputError("no PCR0..PCR8 values found", path=args.pcrs)
    for n in (0, 1, 2, 8):
        v = getattr(args, f"pcr{n}")
        if v is not None:
            pcrs[f"PCR{n}"] = v
    for k, v in pcrs.items():
        if not re.fullmatch(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}", v):
            raise InputError(f"{k} {v!r} is not a hex SHA-256/384/512 value", field=k)
    return pcrs


def cmd_verify(args: argparse.Namespace) -> int:
    import datetime

    from ..signing.verify import Check

    at = None
    if args.at:
        check_build_time(args.at)
        at = datetime.datetime.fromisoformat(args.at.replace("Z", "+00:00"))
    cert = None
    if args.signing_certificate:
        _pem, cert = read_certificate_file(args.signing_certificate)
    expect = Expectations(cert, _expected_pcrs(args), args.require_signature)
    if not os.path.exists(args.image):
        raise InputError("file not found", path=args.image)
    try:
        image = read(args.image)
    except EifError as e:
        checks = [Check("structure", False, str(e))]
        m = None
    else:
        m = _measure(args, image)
        checks = verify_image(image, m, expect, at)
    ok = all(c.ok for c in checks)
    if args.json:
        out = jsonfmt.OrderedObject(
            Verified=ok,
            Checks=[jsonfmt.OrderedObject(Name=c.name, Ok=c.ok, Detail=c.detail) for c in checks],
        )
        if m is not None:
            out["Measurements"] = m.as_dict()
        _print_json(out)
    else:
        rows = [[c.name, "ok" if c.ok else "FAIL", c.detail] for c in checks]
        print("\n".join(table(rows, indent="")))
        print(f"{args.image}: {'verified' if ok else 'NOT verified'}")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


# ---------------------------------------------------------------- fixtures / check

FIXTURES_HELP = """\
Write a corpus of named, single-defect EIFs for testing EIF loaders, plus
manifest.json giving, per case: id, description, the changes made (field, offset,
old and new value), whether the CRC was recomputed (it is, unless the CRC is the
defect, so that the intended check is reached), and each loader profile's expected
verdict and message (qemu, aws-reader, nitro-spec; see `eifkit check --help`).

The default base is a small deterministic image (and a signed copy of it for the
signature cases); the corpus is then byte-identical on every run and machine, and
every QEMU verdict is also declared by hand in eifkit and checked against the model.
--base IMAGE, or --kernel/--initrd/--cmdline, mutate your own image instead (at most
64 MiB; cases that do not apply to it are listed as skipped).
"""


def _add_fixtures(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fixtures",
        help="write a corpus of malformed EIFs with loader verdicts",
        description=FIXTURES_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write the corpus into")
    p.add_argument("--base", metavar="IMAGE", help="mutate this EIF instead of the default base")
    p.add_argument("--kernel", metavar="FILE", help="build the base from this kernel ...")
    p.add_argument(
        "--initrd",
        "--ramdisk",
        dest="ramdisks",
        action="append",
        metavar="FILE",
        help="... these ramdisks ...",
    )
    p.add_argument("--cmdline", metavar="STRING", help="... and this cmdline")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.set_defaults(func=cmd_fixtures)


def cmd_fixtures(args: argparse.Namespace) -> int:
    from ..loadertest import CASES, generate

    if args.list:
        rows = [[c.id, "signed" if c.signed else "", c.description] for c in CASES]
        print("\n".join(table(rows, indent="")))
        return EXIT_OK
    if not args.output:
        raise InputError("-o/--output DIR is needed")
    base: bytes | None = None
    if args.base and args.kernel:
        raise InputError("give --base or build inputs (--kernel ...), not both")
    if args.base:
        read(args.base, strict=False)  # a clear error if it is not an EIF at all
        from ..loadertest.editor import EifEditor

        base = EifEditor.from_file(args.base).data
    elif args.kernel or args.ramdisks or args.cmdline:
        if not (args.kernel and args.ramdisks and args.cmdline is not None):
            raise InputError("building a base needs --kernel, --initrd and --cmdline")
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "base.eif")
            image = make_image(
                BuildInputs(
                    kernel=args.kernel,
                    ramdisks=args.ramdisks,
                    cmdline=args.cmdline,
                    build_time="2025-01-01T00:00:00Z",
                )
            )
            write(image, path)
            with open(path, "rb") as f:
                base = f.read()
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError("output exists and is not a folder", path=args.output)
    manifest = generate(args.output, base)
    made = [c for c in manifest["cases"] if "file" in c]
    skipped = len(manifest["cases"]) - len(made)
    print(
        f"Wrote {len(made)} cases and manifest.json to {args.output}"
        + (f" ({skipped} skipped: not applicable to this base)" if skipped else "")
    )
    return EXIT_OK


CHECK_HELP = """\
Say what each known EIF loader would do with IMAGE, by modelling its checks in its
order:

  qemu        QEMU's nitro-enclave machine (hw/core/eif.c, QEMU >= 9.2), its messages
  aws-reader  AWS's EifReader as nitro-cli describe-eif uses it: sections read one after
              another from byte 548, the offset table ignored; a wrong CRC is reported
              as "CheckCRC: false", not refused
  nitro-spec  the rules the EIF specification gives the hypervisor (x86_64 host):
              types 1..5, ramdisks after the kernel, 2..32 sections in file order,
              metadata in version 4, signature <= 32768 bytes, CRC over the whole file

Any file is accepted as input (a fixture, a truncated download ...). Exit status: 0 if
every selected profile accepts, 1 if one rejects, 2 on bad usage or an unreadable file.
"""


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="what QEMU, AWS's reader and the spec say of an EIF",
        description=CHECK_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument(
        "--profile",
        choices=["qemu", "aws-reader", "nitro-spec", "all"],
        default="all",
        help="which loader model (default: all)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"PROFILE": {"verdict": "accept"|"reject", "message": ...}}',
    )
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from ..loadertest import check_file

    if os.path.isdir(args.image):
        raise InputError("expected a file, found a directory", path=args.image)
    if not os.path.exists(args.image):
        raise InputError("file not found", path=args.image)
    names = None if args.profile == "all" else [args.profile]
    verdicts = check_file(args.image, names)
    if args.json:
        _print_json(jsonfmt.OrderedObject((v.profile, v.as_dict()) for v in verdicts))
    else:
        rows = [[v.profile, "accept" if v.accepted else "REJECT", v.message] for v in verdicts]
        print("\n".join(table(rows, indent="")))
    return EXIT_OK if all(v.accepted for v in verdicts) else EXIT_CHECK_FAILED


# ---------------------------------------------------------------- initramfs

INITRAMFS_HELP = """\
Pack a folder into a newc cpio archive (the kernel's initramfs format), the same
bytes on any machine: entries sorted by path, uid/gid 0, every mtime set to --mtime
(default: SOURCE_DATE_EPOCH if set, else 0), inode numbers assigned in order, no host
device numbers (device nodes keep only their major/minor), hard links stored as
separate files. An OUTPUT ending in .gz is gzip-compressed with no file name and
mtime 0 in the gzip header (level 9).

examples:
  eifkit initramfs rootfs/ -o app.cpio.gz
  eifkit initramfs bootstrap/ -o bootstrap.cpio --mtime 0
"""


def _add_initramfs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "initramfs",
        help="pack a folder into a reproducible cpio (initramfs)",
        description=INITRAMFS_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("folder", metavar="DIR")
    p.add_argument("-o", "--output", required=True, metavar="OUT.cpio[.gz]")
    p.add_argument(
        "--mtime",
        type=int,
        metavar="SECONDS",
        help="mtime of every entry (default: SOURCE_DATE_EPOCH, else 0)",
    )
    p.add_argument(
        "--prefix",
        metavar="PATH",
        default="",
        help="put everything under this folder in the archive (e.g. rootfs)",
    )
    p.set_defaults(func=cmd_initramfs)


def _mtime(value: int | None) -> int:
    if value is not None:
        if value < 0 or value > 0xFFFFFFFF:
            raise InputError(f"--mtime {value} does not fit the cpio field (0..4294967295)")
        return value
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return int(sde)
        except ValueError:
            raise InputError(f"SOURCE_DATE_EPOCH is {sde!r}, expected seconds") from None
    return 0


def cmd_initramfs(args: argparse.Namespace) -> int:
    from ..inspect.initramfs import tree_entries, write_archive

    entries = tree_entries(args.folder, mtime=_mtime(args.mtime), prefix=args.prefix)
    size = write_archive(entries, args.output)
    print(f"Wrote {args.output}: {len(entries)} entries, {size} bytes of cpio")
    return EXIT_OK


# ---------------------------------------------------------------- extract / diff

EXTRACT_HELP = """\
Write each section of IMAGE to its own file in DIR (a new or empty folder): kernel,
cmdline.txt, ramdisk-N.cpio (or .cpio.gz, or .bin if not cpio; as stored), metadata.json
(as stored), signature.cbor (if signed), section-I-type-T.bin for other sections, and
build-args.json: {"reproducible", "notes", "args", "command"}, the `eifkit build`
arguments that rebuild IMAGE byte for byte when run in DIR (with
custom-metadata.json), or the reasons why they cannot (signed, odd layout ...).

--unpack also unpacks each cpio ramdisk into DIR/ramdisk-N/. Members that would land
outside it (absolute paths, '..', writing through a symlink an earlier member made)
are refused with an error; device nodes are not created; setuid/setgid bits dropped.

example:
  eifkit extract app.eif -o parts/ && cd parts && eifkit build $(jq -r '.args|@sh' build-args.json)
"""


def _add_extract(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "extract",
        help="write every section to a file, plus build-args.json",
        description=EXTRACT_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--unpack", action="store_true", help="also unpack each cpio ramdisk")
    p.add_argument("--lenient", action="store_true", help="accept odd files (fixtures)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    from ..extract import extract

    image = read(args.image, strict=not args.lenient)
    try:
        result = extract(image, args.output, unpack=args.unpack)
    except EifError as e:
        raise e.with_path(args.image) from None
    if args.json:
        _print_json(
            jsonfmt.OrderedObject(
                Folder=result.folder,
                Files=result.files,
                BuildArgs=result.build_args,
                Unpacked=jsonfmt.OrderedObject(result.unpacked),
            )
        )
    else:
        print(f"Wrote {len(result.files)} files to {result.folder}: {', '.join(result.files)}")
        ba = result.build_args
        if ba["reproducible"]:
            print(f"Rebuild (in {result.folder}): {ba['command']}")
        else:
            print("Not reproducible with eifkit build: " + "; ".join(ba["notes"]))
        for name, u in result.unpacked.items():
            extra = f", not created: {len(u['not_created'])}" if u["not_created"] else ""
            print(f"Unpacked {name} into {u['folder']} ({u['entries']} entries{extra})")
    return EXIT_OK


DIFF_HELP = """\
Compare two EIFs and say why their PCRs differ: header fields, the section table, each
PCR (same / differs, and which sections feeding it differ), metadata key by key, the
cmdline, and for cpio ramdisks the files added, removed or changed (content, mode,
uid, gid, mtime).

Exit status: 0 if the images have the same content, 1 if they differ, 2 on bad input.
"""


def _add_diff(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "diff",
        help="what differs between two EIFs, down to ramdisk files",
        description=DIFF_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("a", metavar="A.eif")
    p.add_argument("b", metavar="B.eif")
    p.add_argument("--lenient", action="store_true", help="accept odd files (fixtures)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    from ..diff import diff_images, diff_text

    a = read(args.a, strict=not args.lenient)
    b = read(args.b, strict=not args.lenient)
    d = diff_images(a, b, _measure(args, a), _measure(args, b))
    if args.json:
        _print_json(d)
    else:
        print(diff_text(d, args.a, args.b))
    return EXIT_OK if d["Identical"] else EXIT_CHECK_FAILED


# ---------------------------------------------------------------- main

MAIN_HELP = """\
eifkit reads, writes, measures and checks AWS Nitro Enclaves EIF v4 images.

exit codes: 0 success, 1 a check failed, 2 bad usage or bad input
"""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=MAIN_HELP, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_build(sub)
    _add_describe(sub)
    _add_pcr(sub)
    _add_sign(sub)
    _add_verify(sub)
    _add_pcr0_payload(sub)
    _add_fixtures(sub)
    _add_check(sub)
    _add_initramfs(sub)
    _add_extract(sub)
    _add_diff(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EifError as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return EXIT_USAGE
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"{PROG}: error: {where}{e.strerror or e}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
