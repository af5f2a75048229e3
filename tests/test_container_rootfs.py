"""nitro-cli 1.5.0's customer ramdisk from container image layers (issue 12, item 2).

The vectors in shared/vectors/nitro-cli were made by the real Docker 20.10.24 and
linuxkit 1.5.2; every case must come out byte for byte. Layer semantics are also
checked on made-up layer stacks against a small model written here (a flat dict of
paths), not against the tree the code keeps.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import tarfile
import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eifkit.container import ContainerImage, nitro_cli_cmd_env, write_customer_ramdisk
from eifkit.container.linuxkit import CpioEntry, LayerBytes, NewcWriter
from eifkit.container.nitro import lines
from eifkit.container.rootfs import container_filesystem
from eifkit.errors import EifError, FormatError, InputError
from tests.conftest import VECTORS
from tests.legacy_docker_save import OpenedLayer, bytes_opener, open_legacy_docker_save

CASES = ("c1-entrypoint-only", "c2-cmd-entrypoint-env", "c3-multilayer", "c5-names-mtimes-ids")
VFS_CASES = ("c8-crosslayer-hardlinks",)  # known_issue: matches Docker's vfs driver


def nitro_dir() -> Path:
    return VECTORS / "nitro-cli"


def pcr2(data: bytes) -> str:
    return hashlib.sha384(bytes(48) + hashlib.sha384(data).digest()).hexdigest()


def newc_entries(data: bytes) -> list[dict[str, Any]]:
    """A plain newc reader for diffing (8-character fields only)."""
    out, pos = [], 0
    names = [
        "ino",
        "mode",
        "uid",
        "gid",
        "nlink",
        "mtime",
        "filesize",
        "devmajor",
        "devminor",
        "rdevmajor",
        "rdevminor",
        "namesize",
        "check",
    ]
    while pos + 110 <= len(data):
        raw = {n: data[pos + 6 + 8 * i : pos + 14 + 8 * i].decode() for i, n in enumerate(names)}
        start = pos + 110
        name = data[start : start + int(raw["namesize"], 16) - 1].decode("utf-8", "replace")
        body_at = start + int(raw["namesize"], 16)
        body_at += -body_at % 4
        size = int(raw["filesize"], 16)
        body = data[body_at : body_at + size]
        out.append(
            {
                "offset": pos,
                "name": name,
                "raw_fields": raw,
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
        pos = body_at + size + (-(body_at + size) % 4)
        if name == "TRAILER!!!":
            break
    return out


def explain(got: bytes, headers_json: Path) -> str:
    """The first entries where ``got`` differs from the vector's header dump."""
    expected = json.loads(headers_json.read_text())["entries"]
    mine = newc_entries(got)
    lines_out = [f"{len(mine)} entries written, {len(expected)} expected"]
    for have, want in zip(mine, expected, strict=False):
        if "(scratch path)" in want["name"]:
            want = {**want, "name": have["name"]}  # the dump hides this one name
        for key in ("offset", "name", "raw_fields", "sha256"):
            if have[key] != want[key]:
                lines_out.append(f"entry {want['name']!r}: {key} {have[key]!r} != {want[key]!r}")
        if len(lines_out) > 8:
            break
    return "\n".join(lines_out)


def build(case: str, tmp_path: Path, **kwargs: int) -> tuple[bytes, Any]:
    image = open_legacy_docker_save(nitro_dir() / case / "docker-save.tar")
    out = tmp_path / "customer.cpio"
    result = write_customer_ramdisk(image, out, **kwargs)
    return out.read_bytes(), result


def test_the_cases_here_are_the_vectors_without_a_known_issue() -> None:
    index = json.loads((nitro_dir() / "INDEX.json").read_text())["cases"]
    assert {c for c, v in index.items() if v["known_issue"] is None} == set(CASES)
    assert set(VFS_CASES) <= set(index)


