"""What ``eifkit build`` decides before it assembles an image: which architecture, which
metadata values (eifkit's defaults or eif_build 0.3.1's), whether the kernel and the
ramdisks can boot. Each rule returns findings (data); refusals are InputErrors.
Printing is left to the caller.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from ._version import __version__
from .buildinputs import BuildInputs
from .errors import InputError
from .format import Arch
from .inputs import archive_mtime, utf8_text
from .metadata import BuildInfo, Metadata, parse_kernel_config
from .sources import FileSource, GeneratedSource, Source
from .timefmt import default_build_time, is_rfc3339

# eif_build's own values, used by --eif-build-compat.
EIF_BUILD_TOOL = "eif_build"
EIF_BUILD_TOOL_VERSION = "0.3.1"
DEFAULT_IMAGE_VERSION = "1.0"
DEFAULT_IMG_OS = "OS"
DEFAULT_IMG_KERNEL = "kernel"
EIFKIT_BUILD_TOOL = "eifkit"
# Lint findings in ramdisks eifkit could read as cpio; others cannot be judged.
_READABLE_RAMDISK_FORMATS = ("cpio", "cpio.gz")


@dataclass(frozen=True)
class BuildFinding:
    """Something a build noticed: ``level`` is "warning" (built anyway) or "error" (the
    enclave could not start; built only because ``force`` was given). ``path`` is the
    input it is about (a file, or the --bootstrap/--rootfs folder), if any."""

    level: str
    message: str
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def choose_arch(
    kernel: str, arch: Arch | None, *, force: bool, eif_build_compat: bool
) -> tuple[Arch, list[BuildFinding], str | None]:
    """The EIF's architecture: ``arch``, else the kernel's, else x86_64 (under
    eif_build compatibility: x86_64, as eif_build does). Refuses a kernel Nitro cannot
    boot, or one whose architecture contradicts ``arch``, unless ``force``. Also returns
    the kernel's release (``uname -r``), when its version string says it, for the
    ramdisk check of kernel modules."""
    from .inspect.kernel import inspect_source

    findings: list[BuildFinding] = []
    info = inspect_source(FileSource.open(kernel, "kernel"))
    if info.format == "unknown":
        if not eif_build_compat:
            findings.append(
                BuildFinding(
                    "warning",
                    "not a kernel eifkit recognises (bzImage, arm64 Image); building anyway",
                    kernel,
                )
            )
    elif not info.bootable and not force:
        raise InputError(f"the kernel is {info.problem}; use --force to build anyway", path=kernel)
    kernel_arch = info.arch if info.arch in ("x86_64", "aarch64") else None
    if arch is None:
        if eif_build_compat:
            if kernel_arch == "aarch64":
                findings.append(
                    BuildFinding(
                        "warning",
                        "the kernel is aarch64, but the EIF is marked x86_64 as eif_build "
                        "marks it without --arch; add --arch aarch64",
                        kernel,
                    )
                )
            return Arch.X86_64, findings, info.release
        return Arch(kernel_arch or "x86_64"), findings, info.release
    if kernel_arch and arch.value != kernel_arch and not force:
        raise InputError(
            f"--arch {arch.value} contradicts the kernel, which is {kernel_arch} "
            f"({info.format}); use --force to build anyway",
            path=kernel,
        )
    return arch, findings, info.release


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


def _build_info(choice: BuildInputs) -> tuple[BuildInfo, list[BuildFinding]]:
    """BuildMetadata's values: eif_build's with a kernel config under compat (it takes
    them all from itself and the config), else each given value or its default."""
    findings: list[BuildFinding] = []
    from_config = parse_kernel_config(choice.kernel_config) if choice.kernel_config else None
    compat = choice.eif_build_compat
    tool, tool_version = (
        (EIF_BUILD_TOOL, EIF_BUILD_TOOL_VERSION) if compat else (EIFKIT_BUILD_TOOL, __version__)
    )
    img_os, img_kernel = from_config or (DEFAULT_IMG_OS, DEFAULT_IMG_KERNEL)
    build_time = choice.build_time
    given = {
        "--build-time": choice.build_time,
        "--build-tool": choice.build_tool,
        "--build-tool-version": choice.build_tool_version,
        "--img-os": choice.img_os,
        "--img-kernel": choice.img_kernel,
    }
    if compat and from_config is not None:
        ignored = [flag for flag, value in given.items() if value is not None]
        if ignored:
            findings.append(
                BuildFinding(
                    "warning",
                    f"{', '.join(ignored)} ignored: with --kernel-config, eif_build (and "
                    "--eif-build-compat) takes every build value from itself and the config",
                )
            )
        build_time = None
    else:
        tool = _or(choice.build_tool, tool)
        tool_version = _or(choice.build_tool_version, tool_version)
        img_os = _or(choice.img_os, img_os)
        img_kernel = _or(choice.img_kernel, img_kernel)
    if build_time is None:
        build_time = default_build_time(as_eif_build=compat)
    elif not is_rfc3339(build_time):
        findings.append(
            BuildFinding(
                "warning",
                f"build time {build_time!r} is not an RFC 3339 time such as "
                "2024-06-21T12:00:00+00:00; stored as given",
            )
        )
    values = dict(zip(given, (build_time, tool, tool_version, img_os, img_kernel), strict=True))
    for flag, value in values.items():
        utf8_text(value, flag)
    return BuildInfo(build_time, tool, tool_version, img_os, img_kernel), findings


def choose_metadata(choice: BuildInputs, custom: object) -> tuple[Metadata, list[BuildFinding]]:
    """The metadata section's values for the build ``choice`` (None: the default).

    eifkit: each given value wins; OperatingSystem/KernelVersion from the kernel config
    otherwise; BuildTool eifkit; BuildTime SOURCE_DATE_EPOCH or now.
    eif_build 0.3.1 (``eif_build_compat``): ImageVersion is the name (its bug); with a
    kernel config, build time, tool, tool version, OS and kernel version all come from
    eif_build itself, whatever was given.
    """
    findings: list[BuildFinding] = []
    name = choice.name
    if name is None:
        name = utf8_text(os.path.basename(choice.kernel), "kernel file name")
    version = choice.version
    if choice.eif_build_compat:
        if version is not None:
            findings.append(
                BuildFinding(
                    "warning",
                    "--version is ignored under --eif-build-compat, as eif_build ignores it",
                )
            )
        version = choice.name
    info, info_findings = _build_info(choice)
    meta = Metadata(
        image_name=utf8_text(name, "--name"),
        image_version=utf8_text(_or(version, DEFAULT_IMAGE_VERSION), "--version"),
        build_info=info,
        docker_info=choice.docker_info,
        custom=custom,
    )
    return meta, findings + info_findings


def lint_ramdisks(
    sources: Sequence[Source],
    labels: Sequence[str],
    arch: Arch,
    *,
    force: bool,
    kernel_release: str | None = None,
) -> list[BuildFinding]:
    """Look inside each ramdisk. An "error" in a ramdisk eifkit can read as cpio (no
    /init, an /init for another CPU, a damaged archive) refuses the build unless
    ``force``; a ramdisk it cannot read (perhaps xz- or zstd-compressed cpio, which a
    kernel may accept) only gives a warning."""
    from .inspect.ramdisk import inspect_ramdisk

    findings: list[BuildFinding] = []
    for i, (source, label) in enumerate(zip(sources, labels, strict=True)):
        if isinstance(source, GeneratedSource):
            said = source.lint(i, arch.value, kernel_release) if source.lint else []
            findings += [BuildFinding(level, message, label) for level, message in said]
            continue
        info = inspect_ramdisk(source, i, arch.value, kernel_release=kernel_release)
        for f in info.findings:
            certain = f.level == "error" and info.format in _READABLE_RAMDISK_FORMATS
            findings.append(BuildFinding("error" if certain else "warning", f.message, label))
    refused = [f for f in findings if f.level == "error"]
    if refused and not force:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise InputError(
            f"{refused[0].message}{more}: the enclave could not start; use --force to build anyway",
            path=refused[0].path,
        )
    return findings


def check_app_lines(cmd: Sequence[str], env: Sequence[str], rootfs: str | None) -> None:
    """The app ramdisk's cmd and env lines: only with a rootfs; env items are KEY=VALUE."""
    if (cmd or env) and not rootfs:
        raise InputError("--cmd and --env go with --rootfs")
    for item in env:
        if "=" not in item:
            raise InputError(f"--env {item!r} is not KEY=VALUE")
    for item in cmd:
        utf8_text(item, "--cmd")
    for item in env:
        utf8_text(item, "--env")


