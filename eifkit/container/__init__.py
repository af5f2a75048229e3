"""Container images without Docker: read a ``docker save`` archive, an OCI layout or an
OCI archive (:func:`open_image`), and turn its layers into what nitro-cli would pack."""

from __future__ import annotations

from .image import ContainerImage, Layer, open_image

__all__ = ["ContainerImage", "Layer", "open_image"]
