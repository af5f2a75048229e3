"""Termination signals as exceptions, so that every output cleans up after itself.

``timeout``, CI cancellation and ``docker stop`` send SIGTERM; a closed terminal sends
SIGHUP. By default either ends the process at once, leaving the temporary file of an
:func:`eifkit.atomic.atomic_output` behind. Inside :func:`termination_raises` they
raise :class:`Terminated` instead (as SIGINT raises ``KeyboardInterrupt``), so the
``with`` blocks that own temporary files remove them on the way out; the CLI then
exits with 128 + the signal number, as the shell reports a process a signal ended.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """A termination signal arrived (a ``BaseException``, like ``KeyboardInterrupt``,
    so that ``except Exception`` blocks do not swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def termination_raises() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main
    thread. Outside the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
