"""Real binaries for tests, from Debian's archive (a registry this machine reaches):
the x86_64 and arm64 kernels (linux-image-*-ARCH) and busybox-static for both CPUs.

Each .deb is fetched once with ``apt-get download`` and the wanted file unpacked into
a cache folder the tests reuse: $EIFKIT_TEST_CACHE, else ~/.cache/eifkit-tests.
arm64 packages need ``dpkg --add-architecture arm64 && apt-get update`` once (.ci/run
does it). ``python -m tests.realkernel`` fetches everything ahead of time.
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
    r = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=600)
    return r.stdout


def _qualified(pkg: str, arch: str) -> str:
    return pkg if arch == "amd64" else f"{pkg}:{arch}"


def kernel_package(arch: str = "amd64") -> str:
    """The versioned image package the linux-image-ARCH metapackage depends on."""
    out = _run("apt-cache", "depends", _qualified(f"linux-image-{arch}", arch))
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[-1].split(":")[0]
    raise RuntimeError(f"no linux-image package found for {arch}")


def fetch_file(package: str, arch: str, member_glob: str, name: str) -> Path:
    """A file from a Debian package, cached as CACHE/arch/name (with name.VERSION beside)."""
    dest = CACHE / arch
    cached = sorted(p for p in glob.glob(str(dest / name)) if not p.endswith(".VERSION"))
    if cached:
        return Path(cached[-1])
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get is not available")
    dest.mkdir(parents=True, exist_ok=True)
    _run("apt-get", "download", _qualified(package, arch), cwd=dest)
    deb = sorted(dest.glob(f"{package}_*_{arch}.deb"))[-1]
    tar_path = dest / f"{package}.data.tar"
    with open(tar_path, "wb") as out:
        subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=out, check=True, timeout=600
        )
    found = None
    with tarfile.open(tar_path) as tf:
        for m in tf.getmembers():
            member = m.name.lstrip("./")
            if Path(member).match(member_glob) and m.isfile():
                target = dest / (name if "*" not in name else Path(member).name)
                with tf.extractfile(m) as src, open(target, "wb") as dst:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, dst)
                found = target
                break
    tar_path.unlink()
    (dest / f"{found.name if found else name}.VERSION").write_text(deb.name + "\n")
    deb.unlink()
    if found is None:
        raise RuntimeError(f"{deb.name} has no {member_glob}")
    return found


def fetch(arch: str = "amd64") -> Path:
    """The kernel of linux-image-ARCH (vmlinuz-*)."""
    return fetch_file(kernel_package(arch), arch, "boot/vmlinuz-*", "vmlinuz-*")


def busybox(arch: str = "amd64") -> Path:
    return fetch_file("busybox-static", arch, "bin/busybox", f"busybox-{arch}")


def deb_version(path: Path) -> str:
    """The Debian version of the package a cached file came from (from its .deb name)."""
    deb = (path.parent / f"{path.name}.VERSION").read_text().strip()
    return deb.split("_")[1].replace("%3a", ":")


if __name__ == "__main__":
    print(fetch("amd64"))
    print(busybox("amd64"))
    try:
        print(fetch("arm64"))
        print(busybox("arm64"))
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"arm64 packages not fetched: {e}")
