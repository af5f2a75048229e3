"""A progress bar on stderr, shown only on a terminal and only for work over a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call with a byte count as work advances; ``close()`` clears the line."""

    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        delay: float = 1.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0 and self.stream.isatty()
        self.total = total
        self.label = label
        self.done = 0
        self.start = time.monotonic()
        self.delay = delay
        self._last = 0.0
        self._shown = False

    def __call__(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay or now - self._last < 0.1:
            return
        self._last = now
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width)
        rate = self.done / max(now - self.start, 1e-9) / 1e6
        self.stream.write(
            f"\r{self.label} [{bar:<{width}}] {frac * 100:3.0f}% "
            f"{self.done / 1e9:.2f}/{self.total / 1e9:.2f} GB {rate:.0f} MB/s"
        )
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
