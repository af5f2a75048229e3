"""Reading container images without Docker (eifkit.container.image, issue 12).

The nitro-cli vectors give each image twice: as `docker save` wrote it (legacy format,
plain layers) and as skopeo converted it to an OCI layout (gzip layers). Every other
form (OCI-in-tar, OCI archive, zstd, a plain tar labelled gzip, image indexes,
several images, hostile archives) is built here from those.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

from eifkit.container import ContainerImage, open_image
from eifkit.container.selection import name_matches
from eifkit.errors import ImageError, LimitError
from tests.conftest import VECTORS

NITRO = VECTORS / "nitro-cli"
CASES = [
    "c1-entrypoint-only",
    "c2-cmd-entrypoint-env",
    "c3-multilayer",
    "c5-names-mtimes-ids",
    "c6-mtime-over-32bit",
    "c7-implicit-parents",
    "c8-crosslayer-hardlinks",
]
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def case_manifest(case: str) -> dict[str, Any]:
    return json.loads((NITRO / case / "MANIFEST.json").read_text())


def layer_tar_bytes(image: ContainerImage, index: int) -> bytes:
    with image.layers[index].open_tar() as f:
        return f.read()


def layer_members(image: ContainerImage, index: int) -> list[tuple[str, str | None]]:
    """(name, sha256 of a regular file's body) of every member, read with tarfile
    from the stream open_tar gives."""
    found = []
    with image.layers[index].open_tar() as f, tarfile.open(fileobj=f, mode="r:") as tar:
        for info in tar:
            body = tar.extractfile(info) if info.isreg() else None
            digest = hashlib.sha256(body.read()).hexdigest() if body else None
            found.append((info.name, digest))
    return found


def expected_members(case: str) -> list[list[tuple[str, str | None]]]:
    layers = case_manifest(case)["image_contents"]["layers"]
    return [
        [(e["name"], e.get("sha256") if e["kind"] == "file" else None) for e in layer]
        for layer in layers
    ]


def writable_copy(src: Path, dst: Path) -> Path:
    """A copy of a (read-only) vector folder that the test may change."""
    shutil.copytree(src, dst)
    for path in [dst, *dst.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dst


def put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    """Store ``data`` as a blob of ``layout``; its digest and size."""
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def read_json_blob(layout: Path, digest: str) -> dict[str, Any]:
    return json.loads(blob_path(layout, digest).read_bytes())


def only_manifest(layout: Path) -> dict[str, Any]:
    """The descriptor of the one manifest in ``layout``'s index.json."""
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    return entry


def set_index(layout: Path, entries: list[dict[str, Any]]) -> None:
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}))


def relayer(layout: Path, encode: Any, media_type: str) -> None:
    """Rewrite every layer of ``layout``'s one image as ``encode(uncompressed tar)``
    labelled ``media_type``, and the manifest and index.json to match."""
    entry = only_manifest(layout)
    manifest = read_json_blob(layout, entry["digest"])
    for layer in manifest["layers"]:
        plain = gzip.decompress(blob_path(layout, layer["digest"]).read_bytes())
        layer.update(put_blob(layout, encode(plain)), mediaType=media_type)
    entry.update(put_blob(layout, json.dumps(manifest).encode()))
    set_index(layout, [entry])


