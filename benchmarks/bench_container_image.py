"""Benchmark: nitro-cli's customer ramdisk and PCRs from a container image, without Docker.

    python benchmarks/bench_container_image.py [--size-mib 1024] [--files 3000] [--runs 3]

Makes a `docker save` archive (Docker's legacy format, plain layers) of an image with
three layers, --files files of random bytes totalling --size-mib MiB, in a temporary
folder; warms the page cache; then times (--runs runs each, wall clock; the median and
the best) in the same run:

- baseline: ``sha384sum`` over the archive (one SHA-384 pass over the same bytes);
- ``eifkit initramfs --image`` (writes the customer ramdisk),
  ``eifkit pcr --image --blobs`` (streams both ramdisks into the hashers, writes nothing)
  and ``eifkit build --image --blobs`` (the whole EIF),

and prints each time, its ratio to the baseline's (median to median, best to best) and
each command's peak RSS from ``/usr/bin/time -v``. The machine's load average is
printed too: the ratios mean little on a busy machine. The published anchor for
nitro-cli itself on this machine class (issue 12): Docker load 6-8 s + linuxkit 9-15 s
and 2,593 MiB for a 1 GiB image.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _layer(path: Path, files: int, size: int, seed: int) -> None:
    """A layer tar of ``files`` files of random bytes, ``size`` bytes in all."""
    each = max(size // files, 1)
    block = os.urandom(1 << 20)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(files):
            info = tarfile.TarInfo(f"data{seed}/d{i % 50}/f{i}")
            info.size, info.mode, info.mtime = each, 0o644, 1_700_000_000
            reps = each // len(block) + 1
            tar.addfile(info, io.BytesIO((block * reps)[:each]))


def make_image(folder: Path, size: int, files: int) -> Path:
    layers = []
    for n in range(3):
        blob = folder / f"layer{n}.tar"
        _layer(blob, files // 3, size // 3, n)
        layers.append(blob)
    diff_ids = []
    for blob in layers:
        h = hashlib.sha256()
        with open(blob, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        diff_ids.append(f"sha256:{h.hexdigest()}")
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/data0/d0/f0"], "Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    archive = folder / "image.tar"
    manifest = [
        {
            "Config": config_name,
            "RepoTags": ["bench:latest"],
            "Layers": [f"{i}/layer.tar" for i in range(3)],
        }
    ]
    with tarfile.open(archive, "w") as tar:
        for name, data in (
            (config_name, config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for i, blob in enumerate(layers):
            tar.add(blob, arcname=f"{i}/layer.tar")
            blob.unlink()
    return archive


def make_blobs(folder: Path) -> Path:
    blobs = folder / "blobs"
    blobs.mkdir()
    hello = HERE.parent / "examples" / "hello"
    (blobs / "bzImage").write_bytes((hello / "bzImage").read_bytes())
    (blobs / "init").write_bytes((hello / "init").read_bytes())
    (blobs / "nsm.ko").write_bytes(os.urandom(20_000))
    (blobs / "cmdline").write_text("console=ttyS0 reboot=k\n")
    return blobs


def timed(cmd: list[str], runs: int) -> tuple[float, float, int]:
    """Best and median wall seconds of ``runs`` runs, and the peak RSS (KiB)."""
    times, peak = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(
            ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True
        )
        times.append(time.perf_counter() - start)
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        peak = max(peak, int(rss.group(1)) if rss else 0)
    return min(times), statistics.median(times), peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eifkit-bench-") as tmp:
        folder = Path(tmp)
        archive = make_image(folder, args.size_mib << 20, args.files)
        blobs = make_blobs(folder)
        subprocess.run(["cat", str(archive)], stdout=subprocess.DEVNULL, check=True)
        eifkit = [sys.executable, "-m", "eifkit"]
        rows = [
            ("sha384sum (baseline)", ["sha384sum", str(archive)]),
            (
                "eifkit initramfs --image",
                [*eifkit, "initramfs", "--image", str(archive), "-o", str(folder / "c.cpio")],
            ),
            (
                "eifkit pcr --image --blobs",
                [*eifkit, "pcr", "--image", str(archive), "--blobs", str(blobs)],
            ),
            (
                "eifkit build --image --blobs",
                [
                    *eifkit,
                    "build",
                    "--image",
                    str(archive),
                    "--blobs",
                    str(blobs),
                    "-o",
                    str(folder / "app.eif"),
                    "--quiet",
                ],
            ),
        ]
        size = archive.stat().st_size
        print(
            f"image: {size / 2**20:.0f} MiB, 3 layers, {args.files} files; {args.runs} runs;"
            f" load average {os.getloadavg()[0]:.2f}"
        )
        print(f"{'':30s} {'median':>8s} {'ratio':>6s} {'best':>8s} {'ratio':>6s}  peak RSS")
        base: tuple[float, float] | None = None
        for label, cmd in rows:
            best, median, rss = timed(cmd, args.runs)
            base = base or (best, median)
            print(
                f"{label:30s} {median:6.2f} s {median / base[1]:5.2f}x {best:6.2f} s"
                f" {best / base[0]:5.2f}x  {rss >> 10} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
