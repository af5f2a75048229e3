"""The CLI as a process meets the world: signals, a reader that goes away, its own bugs.

Issue 11: SIGTERM/SIGHUP left hidden temporary files of hundreds of MB (item 5); a
`sign` whose output reader had gone printed "Broken pipe" and exited 2 although it had
signed (item 8); an internal error exited 1, like "a check failed" (item 4).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eifkit.cli import main
from eifkit.cli.common import EXIT_INTERNAL
from tests.certs import make_cert

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello"


def eifkit_popen(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "eifkit", *args], **kwargs)


def hello_build(out: Path, *extra: str) -> list[str]:
    return [
        "build", "--kernel", str(HELLO / "bzImage"), "--initrd", str(HELLO / "init.cpio"),
        "--cmdline", "console=ttyS0", "-o", str(out), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_build_removes_the_temporary_output(tmp_path, signum):
    big = tmp_path / "in" / "big.cpio"
    big.parent.mkdir()
    with open(big, "wb") as f:  # sparse: costs no disk, but 3 GiB to hash
        f.truncate(3 << 30)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = eifkit_popen(
        *hello_build(out_dir / "a.eif", "--initrd", str(big), "--no-lint", "--quiet"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until the temporary output exists
    assert any(out_dir.iterdir()), "the build never started writing"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert list(out_dir.iterdir()) == []
    name = signal.Signals(signum).name
    expected = "eifkit: interrupted" if signum == signal.SIGINT else f"terminated by {name}"
    assert expected in err and "Traceback" not in err


def test_sign_whose_reader_went_away_still_succeeds(tmp_path):
    key, cert = make_cert(tmp_path, "k")
    eif = tmp_path / "a.eif"
    assert main(hello_build(eif, "--quiet")) == 0
    before = eif.read_bytes()
    proc = eifkit_popen(
        "sign", str(eif), "--signing-certificate", str(cert), "--private-key", str(key),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before the first line is printed
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert proc.returncode == 0, err
    assert "Broken pipe" not in err and err == ""
    assert eif.read_bytes() != before
    assert main(["verify", str(eif), "--require-signature"]) == 0


def test_an_internal_error_has_its_own_exit_code_and_one_line(tmp_path, capsys, monkeypatch):
    import eifkit.cli.describe as describe_command

    def broken(*args, **kwargs):
        raise RuntimeError("something\nthat should not happen")

    monkeypatch.setattr(describe_command, "read", broken)
    monkeypatch.delenv("EIFKIT_DEBUG", raising=False)
    assert main(["describe", str(tmp_path / "x.eif")]) == EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("eifkit: error: internal error: RuntimeError: something that")
    monkeypatch.setenv("EIFKIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["describe", str(tmp_path / "x.eif")])


def test_sign_in_place_keeps_the_mode_and_signs_through_a_symlink(tmp_path):
    # 0.1 turned a 0600 EIF into 0644, and replaced link.eif by a signed file, leaving
    # the target unsigned (issue 11, item 5).
    key, cert = make_cert(tmp_path, "k")
    real = tmp_path / "real.eif"
    assert main(hello_build(real, "--quiet")) == 0
    real.chmod(0o600)
    link = tmp_path / "link.eif"
    link.symlink_to(real.name)
    unsigned = real.read_bytes()
    sign = ["--signing-certificate", str(cert), "--private-key", str(key), "--quiet"]
    assert main(["sign", str(link), *sign]) == 0
    assert link.is_symlink() and real.read_bytes() != unsigned
    assert real.stat().st_mode & 0o7777 == 0o600
    assert main(["verify", str(real), "--require-signature"]) == 0