@pytest.mark.parametrize("case", CASES + VFS_CASES)
def test_customer_ramdisk_matches_nitro_cli_byte_for_byte(case: str, tmp_path: Path) -> None:
    got, result = build(case, tmp_path)
    want = (nitro_dir() / case / "customer.cpio").read_bytes()
    assert got == want, explain(got, nitro_dir() / case / "customer.cpio.headers.json")
    expected_pcr2 = json.loads((nitro_dir() / "INDEX.json").read_text())["cases"][case]["PCR2"]
    assert pcr2(got) == expected_pcr2
    assert result.pcr2.hex() == expected_pcr2 and result.size == len(want)
    assert lines(list(result.cmd)) == (nitro_dir() / case / "cmd").read_bytes()
    assert lines(list(result.env)) == (nitro_dir() / case / "env").read_bytes()
    assert result.entries == len(newc_entries(want)) - 1


def open_image_or_skip() -> Any:
    """``open_image`` from the image half of issue 12, once it is merged."""
    found = getattr(importlib.import_module("eifkit.container.image"), "open_image", None)
    if found is None:
        pytest.skip("open_image is not in this branch yet")
    return found


@pytest.mark.parametrize("form", ["docker-save.tar", "oci-layout"])
@pytest.mark.parametrize("case", (*CASES, *VFS_CASES, "c7-implicit-parents"))
def test_both_input_forms_give_nitro_clis_bytes(case: str, form: str, tmp_path: Path) -> None:
    """Through ``open_image``: the OCI layout of c5 lost ``Cmd: []`` (skopeo), so its
    expected output is nitro-cli's from that layout; c7 is given each load's time."""
    open_image = open_image_or_skip()
    folder = nitro_dir() / case
    expected = folder / "customer.cpio"
    if form == "oci-layout" and (folder / "customer.via-oci-layout.cpio").exists():
        expected = folder / "customer.via-oci-layout.cpio"
    want = expected.read_bytes()
    implicit = 0
    if case.startswith("c7"):
        mtimes = {e["name"]: e["raw_fields"]["mtime"] for e in newc_entries(want)}
        implicit = int(mtimes["rootfs/data/"], 16)
    with open_image(str(folder / form)) as image:
        write_customer_ramdisk(image, tmp_path / "c.cpio", implicit_dir_mtime=implicit)
    got = (tmp_path / "c.cpio").read_bytes()
    assert got == want, explain(got, folder / "customer.cpio.headers.json")


def test_cross_layer_hard_links_warn_that_overlay2_refuses_them(tmp_path: Path) -> None:
    _, result = build("c8-crosslayer-hardlinks", tmp_path)
    said = "\n".join(result.warnings)
    assert "bin2/tool-hl" in said and "data/b" in said and "overlay2" in said


def test_what_nitro_clis_init_ignores_is_warned_about(tmp_path: Path) -> None:
    _, result = build("c2-cmd-entrypoint-env", tmp_path)
    said = "\n".join(result.warnings)
    assert "WORKDIR" in said and "USER" in said and "ENTRYPOINT" in said
    _, result = build("c1-entrypoint-only", tmp_path)
    assert result.warnings == ()


