"""eifkit build: parse the options, call :func:`eifkit.build.build_image`, write, print."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from .._version import __version__
from ..build import BuildFinding, BuildInputs, build_image
from ..errors import InputError
from ..format import Arch
from ..measure import ALGORITHMS, DEFAULT_ALGORITHM
from ..writer import WriteTimes
from .common import (
    EXIT_OK,
    PROG,
    add_command,
    add_direct_io,
    add_output,
    add_quiet,
    add_signing_key_options,
    print_written,
    signing_inputs,
    warn,
    write_image,
)

# Options whose value may start with "-" (``--cmd -c``, ``--build-time -1`` as eif_build
# stored it): main() joins each to the next argument, as getopt does.
DASH_VALUE_OPTIONS = (
    "--cmd",
    "--env",
    "--cmdline",
    "--name",
    "--version",
    "--build-time",
    "--build-tool",
    "--build-tool-version",
    "--img-os",
    "--img-kernel",
)

BUILD_HELP = """\
Build an EIF v4 image from a kernel, one or more ramdisks and a kernel command line,
in AWS's layout (kernel, cmdline, metadata, ramdisks), computing the CRC32 exactly as
the loaders verify it and the PCR measurements in the same pass. The output is
written to a temporary file beside OUTPUT and renamed into place when complete.

eif_build's spellings are accepted: --ramdisk, --output, --kernel_config.

Differences from eif_build, on purpose (README "eif_build compatibility" lists all):
  --version is honoured (eif_build stores the --name value as ImageVersion);
  BuildTool/BuildToolVersion default to eifkit and its version;
  --build-time defaults to SOURCE_DATE_EPOCH when that is set;
  with --kernel-config, the values given on the command line still win;
  --arch defaults to the kernel's architecture (eif_build: always x86_64);
  a kernel or ramdisk that could not boot is refused unless --force.
Use --eif-build-compat to get eif_build's exact bytes for the same arguments.

examples:
  eifkit build --kernel bzImage --initrd init.cpio --initrd app.cpio \\
      --cmdline "console=ttyS0 reboot=k" -o app.eif
  SOURCE_DATE_EPOCH=0 eifkit build --kernel bzImage --initrd init.cpio \\
      --cmdline-file cmdline.txt -o app.eif --json
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "build", "build an EIF from a kernel, ramdisks and a cmdline", BUILD_HELP)
    p.add_argument(
        "--kernel",
        metavar="FILE",
        help="kernel image (bzImage or arm64 Image; needed unless --image)",
    )
    g = p.add_argument_group(
        "from a container image, as nitro-cli build-enclave does (no Docker needed)",
        "--image IMAGE (a docker save archive, OCI layout or OCI archive; PATH:TAG or "
        "PATH@sha256:DIGEST) makes nitro-cli 1.5.0's bootstrap and customer ramdisks and "
        "takes the kernel, its config and the cmdline (trimmed) from --blobs; given "
        "options win. --arch must match the image (it picks the platform of a "
        "multi-platform image). ImageName: the reference before ':'; ImageVersion: the "
        "image ID; DockerInfo: what the image says of itself. The PCRs are nitro-cli's.",
    )
    g.add_argument("--image", dest="container_image", metavar="IMAGE", help="the container image")
    g.add_argument(
        "--blobs",
        metavar="DIR",
        help="nitro-cli's blobs folder (default /usr/share/nitro_enclaves/blobs)",
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
        "`eifkit initramfs` (reproducible; mtime from SOURCE_DATE_EPOCH, else 0), or as "
        "nitro-cli makes them with --cpio-format nitro-cli.",
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
        "the files cmd and env (--cmd is needed, unless --force)",
    )
    g.add_argument(
        "--cpio-format",
        choices=("eifkit", "nitro-cli"),
        default="eifkit",
        help="eifkit (default): as above; nitro-cli: the bytes nitro-cli 1.5.0 would "
        "make: --bootstrap DIR as a blobs folder (its init and nsm.ko), --rootfs DIR as "
        "the filesystem of a one-layer image with --cmd/--env as its Cmd/Env (owners, "
        "modes and mtimes taken from DIR, so keep them as the image has them; "
        "SOURCE_DATE_EPOCH is not used)",
    )
    g.add_argument(
        "--cmd",
        action="append",
        default=[],
        metavar="ARG",
        help="a line of the app ramdisk's cmd file (repeat, in order; an ARG may start "
        "with -: --cmd sh --cmd -c --cmd 'echo hi')",
    )
    g.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a line of the app ramdisk's env file (repeat)",
    )
    cmd = p.add_mutually_exclusive_group()
    cmd.add_argument("--cmdline", metavar="STRING", help="the kernel command line")
    cmd.add_argument(
        "--cmdline-file",
        metavar="FILE",
        help="read the command line from FILE (one trailing newline is dropped)",
    )
    add_output(p, "FILE", "where to write the EIF")
    p.add_argument(
        "--arch",
        choices=[a.value for a in Arch],
        default=None,
        help="architecture flag in the header (default: the kernel's, else x86_64; "
        "x86_64 under --eif-build-compat); one that contradicts the kernel is an error "
        "unless --force",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="build even if the kernel is one Nitro cannot boot (ELF vmlinux, compressed "
        "arm64, 32-bit) or its architecture contradicts --arch, or a ramdisk's /init "
        "could not run (missing, not executable, for another CPU, damaged cpio), or a "
        "kernel module is for another kernel or CPU, or --rootfs has no --cmd",
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
        metavar="TIME",
        help="BuildTime in the metadata, stored as given (a warning if it is not RFC 3339; "
        "default: SOURCE_DATE_EPOCH if set, else now)",
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
        "(--img-os/--img-kernel still win, except under --eif-build-compat)",
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
        "0.3.1, ImageVersion taken from --name (its bug; --version is ignored), x86_64 "
        "unless --arch, and with --kernel-config every build value from eif_build itself",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print nitro-cli\'s JSON: {"Measurements": {"HashAlgorithm": ..., "PCR0": ...}}',
    )
    add_signing_key_options(p)
    add_quiet(p)
    p.add_argument(
        "--no-lint",
        action="store_true",
        help="do not look inside the ramdisks (by default no /init or an /init for another "
        "CPU refuses the build unless --force, and smaller problems are warnings)",
    )
    p.add_argument(
        "--fsync",
        action="store_true",
        help="flush the EIF to the disk before it is renamed into place, so it "
        "survives a power loss (costs the disk's write speed)",
    )
    add_direct_io(p)
    p.add_argument(
        "--timings",
        action="store_true",
        help="say on stderr where the build's time went: inputs and lint, reading, "
        "hashing and CRC, waiting for the disk",
    )


