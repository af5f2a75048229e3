"""What ``eifkit build`` takes, as one value: :class:`BuildInputs`.

Its own module so that the build (``build.py``) and the policy it applies
(``buildpolicy.py``) both import it and neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .format import DEFAULT_CPUS, DEFAULT_MEMORY, Arch
from .image import Section
from .sources import Source

if TYPE_CHECKING:  # pyca/cryptography loads only for signed builds (start-up time)
    from .signing.signers import Signer


@dataclass(frozen=True)
class BuildInputs:
    """Everything ``eifkit build`` takes; each field is the option of the same name.

    Ramdisks come in this order: ``bootstrap`` (a folder made into a cpio),
    ``ramdisk_sources`` (ramdisks a caller made, each ``(label, source)``), the
    ``ramdisks`` files, ``rootfs`` (a folder made into nitro-cli's app layout with the
    ``cmd`` and ``env`` lines); ``cpio_format`` "nitro-cli" makes the two folders
    into nitro-cli's exact ramdisks instead (:mod:`eifkit.container.folder`). Give
    ``cmdline`` or ``cmdline_file`` (one trailing newline dropped), ``custom_metadata``
    (a JSON value) or ``metadata_file``.
    A value left None takes eifkit's default, or eif_build 0.3.1's when
    ``eif_build_compat`` is set (see README "eif_build compatibility").
    ``build_time`` may be any string (a warning if it is not RFC 3339).
    ``force`` builds even when the kernel or a ramdisk could not boot; ``lint=False``
    does not look inside the ramdisks; ``output``, when given, must not be an input.
    Paths are opened when the image is made.
    """

    kernel: str
    ramdisks: Sequence[str] = ()
    cmdline: str | bytes | None = None
    arch: Arch | None = None
    name: str | None = None
    version: str | None = None
    custom_metadata: Any = None
    build_time: str | None = None
    build_tool: str | None = None
    build_tool_version: str | None = None
    img_os: str | None = None
    img_kernel: str | None = None
    default_mem: int = DEFAULT_MEMORY
    default_cpus: int = DEFAULT_CPUS
    extra_sections: Sequence[Section] = field(default=())
    # Signing: the certificate's file bytes (stored verbatim) and a signer for PCR0.
    signing_certificate: bytes | None = None
    signer: Signer | None = None
    cmdline_file: str | None = None
    metadata_file: str | None = None
    kernel_config: str | None = None
    bootstrap: str | None = None
    rootfs: str | None = None
    cmd: Sequence[str] = ()
    env: Sequence[str] = ()
    eif_build_compat: bool = False
    force: bool = False
    lint: bool = True
    output: str | None = None
    ramdisk_sources: Sequence[tuple[str, Source]] = ()
    # how --bootstrap and --rootfs folders become cpio: "eifkit" or "nitro-cli"
    cpio_format: str = "eifkit"
    # DockerInfo of the metadata (nitro-cli's docker inspect; from an image's config)
    docker_info: Any = None

    def input_files(self) -> list[str]:
        """Every file this build reads (not the folders)."""
        named = [self.kernel, *self.ramdisks, self.metadata_file, self.cmdline_file]
        return [p for p in [*named, self.kernel_config] if p]
