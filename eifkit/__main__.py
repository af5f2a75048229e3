"""``python -m eifkit``."""

from .cli import run

run()
