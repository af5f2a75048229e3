"""A real x86_64 kernel for loader tests: Debian's linux-image-*-amd64 bzImage.

Downloaded once with ``apt-get download`` (Debian's archive is a registry this
machine reaches) into a cache folder the tests reuse: $EIFKIT_TEST_CACHE, else
~/.cache/eifkit-tests. ``python -m tests.realkernel`` fetches it ahead of time.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

CACHE = Path(os.environ.get("EIFKIT_TEST_CACHE", Path.home() / ".cache" / "eifkit-tests"))


def _run(*cmd: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=600
    ).stdout


def find_cached(arch: str = "amd64") -> Path | None:
    found = sorted(glob.glob(str(CACHE / arch / "vmlinuz-*")))
    return Path(found[-1]) if found else None


def package_name(arch: str = "amd64") -> str:
    """The versioned image package the linux-image-ARCH metapackage depends on."""
    out = _run(
        "apt-cache",
        "depends",
        f"linux-image-{arch}:{arch}" if arch != "amd64" else f"linux-image-{arch}",
    )
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[-1].split(":")[0]
    raise RuntimeError(f"no linux-image package found for {arch}")


def fetch(arch: str = "amd64") -> Path:
    """Return the cached vmlinuz, downloading and unpacking the .deb if needed."""
    cached = find_cached(arch)
    if cached:
        return cached
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get is not available to download a kernel")
    dest = CACHE / arch
    dest.mkdir(parents=True, exist_ok=True)
    pkg = package_name(arch)
    _run("apt-get", "download", f"{pkg}:{arch}" if arch != "amd64" else pkg, cwd=dest)
    deb = sorted(dest.glob(f"{pkg}_*.deb"))[-1]
    tar_path = dest / "data.tar"
    with open(tar_path, "wb") as out:
        subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=out, check=True, timeout=600
        )
    with tarfile.open(tar_path) as tf:
        for m in tf.getmembers():
            name = m.name.lstrip("./")
            if name.startswith("boot/vmlinuz-") and m.isfile():
                with tf.extractfile(m) as src, open(dest / Path(name).name, "wb") as dst:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, dst)
    tar_path.unlink()
    deb.unlink()
    found = find_cached(arch)
    if found is None:
        raise RuntimeError(f"{deb.name} held no boot/vmlinuz-*")
    (dest / "VERSION").write_text(deb.name + "\n")
    return found


if __name__ == "__main__":
    print(fetch())