def test_mtime_over_32_bits_is_refused_not_written_corrupt(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"mtime 4294967301 does not fit") as caught:
        build("c6-mtime-over-32bit", tmp_path)
    assert "docker-save.tar" in str(caught.value) and "rootfs/big.txt" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_implicit_parents_take_the_given_time_and_match_each_load(tmp_path: Path) -> None:
    """c7: nitro-cli's bytes depend on when `docker load` ran. eifkit's rule: such
    directories get ``implicit_dir_mtime`` (0 unless the caller passes e.g.
    SOURCE_DATE_EPOCH); given the load time, each of nitro-cli's outputs comes out."""
    case = nitro_dir() / "c7-implicit-parents"
    for name in ("customer.cpio", "customer.after-reload.cpio"):
        entries = json.loads((case / f"{name}.headers.json").read_text())["entries"]
        load_time = {e["name"]: e["mtime"] for e in entries}["rootfs/data/"]
        got, _ = build("c7-implicit-parents", tmp_path, implicit_dir_mtime=load_time)
        assert got == (case / name).read_bytes(), explain(got, case / f"{name}.headers.json")
    got, result = build("c7-implicit-parents", tmp_path)
    want = newc_entries((case / "customer.cpio").read_bytes())
    differing = [w["name"] for g, w in zip(newc_entries(got), want, strict=True) if g != w]
    assert differing == ["rootfs/data/", "rootfs/keep/", "rootfs/newdir/"]
    assert all(
        int(g["raw_fields"]["mtime"], 16) == 0 for g in newc_entries(got) if g["name"] in differing
    )
    assert "data/, keep/, newdir/" in result.warnings[0] and "docker load" in result.warnings[0]


# ---- cmd and env ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_", "cmd"),
    [
        ({"Cmd": [], "Entrypoint": ["/bin/none"]}, []),
        ({"Cmd": ["/a", "b"], "Entrypoint": ["/e"]}, ["/a", "b"]),
        ({"Cmd": None, "Entrypoint": ["/e", "x"]}, ["/e", "x"]),
        ({"Entrypoint": []}, []),
    ],
)
def test_cmd_is_cmd_whenever_not_null_else_entrypoint(
    settings_: dict[str, Any], cmd: list[str]
) -> None:
    assert nitro_cli_cmd_env({"config": settings_}) == (cmd, [])


def test_neither_cmd_nor_entrypoint_is_an_error_and_env_is_kept_as_is() -> None:
    with pytest.raises(InputError, match="neither Cmd nor Entrypoint"):
        nitro_cli_cmd_env({"config": {"Env": ["A=1"]}})
    with pytest.raises(InputError, match="neither Cmd nor Entrypoint"):
        nitro_cli_cmd_env({})
    with pytest.raises(InputError, match="list of strings"):
        nitro_cli_cmd_env({"config": {"Cmd": "/bin/sh -c x"}})
    _, env = nitro_cli_cmd_env({"config": {"Cmd": ["x"], "Env": ["EQ=a=b", "T=\t\"'", "E="]}})
    assert lines(env) == b"EQ=a=b\nT=\t\"'\nE=\n"


# ---- made-up layer stacks ----------------------------------------------------------


def tar_bytes(members: Iterable[tuple[str, str, Any]]) -> bytes:
    """A layer tar of ``(name, kind, value)``: kind file (value: bytes), dir, symlink
    (value: target), hardlink (value: target name)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 1_600_000_000, 0o644
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, value
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, value
            elif isinstance(value, tuple):  # (bytes, mode, mtime)
                value, info.mode, info.mtime = value
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            else:
                tar.addfile(info)
    return buf.getvalue()


def image_of(layers: list[bytes], config: dict[str, Any] | None = None) -> ContainerImage:
    return ContainerImage(
        source="made-up",
        reference=None,
        digest=None,
        config=config or {"config": {"Cmd": ["/bin/x"]}},
        config_bytes=b"{}",
        layers=tuple(
            OpenedLayer(f"sha256:{i:064x}", "application/x-tar", i, bytes_opener(d))
            for i, d in enumerate(layers)
        ),
    )


INIT_NAMES = (".dockerenv", "dev", "etc", "proc", "sys")


def exported(image: ContainerImage) -> list[tuple[str, str, bytes]]:
    """(export name, kind, content or target) for every non-init entry."""
    streams = [layer.open_tar().__enter__() for layer in image.layers]
    result = []
    for entry in container_filesystem(image).export():
        if entry.name.split("/")[0] in INIT_NAMES:
            continue
        node = entry.node
        if entry.link_to is not None:
            result.append((entry.name, "hardlink", entry.link_to.encode()))
        elif node.kind == "-":
            streams[node.layer].seek(node.offset)
            result.append((entry.name, "file", streams[node.layer].read(node.size)))
        elif node.kind == "l":
            result.append((entry.name, "symlink", node.target.encode()))
        else:
            result.append((entry.name, "dir", b""))
    return result


class Refused(Exception):
    """The model's "Docker fails to load this layer"."""


