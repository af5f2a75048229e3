"""Benchmark: eifkit build / describe on a large EIF against sha384sum over the same bytes.

    python benchmarks/bench_build_describe.py [--size-mib 2048] [--dir DIR] [--runs 3]

Makes a kernel (8 MiB), a bootstrap ramdisk (4 MiB) and an app ramdisk of --size-mib
MiB in DIR, warms the page cache, then times (best of --runs, wall clock):

- baseline: ``sha384sum`` over the app ramdisk (one SHA-384 stream), in this run;
- ``eifkit build`` of the EIF (also with ``--no-direct-io``, all writes through the
  page cache, and with ``--fsync``), ``eifkit describe`` and ``eifkit pcr`` of it,

and prints throughput (MB/s of EIF bytes), the ratio to sha384sum's throughput, and
each command's peak RSS from ``/usr/bin/time -v``. Ratios, not absolute times,
are what compare across machines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eifkit.outfile import file_system_type

CHUNK = 64 << 20


def make_file(path: Path, size: int, seed: bytes) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    block = bytearray(os.urandom(CHUNK)) if size >= CHUNK else bytearray(os.urandom(size))
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            block[:8] = seed[:8]
            f.write(block[:n])
            left -= n


def settle(inputs: list[Path], drop_caches: bool) -> None:
    """Optionally free the page cache (root only), then read the inputs into it again.

    Without this, a run that writes 2 GiB may first have to reclaim cache filled by the
    previous runs, and its time swings by seconds.
    """
    if drop_caches:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    for f in inputs:
        subprocess.run(["cat", str(f)], stdout=subprocess.DEVNULL, check=True)


def timed(cmd: list[str], runs: int, before=None) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Best wall time of ``runs`` runs and the peak RSS (KiB) seen, via /usr/bin/time -v."""
    best, rss = float("inf"), 0
    for _ in range(runs):
        if before is not None:
            before()
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        rss = max(rss, int(m.group(1)) if m else 0)
        best = min(best, dt)
    return best, rss


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument(
        "--drop-caches",
        action="store_true",
        help="free the page cache before each run (root only; steadier numbers)",
    )
    args = ap.parse_args()
    if not Path("/usr/bin/time").exists() or shutil.which("sha384sum") is None:
        sys.exit("needs /usr/bin/time (Debian package 'time') and sha384sum (coreutils)")
    work = args.dir or Path(tempfile.mkdtemp(prefix="eifkit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    kernel, boot, app, eif = (
        work / "bzImage",
        work / "boot.cpio",
        work / "app.cpio",
        work / "big.eif",
    )
    make_file(kernel, 8 << 20, b"kernel00")
    make_file(boot, 4 << 20, b"bootstrp")
    make_file(app, args.size_mib << 20, b"appramdk")

    def before() -> None:
        if eif.exists():
            eif.unlink()
        settle([kernel, boot, app], args.drop_caches)

    before()
    eifkit = [sys.executable, "-m", "eifkit"]
    env_cmd = ["env", "SOURCE_DATE_EPOCH=0"]

    base_t, base_rss = timed(["sha384sum", str(app)], args.runs, before)
    build = [
        *env_cmd,
        *eifkit,
        "build",
        "--kernel",
        str(kernel),
        "--initrd",
        str(boot),
        "--initrd",
        str(app),
        "--cmdline",
        "console=ttyS0",
        "-o",
        str(eif),
        "--json",
    ]
    build_t, build_rss = timed(build, args.runs, before)
    size = eif.stat().st_size
    cached_t, cached_rss = timed([*build, "--no-direct-io"], args.runs, before)
    fsync_t, fsync_rss = timed([*build, "--fsync"], args.runs, before)
    settle([eif], args.drop_caches)
    desc_t, desc_rss = timed([*eifkit, "describe", str(eif), "--json"], args.runs)
    pcr_t, pcr_rss = timed([*eifkit, "pcr", str(eif)], args.runs)

    base_mbs = app.stat().st_size / base_t / 1e6
    rows = [
        ("sha384sum (baseline)", app.stat().st_size, base_t, base_rss),
        ("eifkit build", size, build_t, build_rss),
        ("eifkit build --no-direct-io", size, cached_t, cached_rss),
        ("eifkit build --fsync", size, fsync_t, fsync_rss),
        ("eifkit describe", size, desc_t, desc_rss),
        ("eifkit pcr", size, pcr_t, pcr_rss),
    ]
    with open(eif, "rb") as f:
        fs = file_system_type(f.fileno()) or "unknown"
    print(
        f"EIF of {size / (1 << 20):.0f} MiB in {work} ({fs}), best of {args.runs}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'what':27} {'bytes':>12} {'seconds':>8} {'MB/s':>8} {'ratio':>6} {'peak RSS':>10}")
    for what, n, t, rss in rows:
        mbs = n / t / 1e6
        print(f"{what:27} {n:12d} {t:8.2f} {mbs:8.0f} {mbs / base_mbs:6.2f} {rss / 1024:7.1f} MiB")
    if not args.keep and args.dir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
