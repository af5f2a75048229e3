"""Benchmark: every eifkit command on a 1 GiB app ramdisk against one SHA-384 pass.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install .      # eifkit as users install it
    /tmp/v/bin/python benchmarks/bench_speed.py [--size-mib 1024] [--dir DIR] [--runs 3] [--cold]

It runs ``python -m eifkit`` with the interpreter it runs under, from a folder outside
the checkout, so it times the installed package (``--checkout`` times the source tree
instead, through PYTHONPATH).

Inputs (made in DIR, default a temporary folder): the hello example's kernel and
``init.cpio`` (ramdisk 0) and a random app ramdisk of --size-mib MiB (ramdisk 1).
Each command is timed (median of --runs, wall clock, peak RSS from ``/usr/bin/time
-v``) against ``openssl dgst -sha384`` over exactly the bytes that command reads,
timed in the same run, so the ratio compares across machines.

Page cache: by default every input is read once before each run (warm). ``--cold``
(root only) drops the page cache before each run of a command *and* of its baseline
instead: what a CI job gets when it verifies an EIF right after building it (``build``
writes its long sections around the page cache).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello"
CMDLINE = "console=ttyS0 reboot=k panic=-1"


def make_random(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def warm(files: list[Path]) -> None:
    for f in files:
        subprocess.run(["cat", str(f)], stdout=subprocess.DEVNULL, check=True)


def timed(cmd: list[str], runs: int, before: Callable[[], None]) -> tuple[float, float]:
    """Median wall seconds of ``runs`` runs and the largest peak RSS (MiB)."""
    times, rss = [], 0
    for _ in range(runs):
        before()
        t0 = time.perf_counter()
        r = subprocess.run(
            ["/usr/bin/time", "-v", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        times.append(time.perf_counter() - t0)
        if r.returncode not in (0, 1):  # diff and verify say 1 for "differs"
            sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        rss = max(rss, int(m.group(1)) if m else 0)
    return statistics.median(times), rss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each run")
    ap.add_argument("--only", nargs="*", default=None, help="run only these rows")
    ap.add_argument("--checkout", action="store_true", help="time the source tree, not the install")
    args = ap.parse_args()
    for tool in ("openssl", "/usr/bin/time"):
        if shutil.which(tool) is None:
            sys.exit(f"needs {tool} (Debian packages openssl, time)")
    if args.cold and os.geteuid() != 0:
        sys.exit("--cold needs root (it writes /proc/sys/vm/drop_caches)")
    work = args.dir or Path(tempfile.mkdtemp(prefix="eifkit-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    app = work / "app.cpio"
    make_random(app, args.size_mib << 20)
    kernel, ramdisk0 = HELLO / "bzImage", HELLO / "init.cpio"
    key, cert = work / "key.pem", work / "cert.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650",
             "-subj", "/CN=eifkit-bench"],
            check=True, capture_output=True,
        )  # fmt: skip
    eifkit = [sys.executable, "-m", "eifkit"]
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    if args.checkout:
        os.environ["PYTHONPATH"] = str(ROOT)
    os.chdir(work)  # not the checkout: `python -m eifkit` must find the installed package
    where = subprocess.run(
        [sys.executable, "-c", "import eifkit; print(eifkit.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    eif, eif_b, signed = work / "app.eif", work / "app-b.eif", work / "signed.eif"
    build_args = ["build", "--kernel", str(kernel), "--initrd", str(ramdisk0),
                  "--initrd", str(app), "--cmdline", CMDLINE, "-q"]  # fmt: skip
    subprocess.run([*eifkit, *build_args, "-o", str(eif)], check=True, capture_output=True)
    b_args = [*build_args[:-3], "--cmdline", CMDLINE + " x", "-q", "-o", str(eif_b)]
    subprocess.run([*eifkit, *b_args], check=True, capture_output=True)
    subprocess.run(
        [*eifkit, "sign", str(eif), "--signing-certificate", str(cert), "--private-key",
         str(key), "-o", str(signed), "-q"],
        check=True, capture_output=True,
    )  # fmt: skip
    folder = work / "rootfs"
    folder.mkdir(exist_ok=True)
    if not (folder / "app.bin").exists():
        os.link(app, folder / "app.bin")
    out_eif, out_dir, out_cpio = work / "out.eif", work / "out", work / "out.cpio"

    def clean() -> None:
        for p in (out_eif, out_cpio):
            p.unlink(missing_ok=True)
        shutil.rmtree(out_dir, ignore_errors=True)

    build_reads = [kernel, ramdisk0, app]
    rows: list[tuple[str, list[str], list[Path]]] = [
        ("build", [*build_args, "-o", str(out_eif)], build_reads),
        ("build --no-lint", [*build_args, "--no-lint", "-o", str(out_eif)], build_reads),
        ("build --direct-io", [*build_args, "--direct-io", "-o", str(out_eif)], build_reads),
        ("build --fsync", [*build_args, "--fsync", "-o", str(out_eif)], build_reads),
        ("describe", ["describe", str(eif)], [eif]),
        ("describe --json", ["describe", "--json", str(eif)], [eif]),
        ("pcr", ["pcr", str(eif)], [eif]),
        ("verify (signed)", ["verify", str(signed), "--signing-certificate", str(cert)],
         [signed]),
        ("sign", ["sign", str(eif), "--signing-certificate", str(cert), "--private-key", str(key),
                  "-o", str(out_eif), "-q"], [eif]),
        ("extract", ["extract", str(eif), "-o", str(out_dir)], [eif]),
        ("diff", ["diff", str(eif), str(eif_b), "-q"], [eif, eif_b]),
        ("initramfs", ["initramfs", str(folder), "-o", str(out_cpio)], [app]),
    ]  # fmt: skip
    # What a CI job does: build, then verify what it built (its baseline: one openssl
    # pass over the inputs and one over the EIF). build --direct-io writes the long
    # sections around the page cache, so verify reads them from the disk.
    verify = shlex.join([*eifkit, "verify", "-q", str(out_eif)])
    for name, options in (
        ("build, verify", []),
        ("build --direct-io, verify", ["--direct-io"]),
    ):
        script = shlex.join([*eifkit, *build_args, *options, "-o", str(out_eif)]) + " && " + verify
        rows.append((name, ["sh", "-c", script], [*build_reads, out_eif]))
    print(
        f"{args.size_mib} MiB app ramdisk in {work}; median of {args.runs}; "
        f"{os.cpu_count()} CPUs; page cache {'cold' if args.cold else 'warm'}; "
        f"load average {os.getloadavg()[0]:.2f}; eifkit from {where}"
    )
    print(f"{'command':30} {'openssl s':>9} {'eifkit s':>9} {'ratio':>6} {'peak RSS':>10}")
    for name, cmd, reads in rows:
        if args.only and name not in args.only:
            continue

        def before(reads: list[Path] = reads) -> None:
            clean()
            if args.cold:
                drop_caches()
            else:
                warm([p for p in reads if p != out_eif])

        base_reads = [p for p in reads if p != out_eif]
        base_args = ["openssl", "dgst", "-sha384", *map(str, base_reads)]
        if out_eif in reads:  # and once more over the EIF it builds (the same bytes)
            base_args += map(str, base_reads)
        base, _ = timed(base_args, args.runs, before)
        took, rss = timed(cmd if cmd[0] == "sh" else [*eifkit, *cmd], args.runs, before)
        print(f"{name:30} {base:9.2f} {took:9.2f} {took / base:6.2f} {rss:7.1f} MiB")
    clean()
    if args.dir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