def model(layers: list[list[tuple[str, str, Any]]]) -> list[tuple[str, str, bytes]]:
    """The OCI changeset rules on a flat {path: inode} dict, walked by comparing
    paths as lists of byte strings; a hard link is a second path to the same inode."""
    tree: dict[str, int] = {}
    inodes: list[tuple[str, bytes]] = []

    def drop(path: str) -> None:
        for p in [p for p in tree if p == path or p.startswith(path + "/")]:
            del tree[p]

    for members in layers:
        seen: set[str] = set()
        for name, kind, value in members:
            parent, _, base = name.rpartition("/")
            if base == ".wh..wh..opq":
                for p in [p for p in tree if p.startswith(parent + "/") and p not in seen]:
                    drop(p)
                continue
            if base.startswith(".wh."):
                drop(f"{parent}/{base[4:]}" if parent else base[4:])
                continue
            if not (kind == "dir" and name in tree and inodes[tree[name]][0] == "dir"):
                drop(name)
                if kind == "hardlink":
                    if value not in tree or inodes[tree[value]][0] == "dir":
                        raise Refused(name)
                    tree[name] = tree[value]
                else:
                    tree[name] = len(inodes)
                    inodes.append(
                        (kind, value if isinstance(value, bytes) else str(value).encode())
                    )
            seen.add(name)
    first: dict[int, str] = {}
    out = []
    for p in sorted(tree, key=lambda p: [c.encode() for c in p.split("/")]):
        kind, value = inodes[tree[p]]
        if kind == "dir":
            out.append((p + "/", "dir", b""))
        elif tree[p] in first:
            out.append((p, "hardlink", first[tree[p]].encode()))
        else:
            first[tree[p]] = p
            out.append((p, kind, value))
    return out


