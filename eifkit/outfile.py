"""An output file that streams long runs of bytes past the page cache.

Writing a 2 GiB EIF through the page cache costs a copy into freshly allocated cache
pages, and on some machines allocating them costs more CPU than hashing them
(measured on a 2-core KVM guest with virtio-balloon: 0.6-5.9 s of system time for the
same 2 GiB, against 0.4-0.6 s with O_DIRECT; why it swings so was not pinned down).
So a *run* (one section's data, written front to back) is read straight into
page-aligned staging buffers and their whole blocks are written with ``O_DIRECT`` on
a background thread, while the next buffer is being read and hashed.

- Only whole aligned blocks inside a run go direct. The partial blocks at its two
  ends, and every small write (headers), go through the page cache, by an ordinary
  descriptor of the same file; the kernel keeps the two views of the file coherent,
  and a run waits for its own direct writes before it ends.
- Fallbacks, so that nothing gets slower than plain writes: a file system that
  keeps files in memory anyway (tmpfs, ramfs: there ``O_DIRECT`` is just a copy on
  the write thread), or refuses ``O_DIRECT`` (at open or at the first write), gets
  page-cache writes throughout; a disk slower than the hashing (the producer waited more than
  ``slow_wait`` seconds in all for writes to finish) gets page-cache writes for the
  rest of the file, where the kernel can absorb them in memory.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .atomic import write_error

ALIGN = max(4096, mmap.PAGESIZE)
# Total seconds the producer may wait for direct writes before they are given up.
SLOW_WAIT = 0.1
STAGING_BUFFERS = 3
# File systems whose files live in memory: direct writes buy nothing there.
MEMORY_FILE_SYSTEMS = frozenset({"tmpfs", "ramfs", "hugetlbfs"})
MOUNTINFO = "/proc/self/mountinfo"


@dataclass
class WriteStats:
    """How an :class:`OutputFile`'s bytes reached the file."""

    direct_bytes: int = 0
    buffered_bytes: int = 0
    # Why direct writes were not used or were given up (None while they are in use).
    direct_off_reason: str | None = None
    # Seconds the producer waited for a staging buffer whose direct write was in flight.
    direct_wait: float = 0.0
    # Seconds the producer waited for any write in flight (direct or buffered).
    waited: float = 0.0


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        if n <= 0:  # pragma: no cover - pwrite reports errors by raising
            raise OSError(errno.EIO, "write made no progress")
        data, offset = data[n:], offset + n


def file_system_type(fd: int, mountinfo: str = MOUNTINFO) -> str | None:
    """The type of the file system ``fd`` is on ("ext4", "tmpfs" ...), from the mount
    table line whose device number is the file's; None when it cannot be told."""
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                # id parent major:minor root mount-point options [optional...] - type ...
                if len(fields) > 2 and fields[2] == device and "-" in fields:
                    after = fields.index("-") + 1
                    return fields[after] if after < len(fields) else None
    except OSError:
        return None
    return None


def _align_down(n: int) -> int:
    return n - n % ALIGN


def _align_up(n: int) -> int:
    return _align_down(n + ALIGN - 1)