@dataclass(frozen=True)
class FolderRamdisk:
    """A ramdisk made from a folder into a temporary cpio. The cpio is removed by
    :meth:`remove`, or when the last section using ``source`` is gone."""

    folder: str
    source: FileSource
    path: str

    def remove(self) -> None:
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


def pack_folder(
    folder: str,
    output: str,
    *,
    mtime: int,
    prefix: str = "",
    app: tuple[Sequence[str], Sequence[str]] | None = None,
) -> tuple[int, int]:
    """Write ``folder`` as a reproducible newc cpio at ``output`` (gzip if it ends in
    .gz): as it is under ``prefix``, or in nitro-cli's app layout with ``app = (cmd,
    env)``. Returns (entries, bytes of cpio). A name that is not UTF-8 is an InputError."""
    from .inspect.initramfs import app_entries, tree_entries, write_archive

    try:
        entries = (
            tree_entries(folder, mtime=mtime, prefix=utf8_text(prefix, "--prefix"))
            if app is None
            else app_entries(folder, list(app[0]), list(app[1]), mtime=mtime)
        )
        return len(entries), write_archive(entries, output, inputs=[folder])
    except UnicodeEncodeError as e:
        raise InputError(
            f"a file name or link target in the folder is not UTF-8: {e.object!r}", path=folder
        ) from None