NAMES = st.sampled_from(["a", "B", "a.b", "a-b", "a0", "é"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)


@st.composite
def layer_stacks(draw: st.DrawFn) -> list[list[tuple[str, str, Any]]]:
    """Up to 4 layers of up to 6 changes each, parents written first (as docker build
    does); hard links mostly to a name written before (maybe since removed)."""
    layers: list[list[tuple[str, str, Any]]] = []
    written: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        members: list[tuple[str, str, Any]] = []
        for _ in range(draw(st.integers(1, 6))):
            path = draw(PATHS)
            parts = path.split("/")
            members += [("/".join(parts[:i]), "dir", None) for i in range(1, len(parts))]
            op = draw(st.sampled_from(["file", "dir", "symlink", "hardlink", "whiteout", "opaque"]))
            if op == "whiteout":
                members.append(("/".join([*parts[:-1], ".wh." + parts[-1]]), "file", b""))
            elif op == "opaque":
                members += [(path, "dir", None), (path + "/.wh..wh..opq", "file", b"")]
            elif op == "file":
                members.append((path, "file", draw(st.binary(max_size=5))))
            elif op == "dir":
                members.append((path, op, None))
            elif op == "symlink":
                members.append((path, op, draw(NAMES)))
            else:
                members.append((path, op, draw(st.sampled_from(written) if written else PATHS)))
            if op in ("file", "symlink"):
                written.append(path)
        layers.append(members)
    return layers


@settings(max_examples=300, deadline=None, derandomize=True)
@given(layer_stacks())
def test_layer_semantics_agree_with_a_flat_model(layers: list[list[tuple[str, str, Any]]]) -> None:
    image = image_of([tar_bytes(m) for m in layers])
    try:
        expected = model(layers)
    except Refused:
        with pytest.raises(InputError, match="hard link"):
            exported(image)
    else:
        assert exported(image) == expected


def test_whiteouts_opaque_dirs_and_type_changes_by_hand() -> None:
    layers: list[list[tuple[str, str, Any]]] = [
        [("d", "dir", None), ("d/x", "file", b"x"), ("d/sub", "dir", None),
         ("d/sub/y", "file", b"y"), ("f", "file", b"f"), ("s", "symlink", "d"),
         ("gone", "dir", None), ("gone/z", "file", b"z")],
        [("d", "dir", None), ("d/.wh..wh..opq", "file", b""), ("d/new", "file", b"n"),
         ("f", "dir", None), ("f/in", "file", b"i"), ("s", "file", b"s"),
         (".wh.gone", "file", b"")],
    ]  # fmt: skip
    assert exported(image_of([tar_bytes(m) for m in layers])) == [
        ("d/", "dir", b""),
        ("d/new", "file", b"n"),
        ("f/", "dir", b""),
        ("f/in", "file", b"i"),
        ("s", "file", b"s"),
    ]


def test_an_opaque_root_hides_every_lower_entry_and_aufs_metadata_is_skipped() -> None:
    """Docker makes a member's missing parent (0600) before it skips AUFS metadata,
    so a ``.wh..wh.plnk/`` folder written without its own header stays, empty."""
    lower: list[tuple[str, str, Any]] = [
        ("a", "file", b"a"),
        ("d", "dir", None),
        ("d/x", "file", b""),
    ]
    upper: list[tuple[str, str, Any]] = [
        ("b", "file", b"b"),
        (".wh..wh..opq", "file", b""),
        ("c", "file", b"c"),
        (".wh..wh.plnk/123.456", "file", b"aufs"),
    ]
    image = image_of([tar_bytes(lower), tar_bytes(upper)])
    assert exported(image) == [
        (".wh..wh.plnk/", "dir", b""),
        ("b", "file", b"b"),
        ("c", "file", b"c"),
    ]
    plnk = next(e.node for e in container_filesystem(image).export() if e.name == ".wh..wh.plnk/")
    assert plnk.mode == 0o600
    assert exported(image_of([tar_bytes([*lower, (".wh..wh.plnk", "dir", None)])]))[0][0] == "a"


def test_a_folders_header_time_lands_on_what_is_at_its_path_when_the_layer_ends() -> None:
    layer = [("x", "dir", None), ("x", "file", (b"f", 0o644, 1_000_000_000))]
    (entry,) = [
        e for e in container_filesystem(image_of([tar_bytes(layer)])).export() if e.name == "x"
    ]
    assert entry.node.mtime == 1_600_000_000  # the dir header's, as Docker's Chtimes does


def test_hard_links_first_walked_name_is_the_file_with_the_last_applied_metadata(
    tmp_path: Path,
) -> None:
    layer = [
        ("zz", "dir", None),
        ("zz/orig", "file", (b"body", 0o644, 1_500_000_000)),
        ("aa", "dir", None),
        ("aa/link", "hardlink", "zz/orig"),
    ]
    image = image_of([tar_bytes(layer)])
    assert exported(image) == [
        ("aa/", "dir", b""),
        ("aa/link", "file", b"body"),
        ("zz/", "dir", b""),
        ("zz/orig", "hardlink", b"aa/link"),
    ]
    out = tmp_path / "c.cpio"
    write_customer_ramdisk(image, out)
    entries = {e["name"]: e for e in newc_entries(out.read_bytes())}
    link, orig = entries["rootfs/aa/link"]["raw_fields"], entries["rootfs/zz/orig"]["raw_fields"]
    assert (
        int(link["mtime"], 16) == 1_600_000_000 and int(link["filesize"], 16) == 4
    )  # the link header's
    assert int(orig["mode"], 16) == 0o120644 and int(orig["filesize"], 16) == len("../aa/link")


def test_a_name_out_of_the_root_lands_in_it_as_in_dockers_chroot() -> None:
    layer = [("../x", "file", b"1"), ("/y", "file", b"2"), ("./a/../z", "file", b"3")]
    assert exported(image_of([tar_bytes(layer)])) == [
        ("x", "file", b"1"),
        ("y", "file", b"2"),
        ("z", "file", b"3"),
    ]


def test_a_hard_link_to_nothing_or_below_a_file_is_refused(tmp_path: Path) -> None:
    cases: list[tuple[list[tuple[str, str, Any]], str]] = [
        ([("x", "hardlink", "missing")], "no such file"),
        ([("d", "dir", None), ("x", "hardlink", "d")], "is a directory"),
        ([("f", "file", b""), ("f/x", "file", b"")], "not a directory"),
    ]
    for layer, message in cases:
        with pytest.raises(EifError, match=message):
            write_customer_ramdisk(image_of([tar_bytes(layer)]), tmp_path / "c.cpio")
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"garbage" * 100, "invalid header"),
        (tar_bytes([("a", "file", b"x" * 3000)])[:1500], "unexpected end of data"),
    ],
)
def test_a_broken_layer_tar_is_a_format_error_naming_the_layer(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message) as caught:
        container_filesystem(image_of([data]))
    assert str(caught.value).startswith(f"layer 0 (sha256:{0:064x})")