def tar_folder(folder: Path, out: Path, extra: dict[str, bytes] | None = None) -> Path:
    """An uncompressed tar of ``folder``'s files (names relative to it), plus
    ``extra`` members."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def image_error(spec: str | Path, **kwargs: Any) -> str:
    """The one-line message open_image (and then reading every layer) gives."""
    with pytest.raises(ImageError) as caught, open_image(str(spec), **kwargs) as image:
        for layer in image.layers:
            with layer.open_tar() as f:
                f.read()
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def limit_error(spec: str | Path, limit: str, **kwargs: Any) -> str:
    """The one-line message of the LimitError open_image (and then reading every
    layer) gives, which must name ``limit``."""
    with pytest.raises(LimitError) as caught, open_image(str(spec), **kwargs) as image:
        for layer in image.layers:
            with layer.open_tar() as f:
                f.read()
    message = str(caught.value)
    assert "\n" not in message and caught.value.limit == limit
    return message


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    """Where decompressed layers go; checked empty after each test."""
    folder = tmp_path / "layers-temp"
    folder.mkdir()
    yield folder
    assert list(folder.iterdir()) == []


# -- the vectors, from both forms -------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("form", ["docker-save.tar", "oci-layout"])
def test_every_case_opens_with_its_layers_and_config(case: str, form: str, temp_dir: Path) -> None:
    expected = case_manifest(case)
    with open_image(str(NITRO / case / form), temp_dir=str(temp_dir)) as image:
        assert [layer.index for layer in image.layers] == list(range(expected["n_layers"]))
        for i, members in enumerate(expected_members(case)):
            assert layer_members(image, i) == members
            tar = layer_tar_bytes(image, i)
            assert (
                "sha256:" + hashlib.sha256(tar).hexdigest() == "sha256:" + expected["diff_ids"][i]
            )
        if form == "oci-layout":
            written = expected["oci_layouts"]["oci-layout"]
            assert image.reference == "v1"
            assert image.digest == only_manifest(NITRO / case / form)["digest"]
            assert [(layer.digest, layer.media_type) for layer in image.layers] == [
                (d["digest"], d["mediaType"]) for d in written["manifest_layers"]
            ]
            assert image.config["config"] == written["config_Config"]
            assert (
                "sha256:" + hashlib.sha256(image.config_bytes).hexdigest()
                == written["config_digest"]
            )
            (folder,) = temp_dir.iterdir()
            assert len(list(folder.iterdir())) == expected["n_layers"]  # the gzip layers
        else:
            assert image.reference == expected["docker_ref"]
            assert image.digest is None
            assert [layer.digest for layer in image.layers] == [
                "sha256:" + d for d in expected["diff_ids"]
            ]
            config = image.config["config"]
            for key in ("Cmd", "Entrypoint", "Env"):
                assert config.get(key) == expected["config_as_written"].get(key)
            assert (
                "sha256:" + hashlib.sha256(image.config_bytes).hexdigest() == expected["image_id"]
            )
            assert list(temp_dir.iterdir()) == []  # plain layers are read in place


def test_layer_stream_is_seekable_and_a_window(temp_dir: Path) -> None:
    with open_image(str(NITRO / "c3-multilayer" / "docker-save.tar")) as image:
        whole = layer_tar_bytes(image, 1)
        with image.layers[1].open_tar() as f:
            assert f.seek(0, io.SEEK_END) == len(whole) == 20480
            f.seek(512)
            assert f.read(100) == whole[512:612]
            f.seek(len(whole) - 3)
            assert f.read(10) == whole[-3:]


def test_temporary_files_go_on_close(temp_dir: Path) -> None:
    image = open_image(str(NITRO / "c3-multilayer" / "oci-layout"), temp_dir=str(temp_dir))
    layer_tar_bytes(image, 0)
    (folder,) = temp_dir.iterdir()
    assert [p.name for p in folder.iterdir()] == ["layer-0.tar"]
    image.close()
    image.close()
    assert list(temp_dir.iterdir()) == []
    with pytest.raises(ImageError, match="the image was closed"), image.layers[1].open_tar():
        pass
    assert list(temp_dir.iterdir()) == []


# -- other forms, built from the vectors ------------------------------------------


def test_oci_archive_tar(tmp_path: Path, temp_dir: Path) -> None:
    archive = tar_folder(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "oci.tar")
    with open_image(f"{archive}:v1", temp_dir=str(temp_dir)) as image:
        assert image.reference == "v1"
        assert [layer_members(image, i) for i in range(3)] == expected_members("c3-multilayer")


def test_docker_save_whose_layers_are_links(tmp_path: Path) -> None:
    """Docker 25+ keeps layer data under blobs/sha256/ and may write <id>/layer.tar
    as a link to it: a symlink (relative) or a hard link, both followed."""
    out = tmp_path / "linked.tar"
    kinds = []
    with (
        tarfile.open(NITRO / "c3-multilayer" / "docker-save.tar") as tar,
        tarfile.open(out, "w") as linked,
    ):
        for info in tar:
            body = tar.extractfile(info) if info.isreg() else None
            if not info.name.endswith("/layer.tar"):
                linked.addfile(info, body)
                continue
            blob = tarfile.TarInfo(f"blobs/sha256/{info.name.split('/')[0]}")
            blob.size = info.size
            linked.addfile(blob, body)
            link = tarfile.TarInfo(info.name)
            link.type = tarfile.SYMTYPE if len(kinds) % 2 else tarfile.LNKTYPE
            link.linkname = f"../{blob.name}" if len(kinds) % 2 else blob.name
            linked.addfile(link)
            kinds.append(link.type)
    assert kinds == [tarfile.LNKTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]
    with open_image(str(out)) as image:
        assert [layer_members(image, i) for i in range(3)] == expected_members("c3-multilayer")


def test_docker_oci_in_tar_selected_by_full_reference(tmp_path: Path, temp_dir: Path) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    entry = only_manifest(layout)
    entry["annotations"] = {
        "io.containerd.image.name": "docker.io/eifkit-vectors/c3-multilayer:v1",
        "org.opencontainers.image.ref.name": "v1",
    }
    set_index(layout, [entry])
    manifest = read_json_blob(layout, entry["digest"])
    legacy = [
        {
            "Config": "blobs/sha256/" + manifest["config"]["digest"][7:],
            "RepoTags": ["eifkit-vectors/c3-multilayer:v1"],
            "Layers": ["blobs/sha256/" + d["digest"][7:] for d in manifest["layers"]],
        }
    ]
    archive = tar_folder(
        layout, tmp_path / "save.tar", {"manifest.json": json.dumps(legacy).encode()}
    )
    spec = f"{archive}:eifkit-vectors/c3-multilayer:v1"
    with open_image(spec, temp_dir=str(temp_dir)) as image:
        assert image.reference == "docker.io/eifkit-vectors/c3-multilayer:v1"
        assert image.digest == entry["digest"]
        assert [layer_members(image, i) for i in range(3)] == expected_members("c3-multilayer")


@pytest.mark.parametrize(
    ("encode", "media_type"),
    [(lambda tar: zstd.compress(tar), ZSTD_LAYER), (lambda tar: tar, GZIP_LAYER)],
    ids=["zstd", "plain-tar-labelled-gzip"],
)
def test_layer_compression_is_sniffed(
    tmp_path: Path, temp_dir: Path, encode: Any, media_type: str
) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    relayer(layout, encode, media_type)
    with open_image(str(layout), temp_dir=str(temp_dir)) as image:
        assert {layer.media_type for layer in image.layers} == {media_type}
        assert [layer_members(image, i) for i in range(3)] == expected_members("c3-multilayer")
        diff_ids = case_manifest("c3-multilayer")["diff_ids"]
        assert [hashlib.sha256(layer_tar_bytes(image, i)).hexdigest() for i in range(3)] == diff_ids


def multi_platform_layout(tmp_path: Path, nested: bool = False) -> Path:
    """One layout: an image index whose amd64 manifest is c1's and arm64 is c3's."""
    layout = writable_copy(NITRO / "c1-entrypoint-only" / "oci-layout", tmp_path / "multi")
    c3 = NITRO / "c3-multilayer" / "oci-layout"
    for blob in (c3 / "blobs" / "sha256").iterdir():
        shutil.copy(blob, layout / "blobs" / "sha256" / blob.name)
    amd64 = dict(only_manifest(layout), platform={"os": "linux", "architecture": "amd64"})
    arm64 = dict(
        only_manifest(c3), platform={"os": "linux", "architecture": "arm64", "variant": "v8"}
    )
    attestation = dict(amd64, platform={"os": "unknown", "architecture": "unknown"})
    for entry in (amd64, arm64, attestation):
        entry.pop("annotations")
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [amd64, arm64, attestation]}
    top = dict(put_blob(layout, json.dumps(index).encode()), mediaType=INDEX_TYPE)
    if nested:
        outer = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [top]}
        top = dict(put_blob(layout, json.dumps(outer).encode()), mediaType=INDEX_TYPE)
    set_index(layout, [dict(top, annotations={"org.opencontainers.image.ref.name": "multi"})])
    return layout


@pytest.mark.parametrize("nested", [False, True])
def test_platform_chosen_from_an_index(tmp_path: Path, temp_dir: Path, nested: bool) -> None:
    layout = multi_platform_layout(tmp_path, nested)
    c1_digest = only_manifest(NITRO / "c1-entrypoint-only" / "oci-layout")["digest"]
    c3_digest = only_manifest(NITRO / "c3-multilayer" / "oci-layout")["digest"]
    for arch, digest in [
        (None, c1_digest),
        ("x86_64", c1_digest),
        ("amd64", c1_digest),
        ("aarch64", c3_digest),
        ("arm64", c3_digest),
    ]:
        with open_image(f"{layout}:multi", arch=arch, temp_dir=str(temp_dir)) as image:
            assert image.digest == digest
            assert image.reference == "multi"
    message = image_error(layout, arch="s390x", temp_dir=str(temp_dir))
    assert "s390x" in message and "linux/amd64, linux/arm64/v8" in message


# -- choosing among several images ------------------------------------------------


def two_image_docker_save(tmp_path: Path) -> Path:
    """One docker-save archive holding c1 and c3 (both tagged v1)."""
    out = tmp_path / "two.tar"
    manifests: list[Any] = []
    with tarfile.open(out, "w") as merged:
        for case in ("c1-entrypoint-only", "c3-multilayer"):
            with tarfile.open(NITRO / case / "docker-save.tar") as tar:
                for info in tar:
                    if info.name == "manifest.json":
                        manifests += json.load(tar.extractfile(info))
                    elif info.name != "repositories" and info.name not in merged.getnames():
                        merged.addfile(info, tar.extractfile(info) if info.isreg() else None)
        data = json.dumps(manifests).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        merged.addfile(info, io.BytesIO(data))
    return out


def test_selection_in_a_docker_save(tmp_path: Path) -> None:
    archive = two_image_docker_save(tmp_path)
    message = image_error(archive)
    assert (
        "2 images" in message
        and "c1-entrypoint-only:v1" in message
        and "c3-multilayer:v1" in message
    )
    assert "names 2 images" in image_error(f"{archive}:v1")
    assert "no image 'v2'" in image_error(f"{archive}:v2")
    with open_image(f"{archive}:eifkit-vectors/c3-multilayer:v1") as image:
        assert len(image.layers) == 3
    assert "no image 'eifkit-vectors/c3-multilayer'" in image_error(
        f"{archive}:eifkit-vectors/c3-multilayer"
    )
    image_id = case_manifest("c1-entrypoint-only")["image_id"]
    with open_image(f"{archive}@{image_id}") as image:
        assert image.reference == "eifkit-vectors/c1-entrypoint-only:v1"
        assert image.config["config"]["Entrypoint"][0] == "/bin/busybox"


def test_selection_in_an_oci_layout(tmp_path: Path, temp_dir: Path) -> None:
    layout = writable_copy(NITRO / "c1-entrypoint-only" / "oci-layout", tmp_path / "a:b")
    c3 = NITRO / "c3-multilayer" / "oci-layout"
    for blob in (c3 / "blobs" / "sha256").iterdir():
        shutil.copy(blob, layout / "blobs" / "sha256" / blob.name)
    one, three = only_manifest(layout), only_manifest(c3)
    three["annotations"]["org.opencontainers.image.ref.name"] = "v3"
    set_index(layout, [one, three])
    assert "2 images" in image_error(layout)
    with open_image(f"{layout}:v3", temp_dir=str(temp_dir)) as image:  # PATH has a ':'
        assert image.digest == three["digest"] and len(image.layers) == 3
    with open_image(f"{layout}@{one['digest']}", temp_dir=str(temp_dir)) as image:
        assert image.reference == "v1" and len(image.layers) == 1
    assert "no image 'sha256:" in image_error(f"{layout}@sha256:{'0' * 64}")
    again = dict(one, annotations={"org.opencontainers.image.ref.name": "latest"})
    set_index(layout, [one, again])  # one image under two tags
    with open_image(str(layout), temp_dir=str(temp_dir)) as image:
        assert image.digest == one["digest"] and image.reference == "v1"
    with open_image(f"{layout}:latest", temp_dir=str(temp_dir)) as image:
        assert image.digest == one["digest"] and image.reference == "latest"
    assert "not found" in image_error(tmp_path / "nothing-here.tar:v1")


# -- hostile and broken inputs ---------------------------------------------------


def test_blob_digest_mismatch(tmp_path: Path, temp_dir: Path) -> None:
    """A layer blob replaced by another valid gzip of the same tar (so only its
    digest tells): refused on first open, and no temporary file is left."""
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    entry = only_manifest(layout)
    manifest = read_json_blob(layout, entry["digest"])
    layer = blob_path(layout, manifest["layers"][1]["digest"])
    other = gzip.compress(gzip.decompress(layer.read_bytes()), mtime=12345)
    layer.write_bytes(other)
    manifest["layers"][1]["size"] = len(other)
    entry.update(put_blob(layout, json.dumps(manifest).encode()))
    set_index(layout, [entry])
    message = image_error(layout, temp_dir=str(temp_dir))
    assert (
        layer.name in message and f"sha256 is sha256:{hashlib.sha256(other).hexdigest()}" in message
    )


def test_config_digest_mismatch(tmp_path: Path) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    config = blob_path(
        layout, read_json_blob(layout, only_manifest(layout)["digest"])["config"]["digest"]
    )
    config.write_bytes(config.read_bytes().replace(b"/usr/bin/tool", b"/usr/bin/evil"))
    assert config.name in image_error(layout)


def test_plain_docker_save_layer_changed(tmp_path: Path) -> None:
    """A legacy layer.tar whose bytes are not its config's diff_id is refused when it
    is first opened, before any byte is handed out."""
    source = NITRO / "c1-entrypoint-only" / "docker-save.tar"
    archive = tmp_path / "save.tar"
    with tarfile.open(source) as tar:
        layer = next(info for info in tar if info.name.endswith("/layer.tar"))
    data = bytearray(source.read_bytes())
    data[layer.offset_data + layer.size // 2] ^= 1  # inside bin/busybox's body
    archive.write_bytes(bytes(data))
    assert "layer.tar" in image_error(archive)


def test_truncated_blob(tmp_path: Path, temp_dir: Path) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    layer = blob_path(
        layout, read_json_blob(layout, only_manifest(layout)["digest"])["layers"][0]["digest"]
    )
    layer.write_bytes(layer.read_bytes()[:100])
    assert "descriptor says 640" in image_error(layout, temp_dir=str(temp_dir))


def test_a_gzip_layer_of_garbage_is_an_image_error(tmp_path: Path, temp_dir: Path) -> None:
    # isal's error type is not an OSError: it escaped as an internal error (exit 3).
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    garbage = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 2
    relayer(layout, lambda plain: garbage, "application/vnd.oci.image.layer.v1.tar+gzip")
    assert "cannot decompress gzip layer" in image_error(layout, temp_dir=str(temp_dir))


def test_truncated_archive(tmp_path: Path) -> None:
    archive = tmp_path / "cut.tar"
    archive.write_bytes((NITRO / "c3-multilayer" / "docker-save.tar").read_bytes()[:30000])
    image_error(archive)


def test_missing_blob(tmp_path: Path) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    digest = read_json_blob(layout, only_manifest(layout)["digest"])["layers"][2]["digest"]
    blob_path(layout, digest).unlink()
    message = image_error(layout)
    assert "layer 2" in message and "missing" in message and digest[7:] in message


def test_huge_json_is_refused_unread(tmp_path: Path) -> None:
    layout = writable_copy(NITRO / "c3-multilayer" / "oci-layout", tmp_path / "layout")
    with open(layout / "index.json", "r+b") as f:
        f.truncate(16 * 1024 * 1024 + 1)  # sparse: nothing is written
    assert "at most 16777216 allowed" in limit_error(layout, "json_bytes")
    set_index(layout, [dict(only_manifest(NITRO / "c3-multilayer" / "oci-layout"), size=1 << 40)])
    assert "descriptor says 1099511627776" in image_error(layout)
    (layout / "index.json").write_text("[" * 100_000)
    assert "index.json is not JSON" in image_error(layout)
    (layout / "index.json").write_text("[]")
    assert "index.json is not a JSON object" in image_error(layout)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b/layer.tar"])
def test_member_names_that_leave_the_archive(tmp_path: Path, name: str) -> None:
    with tarfile.open(NITRO / "c1-entrypoint-only" / "docker-save.tar") as tar:
        (legacy,) = json.load(tar.extractfile("manifest.json"))
    legacy["Layers"] = [name]
    folder = tmp_path / "save"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps([legacy]))
    archive = tar_folder(folder, tmp_path / "save.tar")
    assert "leaves the image" in image_error(archive)
    assert "leaves the image" in image_error(folder)


def test_decompressed_layer_limit(temp_dir: Path) -> None:
    message = limit_error(
        NITRO / "c3-multilayer" / "oci-layout",
        "max_layer_bytes",
        max_layer_bytes=1000,
        temp_dir=str(temp_dir),
    )
    assert "more than 1000 bytes" in message and "blobs/sha256/" in message
    assert not list(temp_dir.rglob("*.tar"))


def test_layer_and_member_counts_are_limits(tmp_path: Path, monkeypatch: Any) -> None:
    """Past a count eifkit refuses to index: a LimitError naming the file, the count
    found and the limit (not an ImageError: the image may be fine, only too large)."""
    from eifkit.container import ocilayout, resolved, stores

    layout = NITRO / "c3-multilayer" / "oci-layout"
    archive = NITRO / "c3-multilayer" / "docker-save.tar"
    monkeypatch.setattr(ocilayout, "MAX_LAYERS", 2)
    assert "lists 3 layers, at most 2" in limit_error(layout, "max_layers")
    monkeypatch.setattr(resolved, "MAX_LAYERS", 2)
    assert "image has 3 layers, at most 2 allowed" in limit_error(archive, "max_layers")
    monkeypatch.setattr(stores, "MAX_ARCHIVE_MEMBERS", 5)
    message = limit_error(archive, "max_archive_members")
    assert message.startswith(str(archive)) and "more than 5 members" in message
    monkeypatch.setattr(ocilayout, "MAX_DESCRIPTORS", 0)
    assert "lists 1 manifests, at most 0" in limit_error(layout, "max_descriptors")


def test_a_fixed_limit_is_one_line_on_the_command_line(tmp_path: Path, monkeypatch: Any) -> None:
    from eifkit.container import resolved
    from tests.test_container_cli import run

    monkeypatch.setattr(resolved, "MAX_LAYERS", 2)
    archive = NITRO / "c3-multilayer" / "docker-save.tar"
    code, _, err = run("initramfs", "--image", str(archive), "-o", str(tmp_path / "c.cpio"))
    assert code == 2 and err.count("\n") == 1
    assert "image has 3 layers, at most 2 allowed (a fixed limit of eifkit)" in err


def test_compressed_outer_archive_and_other_files(tmp_path: Path) -> None:
    packed = tmp_path / "save.tar.gz"
    packed.write_bytes(
        gzip.compress((NITRO / "c1-entrypoint-only" / "docker-save.tar").read_bytes())
    )
    assert "decompress it first" in image_error(packed)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "neither a docker save archive" in image_error(empty)
    text = tmp_path / "notes.txt"
    text.write_bytes(os.urandom(2000))
    image_error(text)


@pytest.mark.parametrize(
    ("name", "selector", "matches"),
    [
        ("docker.io/library/busybox:latest", "busybox", True),
        ("docker.io/library/busybox:latest", "busybox:latest", True),
        ("docker.io/library/busybox:latest", "library/busybox:latest", True),
        ("docker.io/library/busybox:latest", "latest", True),
        ("docker.io/library/busybox:1.36", "busybox", False),
        ("eifkit-vectors/c3-multilayer:v1", "c3-multilayer:v1", False),
        ("registry:5000/app:v1", "v1", True),
        ("registry:5000/app", "5000/app", False),
        ("v1", "v1", True),
    ],
)
def test_name_matching(name: str, selector: str, matches: bool) -> None:
    assert name_matches(name, selector) is matches