class OutputFile:
    """Positional writes to an open file, with runs staged for ``O_DIRECT``.

    ``fd`` is an ordinary writable descriptor of ``path``; the file is opened a second
    time with ``O_DIRECT`` when ``direct`` is true and the platform has it. Use
    :meth:`write_at` for small writes and :meth:`start_run` / :meth:`space` /
    :meth:`commit` / :meth:`end_run` for long sequential ones; :meth:`close` closes
    only the second descriptor. A failed write raises ``OSError`` naming ``name`` (the
    file the user asked for; default ``path``).
    """

    def __init__(
        self,
        path: str,
        fd: int,
        *,
        buffer_size: int,
        pool: ThreadPoolExecutor,
        direct: bool = True,
        slow_wait: float = SLOW_WAIT,
        name: str | None = None,
    ) -> None:
        self.stats = WriteStats()
        self._fd = fd
        self._name = name or path
        self._pool = pool
        self._slow_wait = slow_wait
        self._direct_fd: int | None = None
        self._use_direct = False
        self._stats_lock = threading.Lock()
        if not direct:
            self.stats.direct_off_reason = "not asked for"
        elif not hasattr(os, "O_DIRECT"):
            self.stats.direct_off_reason = "the platform has no O_DIRECT"
        elif (fs := file_system_type(fd)) in MEMORY_FILE_SYSTEMS:
            self.stats.direct_off_reason = f"the file system ({fs}) keeps files in memory"
        else:
            self._direct_fd = self._reopen_direct(path)
            self._use_direct = self._direct_fd is not None
        self._size = _align_up(max(buffer_size, ALIGN))
        self._buffers: list[memoryview] = []
        self._pending: list[Future[None] | None] = []
        self._current = -1  # index of the staging buffer being filled
        self._base = 0  # file offset of the current buffer's first byte (aligned)
        self._lo = 0  # file offset of the run's first byte in the current buffer
        self._pos = 0  # file offset of the next byte of the run
        self._in_run = False

    def _reopen_direct(self, path: str) -> int | None:
        """A second, O_DIRECT descriptor of the very file ``self._fd`` is open on.

        Through /proc/self/fd, so that nobody can swap the file at ``path`` in between;
        ``path`` itself only where there is no /proc, and then only if it is still the
        same file."""
        flags = os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC
        proc = f"/proc/self/fd/{self._fd}"
        try:
            fd = os.open(proc if os.path.exists(proc) else path, flags)
        except OSError as e:
            self.stats.direct_off_reason = f"the file system refused O_DIRECT ({e.strerror})"
            return None
        mine, theirs = os.fstat(self._fd), os.fstat(fd)
        if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
            os.close(fd)
            self.stats.direct_off_reason = "the file was replaced while being opened"
            return None
        return fd

    # -- small writes -------------------------------------------------------------

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``offset`` through the page cache, now."""
        if self._in_run:
            raise RuntimeError("write_at() inside a run")
        self._buffered(memoryview(data).cast("B"), offset)

    # -- runs ---------------------------------------------------------------------

    def start_run(self, offset: int) -> None:
        """Begin a sequential run of bytes at ``offset``."""
        if self._in_run:
            raise RuntimeError("start_run() inside a run")
        self._in_run = True
        self._pos = self._lo = offset
        self._take_buffer(_align_down(offset))

    def space(self, limit: int) -> memoryview:
        """A writable view for the run's next bytes: at most ``limit`` bytes, at least
        one when ``limit`` > 0. Fill a prefix of it, then :meth:`commit` that many."""
        if not self._in_run:
            raise RuntimeError("space() outside a run")
        start = self._pos - self._base
        if start == self._size:
            self._flush(tail=False)
            self._take_buffer(self._pos)
            start = 0
        buf = self._buffers[self._current]
        return buf[start : start + max(0, min(limit, self._size - start))]

    def commit(self, n: int) -> None:
        """The first ``n`` bytes of the last :meth:`space` view are the run's next bytes."""
        if not 0 <= n <= self._size - (self._pos - self._base):
            raise ValueError("commit() of more than space() gave")
        self._pos += n

    def end_run(self) -> None:
        """Write what the run has left and wait for all of its writes."""
        if not self._in_run:
            raise RuntimeError("end_run() outside a run")
        try:
            self._flush(tail=True)
        finally:
            self._in_run = False
            self.wait()

    def wait(self) -> None:
        """Wait for every write in flight (raising the first failure)."""
        t0 = time.perf_counter()
        try:
            self._wait_all()
        finally:
            self.stats.waited += time.perf_counter() - t0

    def _wait_all(self) -> None:
        errors: list[BaseException] = []
        for i, job in enumerate(self._pending):
            if job is not None:
                self._pending[i] = None
                try:
                    job.result()
                except BaseException as e:
                    errors.append(e)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Wait for writes in flight and close the ``O_DIRECT`` descriptor."""
        try:
            self.wait()
        finally:
            if self._direct_fd is not None:
                os.close(self._direct_fd)
                self._direct_fd = None

    # -- internals ----------------------------------------------------------------

    def _take_buffer(self, base: int) -> None:
        """Make the next staging buffer current, once its last write has finished."""
        if len(self._buffers) < STAGING_BUFFERS and (self._current + 1 >= len(self._buffers)):
            self._buffers.append(memoryview(mmap.mmap(-1, self._size)))
            self._pending.append(None)
        self._current = (self._current + 1) % len(self._buffers)
        job = self._pending[self._current]
        if job is not None:
            self._pending[self._current] = None
            t0 = time.perf_counter()
            job.result()
            self.stats.waited += time.perf_counter() - t0
            if self._use_direct:
                self.stats.direct_wait += time.perf_counter() - t0
                if self.stats.direct_wait > self._slow_wait:
                    self._direct_off(
                        f"the disk was slower than hashing (waited {self.stats.direct_wait:.2f} s "
                        f"after {self.stats.direct_bytes} bytes)"
                    )
        self._base = base

    def _flush(self, *, tail: bool) -> None:
        """Send the current buffer's bytes [lo, pos) to the file."""
        lo, hi, base = self._lo, self._pos, self._base
        self._lo = hi
        if hi <= lo:
            return
        buf = self._buffers[self._current]
        a, b = _align_up(lo), _align_down(hi)
        if not self._use_direct or b <= a:
            self._pending[self._current] = self._pool.submit(
                self._buffered, buf[lo - base : hi - base], lo
            )
            return
        if lo < a:  # the run's first, shared block
            self._buffered(buf[lo - base : a - base], lo)
        if tail and b < hi:  # the run's last, partial block
            self._buffered(buf[b - base : hi - base], b)
        self._pending[self._current] = self._pool.submit(self._direct, buf[a - base : b - base], a)

    def _buffered(self, data: memoryview, offset: int) -> None:
        try:
            _pwrite_all(self._fd, data, offset)
        except OSError as e:
            raise write_error(e, self._name) from None
        with self._stats_lock:
            self.stats.buffered_bytes += len(data)

    def _direct(self, data: memoryview, offset: int) -> None:
        fd = self._direct_fd
        if fd is None or not self._use_direct:  # given up since this write was queued
            self._buffered(data, offset)
            return
        done = 0
        try:
            while done < len(data):
                n = os.pwrite(fd, data[done:], offset + done)
                if n <= 0 or n % ALIGN:  # pragma: no cover - short odd write: finish buffered
                    done += max(n, 0)
                    break
                done += n
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise write_error(e, self._name) from None
            self._direct_off(f"the file system refused an O_DIRECT write ({e.strerror})")
        with self._stats_lock:
            self.stats.direct_bytes += done
        if done < len(data):
            self._buffered(data[done:], offset + done)

    def _direct_off(self, reason: str) -> None:
        if self.stats.direct_off_reason is None:
            self.stats.direct_off_reason = reason
        # The descriptor stays open until close(): a write already queued may use it.
        self._use_direct = False
