"""Container images read without Docker: a ``docker save`` archive (the legacy
``manifest.json`` format or the OCI-in-tar format newer Docker writes), an OCI image
layout folder or an OCI archive tar.

:func:`open_image` finds one image in such a file and returns a
:class:`ContainerImage`: its config and its layers, each of which opens as a seekable
uncompressed tar (:meth:`Layer.open_tar`). Nothing is copied for a plain layer: it is
read in place. A gzip or zstd layer is decompressed once, streaming, into a temporary
folder, so that folder takes the uncompressed size of the image's compressed layers
(as many bytes as a ``docker load`` would store) until :meth:`ContainerImage.close`.
Every blob is checked against its digest before its bytes are handed out, except
that a caller may check the plain layers on a worker thread while it reads them
(:meth:`ContainerImage.check_layers_in_background`) and wait for the result before it
trusts what it made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..errors import ImageError, shown
from .blobs import (
    DEFAULT_MAX_LAYER_BYTES,
    decompress_blob,
    open_window,
    sniff_compression,
    verify_blob,
)
from .dockersave import MANIFEST_NAME, read_docker_save
from .ocilayout import INDEX_NAME, read_oci_layout
from .resolved import ResolvedImage, ResolvedLayer
from .stores import open_store


@dataclass(frozen=True)
class Layer:
    """One layer of an image, ``index`` 0 the lowest."""

    digest: str  # "sha256:<hex>" of the blob as stored (compressed or not)
    media_type: str  # as declared (do not trust it: the compression is sniffed)
    index: int  # 0 = lowest layer
    _files: _LayerFiles | None = field(default=None, repr=False, compare=False)

    def open_tar(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """A SEEKABLE binary stream of the UNCOMPRESSED layer tar. Plain tar inside a
        docker-save archive or an OCI layout: a window onto the file, no copy.
        gzip/zstd: decompressed once into a temporary file (deleted when the image is
        closed). The blob's digest is checked the first time, before anything is
        returned (or, after :meth:`ContainerImage.check_layers_in_background`, by
        :meth:`ContainerImage.wait_for_checks`); a mismatch is an
        :class:`~eifkit.errors.ImageError`."""
        if self._files is None:
            raise ImageError(f"layer {self.index} ({self.digest}) has no data attached")
        return self._files.open(self.index)


@dataclass(frozen=True)
class ContainerImage:
    """One image of an archive: its name and digest, its config, its layers. Close it
    (or use it as a context manager) to remove its temporary files."""

    source: str  # the path the user gave
    reference: str | None  # the tag/name (e.g. "eifkit-vectors/c3-multilayer:v1") or None
    digest: str | None  # manifest digest when known
    # the whole image config JSON (its "config" has Cmd, Entrypoint, Env ...)
    config: Mapping[str, Any]
    config_bytes: bytes  # the config blob as stored
    layers: tuple[Layer, ...]
    _files: _LayerFiles | None = field(default=None, repr=False, compare=False)

    def close(self) -> None:
        """Remove the temporary files of decompressed layers (safe to call twice)."""
        if self._files is not None:
            self._files.close()

    def check_layers_in_background(self) -> None:
        """Check the digests of the plain (uncompressed) layers on a worker thread,
        while their headers and data are read: :meth:`wait_for_checks` must then be
        called before anything made from their bytes is trusted (a caller writing a
        file calls it before the file is renamed into place)."""
        if self._files is not None:
            self._files.check_in_background()

    def wait_for_checks(self) -> None:
        """Wait for the checks :meth:`check_layers_in_background` started; the
        ImageError of the first that failed (nothing if none were started)."""
        if self._files is not None:
            self._files.wait_for_checks()

    def __enter__(self) -> ContainerImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LayerFiles:
    """The layers' bytes: where each is, whether its digest was checked, and the
    temporary folder holding the decompressed ones (removed by :meth:`close`, or when
    this object is garbage-collected or the interpreter exits)."""

    def __init__(
        self, layers: tuple[ResolvedLayer, ...], max_layer_bytes: int, temp_dir: str | None
    ) -> None:
        self._layers = layers
        self._max_layer_bytes = max_layer_bytes
        self._temp_parent = temp_dir
        self._folder: str | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._ready: dict[int, str | None] = {}  # index -> decompressed file, None = in place
        self._closed = False
        self._checks: list[Future[None]] = []
        self._checker: ThreadPoolExecutor | None = None
        self._stop_checks = threading.Event()

    def _new_folder(self) -> str:
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="eifkit-layers-", dir=self._temp_parent)
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def _prepare(self, index: int) -> str | None:
        """Check layer ``index`` (and decompress it) once; its file if decompressed."""
        if self._closed:
            raise ImageError("the image was closed", path=self._layers[index].location.name)
        if index in self._ready:
            return self._ready[index]
        layer = self._layers[index]
        compression = sniff_compression(layer.location)
        if compression == "tar":
            verify_blob(layer.location, layer.digest)
            self._check_plain(index)
            self._ready[index] = None
            return None
        out = os.path.join(self._new_folder(), f"layer-{index}.tar")
        decompress_blob(
            layer.location, compression, layer.digest, layer.diff_id, out, self._max_layer_bytes
        )
        self._ready[index] = out
        return out

    def _check_plain(self, index: int) -> None:
        layer = self._layers[index]
        if layer.digest != layer.diff_id:
            raise ImageError(
                f"layer {index} is an uncompressed tar with sha256 {layer.digest}, "
                f"but the config's diff_id is {layer.diff_id}",
                path=layer.location.name,
            )

    def check_in_background(self) -> None:
        """Queue the digest check of every plain layer not yet checked on one worker
        thread (hashlib hashes without the GIL) and count them ready."""
        for index, layer in enumerate(self._layers):
            if index in self._ready or sniff_compression(layer.location) != "tar":
                continue
            self._check_plain(index)
            if self._checker is None:
                self._checker = ThreadPoolExecutor(1, thread_name_prefix="eifkit-digest")
            self._checks.append(
                self._checker.submit(verify_blob, layer.location, layer.digest, self._stop_checks)
            )
            self._ready[index] = None

    def wait_for_checks(self) -> None:
        checks, self._checks = self._checks, []
        try:
            for check in checks:
                check.result()
        except BaseException:
            self._ready.clear()  # nothing counts as checked any more
            raise
        finally:
            for check in checks:
                check.cancel()

    def _stream(self, index: int) -> BinaryIO:
        decompressed = self._prepare(index)
        if decompressed is None:
            return open_window(self._layers[index].location)
        return open(decompressed, "rb")  # the caller closes it

    @contextlib.contextmanager
    def open(self, index: int) -> Iterator[BinaryIO]:
        """Layer ``index`` as a seekable uncompressed tar stream."""
        location = self._layers[index].location
        try:
            stream = self._stream(index)
        except OSError as e:
            raise ImageError(
                f"cannot read layer {index}: {e.strerror or e}", path=location.name
            ) from None
        with stream:
            yield stream

    def close(self) -> None:
        self._closed = True
        if self._checker is not None:
            self._stop_checks.set()
            self._checker.shutdown(wait=True, cancel_futures=True)
            self._checker = None
        self._checks = []
        if self._cleanup is not None:
            self._cleanup()
        self._ready.clear()
        self._folder = None
        self._cleanup = None


def _split_spec(spec: str) -> tuple[str, str | None]:
    """``PATH`` and the selector after it (a tag or name after ``:``, a digest after
    ``@``). ``PATH`` may contain ``:`` or ``@`` itself: the longest prefix that exists
    is taken as the path."""
    if os.path.exists(spec):
        return spec, None
    for i in range(len(spec) - 1, 0, -1):
        if spec[i] in ":@" and os.path.exists(spec[:i]):
            selector = spec[i + 1 :]
            if spec[i] == "@" and not selector.startswith("sha256:"):
                raise ImageError(f"digest {shown(selector)} is not sha256:<hex>", path=spec[:i])
            if spec[i] == ":" and selector.startswith("sha256:"):
                raise ImageError("a digest is written PATH@sha256:<hex>", path=spec[:i])
            if not selector:
                raise ImageError("nothing after the ':' or '@' that names the image", path=spec[:i])
            return spec[:i], selector
    raise ImageError("image archive or folder not found", path=spec)


def _read(path: str, selector: str | None, arch: str | None) -> ResolvedImage:
    """The image in ``path``, the format told from its contents, not its name."""
    store = open_store(path)
    if store.exists(INDEX_NAME):
        return read_oci_layout(store, selector, arch)
    if store.exists(MANIFEST_NAME):
        return read_docker_save(store, selector)
    raise ImageError(
        "is neither a docker save archive (no manifest.json) nor an OCI layout (no index.json)",
        path=path,
    )


def open_image(
    spec: str,
    *,
    arch: str | None = None,
    max_layer_bytes: int = DEFAULT_MAX_LAYER_BYTES,
    temp_dir: str | None = None,
) -> ContainerImage:
    """spec: PATH, PATH:TAG or PATH@sha256:<hex>; PATH is a docker-save tar (legacy
    manifest.json or OCI-in-tar), an OCI layout directory, or an OCI archive tar.

    ``arch`` (``amd64``/``x86_64``, ``arm64``/``aarch64`` ...) picks the platform when
    an image index lists several (default: the only one, else amd64).
    ``max_layer_bytes`` bounds what one compressed layer may expand to;
    ``temp_dir`` is where decompressed layers go (default: the system's temporary
    folder, ``TMPDIR``); it takes the uncompressed size of the gzip/zstd layers (none
    for a ``docker save`` archive, whose layers are plain) until the image is closed.
    Reads only the small JSON files here; layers are checked and decompressed on
    their first :meth:`Layer.open_tar`. Raises
    :class:`~eifkit.errors.ImageError` (one line) on anything unusable."""
    path, selector = _split_spec(spec)
    try:
        resolved = _read(path, selector, arch)
    except OSError as e:
        raise ImageError(f"cannot read: {e.strerror or e}", path=path) from None
    files = _LayerFiles(resolved.layers, max_layer_bytes, temp_dir)
    layers = tuple(
        Layer(layer.digest, layer.media_type, i, files) for i, layer in enumerate(resolved.layers)
    )
    return ContainerImage(
        source=spec,
        reference=resolved.reference,
        digest=resolved.digest,
        config=resolved.config,
        config_bytes=resolved.config_bytes,
        layers=layers,
        _files=files,
    )
