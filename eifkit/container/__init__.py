"""Container images without Docker: nitro-cli's customer ramdisk from an image archive."""

from __future__ import annotations

from .image import ContainerImage, Layer
from .nitro import CustomerRamdisk, customer_entries, nitro_cli_cmd_env, write_customer_ramdisk

__all__ = [
    "ContainerImage",
    "CustomerRamdisk",
    "Layer",
    "customer_entries",
    "nitro_cli_cmd_env",
    "write_customer_ramdisk",
]
