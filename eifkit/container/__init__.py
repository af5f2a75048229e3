"""Container images without Docker: read a ``docker save`` archive, an OCI layout or an
OCI archive (:func:`open_image`), and pack its layers into nitro-cli 1.5.0's customer
ramdisk byte for byte (:func:`write_customer_ramdisk`)."""

from __future__ import annotations

from .image import ContainerImage, Layer, open_image
from .nitro import CustomerRamdisk, customer_entries, nitro_cli_cmd_env, write_customer_ramdisk

__all__ = [
    "ContainerImage",
    "CustomerRamdisk",
    "Layer",
    "customer_entries",
    "nitro_cli_cmd_env",
    "open_image",
    "write_customer_ramdisk",
]
