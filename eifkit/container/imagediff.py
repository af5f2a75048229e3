"""Why PCR2 differs between an EIF and a container image, or between two images.

PCR2 of a nitro-cli EIF measures the customer ramdisk alone. This compares the
customer ramdisks of both sides (the EIF's last ramdisk; an image's ramdisk as
nitro-cli 1.5.0 would pack it, written to a temporary file) file by file and by
encoding, and names, for every file that differs, the image layer that put it there
— the question behind most "my PCR0 changed" reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError
from ..image import EifImage
from ..jsonfmt import OrderedObject
from ..limits import ExpansionLimits
from ..ramdiskdiff import compare_ramdisks
from ..sources import FileSource, Source
from ..stream import measure_image
from .image import ContainerImage
from .nitro import write_customer_ramdisk
from .rootfs import container_filesystem

PREFIX = "rootfs/"


@dataclass
class Side:
    """One side of the comparison: its customer ramdisk, its PCR2, and (for an image)
    the image, to say which layer holds a file."""

    label: str
    ramdisk: Source
    pcr2: str
    image: ContainerImage | None = None


def eif_side(label: str, eif: EifImage) -> Side:
    """The EIF's last ramdisk (nitro-cli's customer ramdisk) and the EIF's PCR2."""
    ramdisks = eif.ramdisks
    if len(ramdisks) < 2:
        raise InputError("the EIF has no customer ramdisk (it needs two ramdisks)", path=label)
    pcr2 = measure_image(eif).pcr2.hex()
    return Side(label, ramdisks[-1].source, pcr2)


def image_side(label: str, image: ContainerImage, folder: str, *, implicit_dir_mtime: int) -> Side:
    path = os.path.join(folder, f"customer-{len(os.listdir(folder))}.cpio")
    made = write_customer_ramdisk(image, path, implicit_dir_mtime=implicit_dir_mtime)
    return Side(label, FileSource.open(made.path, "customer ramdisk"), made.pcr2.hex(), image)


def _layers_of(
    image: ContainerImage, names: set[str], *, implicit_dir_mtime: int
) -> dict[str, str]:
    """For each ramdisk name in ``names``, the layer that holds it in ``image``."""
    wanted = {n.removeprefix(PREFIX).rstrip("/"): n for n in names if n.startswith(PREFIX)}
    found: dict[str, str] = {}
    fs = container_filesystem(image, implicit_dir_mtime=implicit_dir_mtime)
    for entry in fs.export():
        name = entry.name.rstrip("/")
        if name in wanted:
            node = entry.node
            layer = node.layer if node.layer >= 0 else node.unpacked_in
            if 0 <= layer < len(image.layers):
                found[wanted[name]] = f"layer {layer} ({image.layers[layer].digest})"
            else:
                found[wanted[name]] = "Docker's init layer"
    return found


def diff_customer_ramdisks(
    a: Side, b: Side, limits: ExpansionLimits, *, implicit_dir_mtime: int = 0
) -> OrderedObject:
    """PCR2 of both sides, the files added, removed and changed from ``a`` to ``b``
    with the layer each comes from, and the encoding differences."""
    files = compare_ramdisks(a.ramdisk, b.ramdisk, limits)
    out = OrderedObject(PCR2=OrderedObject(Same=a.pcr2 == b.pcr2, A=a.pcr2, B=b.pcr2))
    out.update(files)
    if files.get("Comparable"):
        names = set(files["Added"]) | set(files["Removed"])
        names |= {c["Path"] for c in files["Changed"]}
        layers = OrderedObject()
        for key, side in (("A", a), ("B", b)):
            if side.image is not None and names:
                layers[key] = _layers_of(side.image, names, implicit_dir_mtime=implicit_dir_mtime)
        out["Layers"] = layers
    out["Identical"] = a.pcr2 == b.pcr2
    return out


def diff_text(d: OrderedObject, a_name: str, b_name: str) -> str:
    lines = [f"A = {a_name}", f"B = {b_name}", ""]
    p = d["PCR2"]
    lines.append(
        "PCR2  same" if p["Same"] else f"PCR2  DIFFERS  ({p['A'][:16]}… -> {p['B'][:16]}…)"
    )
    if not d.get("Comparable", True):
        lines.append(f"customer ramdisk: {d['Reason']}")
        return "\n".join(lines)
    layers = d.get("Layers", {})

    def where(path: str) -> str:
        found = [f"{k}: {layers[k][path]}" for k in ("A", "B") if path in layers.get(k, {})]
        return f"  [{'; '.join(found)}]" if found else ""

    lines += [f"  + {n}{where(n)}" for n in d["Added"]]
    lines += [f"  - {n}{where(n)}" for n in d["Removed"]]
    lines += [f"  ~ {c['Path']}: {', '.join(c['Changes'])}{where(c['Path'])}" for c in d["Changed"]]
    lines += [f"  encoding: {note}" for note in d["Encoding"]]
    return "\n".join(lines)
