"""No writing command overwrites its own input (issue 11, item 2).

0.1: `sign app.eif -o key.pem --private-key key.pem` replaced the private key with
the EIF and exited 0 (`-o cert.pem` likewise); `pcr0-payload app.eif -o app.eif`
destroyed the EIF; `initramfs tree -o tree/a` wrote into its own input tree. Every
spelling of the same file is tried: the path itself, `./` and `..` forms, a hard link
and a symlink.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from eifkit.cli import main
from tests.certs import make_cert

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


@pytest.fixture
def setup(tmp_path):
    key, cert = make_cert(tmp_path, "k")
    eif = tmp_path / "app.eif"
    code, err = run(
        "build", "--kernel", str(HELLO / "bzImage"), "--initrd", str(HELLO / "init.cpio"),
        "--cmdline", "console=ttyS0", "-o", str(eif), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    (tmp_path / "sub").mkdir()
    return tmp_path, eif, key, cert


def spellings(folder: Path, target: Path) -> list[str]:
    """The same file named five ways."""
    hard, soft = folder / f"hard-{target.name}", folder / f"soft-{target.name}"
    if not hard.exists():
        os.link(target, hard)
        soft.symlink_to(target)
    return [
        str(target),
        str(folder / "." / target.name),
        str(folder / "sub" / ".." / target.name),
        str(hard),
        str(soft),
    ]


def unchanged(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


@pytest.mark.parametrize("victim", ["key", "cert"])
def test_sign_output_may_not_be_its_key_or_certificate(setup, victim):
    folder, eif, key, cert = setup
    target = {"key": key, "cert": cert}[victim]
    before = unchanged([eif, key, cert])
    for out in spellings(folder, target):
        code, err = run(
            "sign", str(eif), "-o", out, "--private-key", str(key),
            "--signing-certificate", str(cert), "--quiet",
        )  # fmt: skip
        assert code == 2 and "output path is also an input file" in err, (out, err)
        assert unchanged([eif, key, cert]) == before


def test_sign_to_another_name_for_the_image_is_refused_but_in_place_works(setup):
    folder, eif, key, cert = setup
    before = eif.read_bytes()
    for out in spellings(folder, eif):
        code, err = run(
            "sign", str(eif), "-o", out, "--private-key", str(key),
            "--signing-certificate", str(cert), "--quiet",
        )  # fmt: skip
        assert code == 2 and "also an input file" in err, (out, err)
    assert eif.read_bytes() == before
    code, err = run(
        "sign", str(eif), "--private-key", str(key), "--signing-certificate", str(cert),
        "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert eif.read_bytes() != before


def test_pcr0_payload_may_not_replace_the_image(setup):
    folder, eif, _key, cert = setup
    before = unchanged([eif, cert])
    for out in [*spellings(folder, eif), *spellings(folder, cert)]:
        code, err = run("pcr0-payload", str(eif), "-o", out, "--signing-certificate", str(cert))
        assert code == 2 and "also an input file" in err, (out, err)
    assert unchanged([eif, cert]) == before


def test_initramfs_output_may_not_be_inside_its_tree(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "a").write_text("a")
    (tmp_path / "link").symlink_to(tree)
    for out in [tree / "a", tree / "new.cpio", tree / "etc" / "x.cpio", tmp_path / "link" / "y"]:
        code, err = run("initramfs", str(tree), "-o", str(out))
        assert code == 2 and "inside the input folder" in err, (out, err)
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*")) == ["a", "etc"]
    assert (tree / "a").read_text() == "a"
    code, err = run("initramfs", str(tree), "-o", str(tmp_path / "tree.cpio"))
    assert code == 0, err


def test_fixtures_never_overwrite_their_base(setup):
    folder, eif, _key, _cert = setup
    out = folder / "corpus"
    out.mkdir()
    base = out / "base.eif"  # the name the corpus gives its own copy of the base
    base.write_bytes(eif.read_bytes())
    before = base.read_bytes()
    code, err = run("fixtures", "--base", str(base), "-o", str(out))
    assert code == 2 and "also an input file" in err, err
    assert base.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["base.eif"]  # refused before writing any