CPIO_FORMATS = ("eifkit", "nitro-cli")


def check_cpio_format(inputs: BuildInputs) -> None:
    """``cpio_format`` is known, and "nitro-cli" comes with a folder to apply it to."""
    if inputs.cpio_format not in CPIO_FORMATS:
        raise InputError(
            f"cpio format {inputs.cpio_format!r} is not one of {', '.join(CPIO_FORMATS)}"
        )
    if inputs.cpio_format == "nitro-cli" and not (inputs.bootstrap or inputs.rootfs):
        raise InputError("--cpio-format nitro-cli goes with --bootstrap or --rootfs")


def folder_ramdisk(
    folder: str,
    name: str,
    cpio_format: str,
    made: list[FolderRamdisk],
    *,
    app: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Source:
    """The ramdisk of ``folder`` (a bootstrap one, or an app one with ``app = (cmd,
    env)``) in ``cpio_format``: eifkit's (a temporary cpio named ``name``, added to
    ``made``) or nitro-cli's (made in memory or while it is read; no file)."""
    if cpio_format == "nitro-cli":
        from .container.bootstrap import Blobs
        from .container.folder import rootfs_source
        from .container.ramdisks import bootstrap_source

        if app is None:
            return bootstrap_source(Blobs.find(folder))
        return rootfs_source(folder, app[0], app[1])
    made.append(ramdisk_from_folder(folder, name, app=app))
    return made[-1].source


def ramdisk_from_folder(
    folder: str, name: str, *, app: tuple[Sequence[str], Sequence[str]] | None = None
) -> FolderRamdisk:
    """A reproducible cpio of ``folder`` (mtime from SOURCE_DATE_EPOCH, else 0): as it is
    (a bootstrap ramdisk), or in nitro-cli's app layout with ``app = (cmd, env)``."""
    mtime = archive_mtime(None)
    tmp = tempfile.mkdtemp(prefix="eifkit-ramdisk.")
    path = os.path.join(tmp, name)
    try:
        pack_folder(folder, path, mtime=mtime, app=app)
        source = FileSource.open(path, "ramdisk")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(source, shutil.rmtree, tmp, ignore_errors=True)
    return FolderRamdisk(folder=folder, source=source, path=path)