@pytest.mark.parametrize("data", [b"", bytes(1024), tar_bytes([])])
def test_an_empty_layer_adds_nothing(data: bytes) -> None:
    names = [e.name for e in container_filesystem(image_of([data])).export()]
    assert [n for n in names if n.split("/")[0] not in INIT_NAMES] == []


def member(name: str, kind: bytes, mode: int, **fields: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, fields.pop("mtime", 1_600_000_000)
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def tar_of(*infos: tarfile.TarInfo, body: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in infos:
            tar.addfile(info, io.BytesIO(body) if info.isreg() else None)
    return buf.getvalue()


def ramdisk_entries(image: ContainerImage, tmp_path: Path) -> dict[str, dict[str, int]]:
    write_customer_ramdisk(image, tmp_path / "c.cpio")
    return {
        e["name"]: {k: int(v, 16) for k, v in e["raw_fields"].items()}
        for e in newc_entries((tmp_path / "c.cpio").read_bytes())
    }


def test_docker_init_layer_and_linuxkits_fixes_over_an_images_own_paths(tmp_path: Path) -> None:
    """README: an image's etc/hosts 0600 became 0755, its regular etc/mtab the symlink,
    an image's proc/ 0500 owned by 65534 keeps mode and owner; dev as a symlink is
    replaced by a folder; only the root's Dockerfile is dropped."""
    layer = tar_of(
        member("etc", tarfile.DIRTYPE, 0o700, uid=7, gid=7, mtime=5),
        member("etc/hosts", tarfile.REGTYPE, 0o600, size=1),
        member("etc/mtab", tarfile.REGTYPE, 0o644, size=1),
        member("etc/hostname", tarfile.REGTYPE, 0o644, size=1),
        member("proc", tarfile.DIRTYPE, 0o500, uid=65534, gid=65534),
        member("dev", tarfile.SYMTYPE, 0o777, linkname="/somewhere"),
        member("Dockerfile", tarfile.REGTYPE, 0o644, size=1),
        member("app", tarfile.DIRTYPE, 0o755),
        member("app/Dockerfile", tarfile.REGTYPE, 0o644, size=1),
        body=b"x",
    )
    got = ramdisk_entries(image_of([layer]), tmp_path)
    assert {"rootfs/Dockerfile", "rootfs/etc/hostname", "rootfs/dev/console"}.isdisjoint(got)
    assert got["rootfs/app/Dockerfile"]["filesize"] == 1
    assert got["rootfs/etc/"]["mode"] == 0o40700 and got["rootfs/etc/"]["uid"] == 7
    assert got["rootfs/etc/"]["mtime"] == 1492533000
    hosts, mtab = got["rootfs/etc/hosts"], got["rootfs/etc/mtab"]
    assert (hosts["mode"], hosts["filesize"], hosts["mtime"]) == (0o100755, 160, 1492533000)
    assert (mtab["mode"], mtab["filesize"]) == (0o120777, len("/proc/mounts"))
    assert got["rootfs/etc/resolv.conf"]["mode"] == 0o120755
    assert got["rootfs/proc/"]["mode"] == 0o40500 and got["rootfs/proc/"]["gid"] == 65534
    assert got["rootfs/dev/"]["mode"] == 0o40755 and "rootfs/dev/pts/" in got


def test_devices_keep_their_numbers_and_have_no_size(tmp_path: Path) -> None:
    layer = tar_of(
        member("null", tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3),
        member("sda", tarfile.BLKTYPE, 0o660, devmajor=8, devminor=0, gid=6),
    )
    got = ramdisk_entries(image_of([layer]), tmp_path)
    null, sda = got["rootfs/null"], got["rootfs/sda"]
    assert (null["mode"], null["rdevmajor"], null["rdevminor"], null["filesize"]) == (
        0o20666,
        1,
        3,
        0,
    )
    assert (sda["mode"], sda["rdevmajor"], sda["gid"], sda["nlink"]) == (0o60660, 8, 6, 1)
    assert (null["devmajor"], null["devminor"]) == (3, 1)


def test_a_symlink_with_a_negative_mtime_is_refused(tmp_path: Path) -> None:
    layer = tar_of(member("l", tarfile.SYMTYPE, 0o777, linkname="x", mtime=-5))
    with pytest.raises(InputError, match="negative mtime"):
        write_customer_ramdisk(image_of([layer]), tmp_path / "c.cpio")


def test_a_file_of_4_gib_is_refused_before_any_data_is_read() -> None:
    def never(_: LayerBytes) -> Any:
        raise AssertionError("data read")

    writer = NewcWriter(io.BytesIO(), never)
    with pytest.raises(InputError, match="filesize 4294967296 does not fit"):
        writer.add(CpioEntry("rootfs/big", "-", 0o644, body=LayerBytes(0, 0, 1 << 32)))


def test_extended_attributes_are_warned_about() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("ping")
        info.pax_headers = {"SCHILY.xattr.security.capability": "\x01"}
        tar.addfile(info, io.BytesIO())
    said = container_filesystem(image_of([buf.getvalue()])).warnings
    assert len(said) == 1 and "'ping'" in said[0] and "capabilities" in said[0]


def test_file_data_is_streamed_not_held(tmp_path: Path) -> None:
    body = bytes(range(256)) * (32 << 12)  # 32 MiB
    image = image_of([tar_bytes([("big", "file", body)])])
    tracemalloc.start()
    try:
        write_customer_ramdisk(image, tmp_path / "c.cpio")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 << 20, peak
    written = newc_entries((tmp_path / "c.cpio").read_bytes())
    assert {"name": "rootfs/big", "sha256": hashlib.sha256(body).hexdigest()}.items() <= next(
        e for e in written if e["name"] == "rootfs/big"
    ).items()


def test_the_index_costs_a_few_hundred_bytes_per_file_not_their_bytes() -> None:
    n = 20_000
    members: list[tuple[str, str, Any]] = [(f"d{i}", "dir", None) for i in range(100)]
    members += [(f"d{i % 100}/file-{i:05d}", "file", b"x" * 1000) for i in range(n)]
    image = image_of([tar_bytes(members)])
    tracemalloc.start()
    try:
        fs = container_filesystem(image)
        _, used = tracemalloc.get_traced_memory()  # the peak, while the layer applies
    finally:
        tracemalloc.stop()
    assert sum(1 for _ in fs.export()) > n
    per_file = used / n
    print(f"index: {per_file:.0f} bytes per file")
    assert per_file < 600  # the file bodies (1000 bytes each) are not kept
