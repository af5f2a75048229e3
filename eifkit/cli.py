"""Command-line front end: parse arguments, call the library, print. No format logic here.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, jsonfmt
from .build import (
    EIF_BUILD_TOOL,
    EIF_BUILD_TOOL_VERSION,
    BuildInputs,
    check_build_time,
    check_output_not_input,
    make_image,
)
from .errors import EifError, InputError
from .format import Arch
from .measure import (
    ALGORITHM_LABELS,
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    extend_from_zero,
    measure_image,
    pcr_of_bytes,
)
from .metadata import load_custom_metadata, parse_kernel_config
from .reader import read
from .report import describe, describe_json, describe_text, table
from .signing import load_certificate
from .writer import write

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
        required=True,
        metavar="FILE",
        help="a ramdisk (usually a cpio archive); repeat for more, in boot order: the first "
        "is measured into PCR1, the others into PCR2",
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
        default=Arch.X86_64.value,
        help="architecture flag in the header (default: x86_64)",
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
    p.set_defaults(func=cmd_build)


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
    custom = load_custom_metadata(args.metadata) if args.metadata else None
    inputs = BuildInputs(
        kernel=args.kernel,
        ramdisks=args.ramdisks,
        cmdline=cmdline,
        arch=Arch(args.arch),
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
    )
    image = make_image(inputs)
    inputs_used = [
        args.kernel,
        *args.ramdisks,
        args.metadata,
        args.cmdline_file,
        args.kernel_config,
    ]
    check_output_not_input(args.output, [p for p in inputs_used if p])
    result = write(image, args.output, layout="canonical", algo=args.algo)
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
eifkit's own: Arch, DefaultMemory, DefaultCpus, Cmdline, CRC, FileSize, Sections,
Findings (odd but harmless things: gaps, trailing bytes, unusual order ...).

By default the file must be a valid EIF v4 (see --lenient). A CRC mismatch is
reported (CheckCRC false), not an error.
"""


def _add_image_reading_options(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--json", action="store_true", help="print JSON (fields listed above)")
    p.set_defaults(func=cmd_describe)


def cmd_describe(args: argparse.Namespace) -> int:
    image = read(args.image, strict=not args.lenient)
    m = measure_image(image, args.algo)
    try:
        d = describe(image, m, strict=not args.lenient)
    except EifError as e:
        raise e.with_path(args.image) from None
    if args.json:
        _print_json(describe_json(d))
    else:
        print(describe_text(d))
    return EXIT_OK


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
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_pcr)


def _hash_file_pcr(path: str, algo: str) -> bytes:
    from .image import FileSource
    from .measure import new_hash, pcr_of_digest

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
        m = measure_image(image, algo)
        values.update(m.as_dict())
        if image.is_signed and m.pcr8 is None:
            _warn(f"{args.image}: PCR8 unknown: {m.signature_error}")
    elif algo != DEFAULT_ALGORITHM:
        values["HashAlgorithm"] = ALGORITHM_LABELS[algo]
    if args.input:
        values["PCR"] = _hash_file_pcr(args.input, algo).hex()
    if args.signing_certificate:
        from cryptography.hazmat.primitives.serialization import Encoding

        path = args.signing_certificate
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError as e:
            raise InputError(f"cannot read certificate: {e.strerror}", path=path) from None
        try:
            der = load_certificate(data).public_bytes(Encoding.DER)
        except EifError as e:
            raise e.with_path(path) from None
        values["PCR8"] = pcr_of_bytes(der, algo).hex()
    if args.role_arn is not None:
        values["PCR3"] = extend_from_zero(args.role_arn.encode("utf-8"), algo).hex()
    if args.instance_id is not None:
        values["PCR4"] = extend_from_zero(args.instance_id.encode("utf-8"), algo).hex()
    if args.json:
        _print_json(values)
    else:
        rows = [[k, v] for k, v in sorted(values.items()) if k != "HashAlgorithm"]
        print("\n".join(table(rows, indent="")))
    return EXIT_OK


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
