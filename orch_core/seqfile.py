"""Files rewritten in place and read seqlock-style (the hook index, stamp payloads)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable


def rewrite_in_place(path: os.PathLike[str] | str, data: bytes,
                     unchanged: Callable[[bytes], bool] | None = None) -> bool:
    """Overwrite ``path`` with ``data`` without creating or renaming a file.

    A create + rename costs a journalled metadata update (and, over an existing
    file, an ext4 flush); this is a few page-cache writes. Readers tell a torn
    read apart seqlock-style: ``data`` must start with a marker byte that only a
    finished write leaves in place. The first byte is set to ``x`` before the
    body is written and back to ``data[0]`` last, so a reader that sees a valid
    first line, reads on, and then sees the same first line again read one write
    whole (a crash mid-write leaves ``x``, which readers treat as stale). Writers
    take flock(2) on the file, so they never interleave.

    ``unchanged(current bytes)`` True skips the write; returns whether it wrote.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if unchanged is not None and size and unchanged(os.pread(fd, size + 1, 0)):
            return False
        if size:
            _pwrite_all(fd, b"x", 0)
        _pwrite_all(fd, b"x" + data[1:], 0)
        os.ftruncate(fd, len(data))
        _pwrite_all(fd, data[:1], 0)
        return True
    finally:
        os.close(fd)  # also drops the flock


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
