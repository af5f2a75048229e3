"""The build inputs of the EIF nitro-cli 1.5.0 would build from a container image.

nitro-cli takes the kernel, its config and the command line from its blobs folder,
packs the bootstrap and customer ramdisks (here: sources the EIF writer reads, so no
ramdisk is written to disk), sets the architecture flag from the image's
architecture, and writes metadata whose ImageName is the image reference before its
first ``:``, whose ImageVersion is the image ID (the config digest, without
``sha256:``) and whose DockerInfo is ``docker inspect``'s answer. Without a Docker
daemon, DockerInfo holds what the image itself says (its ID, tags, creation time,
architecture, OS, config and root filesystem), not the daemon's own fields (size,
storage driver, load time): only the metadata differs from nitro-cli's; no PCR does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from ..buildinputs import BuildInputs
from ..errors import InputError
from ..format import Arch
from ..jsonfmt import OrderedObject
from .bootstrap import Blobs
from .image import ContainerImage
from .pcrs import nitro_cli_cmdline
from .ramdisks import CustomerSource, bootstrap_source, customer_source

ARCH_OF_IMAGE = {"amd64": Arch.X86_64, "arm64": Arch.AARCH64}


def image_id(image: ContainerImage) -> str:
    """Docker's image ID: ``sha256:`` and the digest of the config blob."""
    return "sha256:" + hashlib.sha256(image.config_bytes).hexdigest()


def docker_info(image: ContainerImage) -> OrderedObject:
    """``docker inspect``'s fields that the image itself determines."""
    config: Mapping[str, Any] = image.config
    info = OrderedObject(Id=image_id(image))
    info["RepoTags"] = [image.reference] if image.reference and ":" in image.reference else []
    for key, field in (
        ("Created", "created"),
        ("Author", "author"),
        ("Architecture", "architecture"),
        ("Variant", "variant"),
        ("Os", "os"),
        ("Config", "config"),
        ("RootFS", "rootfs"),
    ):
        if field in config:
            info[key] = config[field]
    return info


def image_arch(image: ContainerImage) -> Arch:
    name = str(image.config.get("architecture", ""))
    if name not in ARCH_OF_IMAGE:
        raise InputError(
            f"the image is for {name or 'an unnamed architecture'}; Nitro runs amd64 or arm64",
            path=image.source,
        )
    return ARCH_OF_IMAGE[name]


def nitro_cli_build_inputs(
    inputs: BuildInputs,
    image: ContainerImage,
    blobs: Blobs,
    *,
    implicit_dir_mtime: int = 0,
) -> tuple[BuildInputs, CustomerSource]:
    """``inputs`` completed as nitro-cli completes them for ``image``: its bootstrap
    ramdisk (in memory) and customer ramdisk (made while the EIF is written, from
    ``image``, which must stay open until then) as ``ramdisk_sources``, and every value
    not given taken from ``blobs`` and the image (kernel, cmdline trimmed as Rust trims,
    kernel config, architecture, ImageName, ImageVersion, DockerInfo)."""
    if inputs.ramdisks or inputs.ramdisk_sources or inputs.bootstrap or inputs.rootfs:
        raise InputError("an image build makes its own two ramdisks; give no other ramdisk")
    kernel = inputs.kernel or blobs.kernel
    if not kernel:
        raise InputError("the blobs folder has no kernel; give --kernel", path=blobs.folder)
    arch = image_arch(image)
    if inputs.arch is not None and inputs.arch != arch:
        raise InputError(
            f"--arch {inputs.arch.value} contradicts the image, which is for {arch.value}",
            path=image.source,
        )
    bootstrap = bootstrap_source(blobs)
    customer = customer_source(image, implicit_dir_mtime=implicit_dir_mtime)
    given_cmdline = inputs.cmdline is not None or inputs.cmdline_file is not None
    name = inputs.name or (image.reference or os.path.basename(image.source)).split(":")[0]
    completed = dataclasses.replace(
        inputs,
        kernel=kernel,
        ramdisk_sources=(
            (f"{blobs.folder} (bootstrap ramdisk)", bootstrap),
            (f"{image.source} (customer ramdisk)", customer.source),
        ),
        cmdline=inputs.cmdline if given_cmdline else nitro_cli_cmdline(blobs),
        kernel_config=inputs.kernel_config or blobs.kernel_config,
        arch=arch,
        name=name,
        version=inputs.version or image_id(image).removeprefix("sha256:"),
        docker_info=inputs.docker_info if inputs.docker_info is not None else docker_info(image),
    )
    return completed, customer