# BuildInputs fields that are options of the same name (dest); the others are mapped below.
SAME_NAMED = [
    "kernel",
    "ramdisks",
    "cmdline",
    "cmdline_file",
    "name",
    "build_time",
    "build_tool",
    "build_tool_version",
    "img_os",
    "img_kernel",
    "kernel_config",
    "default_cpus",
    "bootstrap",
    "rootfs",
    "cpio_format",
    "cmd",
    "env",
    "eif_build_compat",
    "force",
    "output",
]


def inputs_from_args(args: argparse.Namespace) -> BuildInputs:
    """The library's build request for these options (signing keys are opened here)."""
    signing = signing_inputs(args)
    return BuildInputs(
        **{name: getattr(args, name) for name in SAME_NAMED},
        arch=Arch(args.arch) if args.arch is not None else None,
        version=args.image_version,
        metadata_file=args.metadata,
        default_mem=args.default_memory << 20,
        signing_certificate=signing[0] if signing else None,
        signer=signing[1] if signing else None,
        lint=not args.no_lint,
    )


def timings_line(total: float, t: WriteTimes) -> str:
    before = max(0.0, total - t.total)
    return (
        f"timings: {total:.2f} s after start-up: inputs and lint {before:.2f} s, "
        f"reading {t.read:.2f} s, hashing and CRC {t.measure:.2f} s, waiting for the disk "
        f"{t.disk:.2f} s, other {t.other:.2f} s"
    )


def print_finding(finding: BuildFinding) -> None:
    note = " (the enclave could not start)" if finding.level == "error" else ""
    warn(f"{finding}{note}")


def run(args: argparse.Namespace) -> int:
    if args.container_image is not None:
        return _from_image(args)
    if not args.kernel:
        raise InputError("--kernel FILE is needed (or --image IMAGE)")
    return _build(args, inputs_from_args(args))


def _from_image(args: argparse.Namespace) -> int:
    from ..container import open_image
    from ..container.bootstrap import Blobs
    from ..container.eif import nitro_cli_build_inputs
    from ..inputs import source_date_epoch

    blobs = Blobs.find(args.blobs)
    platform = {"x86_64": "amd64", "aarch64": "arm64"}.get(args.arch or "")
    with open_image(args.container_image, arch=platform) as image:
        inputs, customer = nitro_cli_build_inputs(
            inputs_from_args(args),
            image,
            blobs,
            implicit_dir_mtime=source_date_epoch() or 0,
        )
        for message in customer.warnings:
            warn(f"{args.container_image}: {message}")
        return _build(args, dataclasses.replace(inputs, output=args.output))


def _build(args: argparse.Namespace, inputs: BuildInputs) -> int:
    started = time.perf_counter()
    with build_image(inputs) as built:
        for finding in built.findings:
            print_finding(finding)
        image = built.image
        result = write_image(
            args,
            image,
            args.output,
            "building",
            layout="canonical",
            algo=args.algo,
            fsync=args.fsync,
        )
    if args.timings:
        sys.stderr.write(f"{PROG}: {timings_line(time.perf_counter() - started, result.times)}\n")
    headline = (
        f"Built {result.path}: {result.size} bytes, {len(image.sections)} sections, "
        f"CRC32 {result.crc32:#010x}"
    )
    print_written(args, headline, result.measurements)
    return EXIT_OK
