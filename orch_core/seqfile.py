"""Files rewritten in place and read seqlock-style (the hook index, stamp payloads)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from _thread import get_ident
from collections.abc import Callable, Iterator

# Files this thread holds the writers' flock of (see :func:`held`): (thread, path) -> fd.
_HELD: dict[tuple[int, str], int] = {}


@contextlib.contextmanager
def held(path: os.PathLike[str] | str) -> Iterator[None]:
    """Hold the writers' flock of ``path`` across several steps (re-entrant in this
    process: :func:`rewrite_in_place` inside uses it instead of taking it again)."""
    name = (get_ident(), os.fspath(path))
    if name in _HELD:
        yield
        return
    fd = os.open(name[1], os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[name] = fd
        yield
    finally:
        _HELD.pop(name, None)
        os.close(fd)


def rewrite_in_place(path: os.PathLike[str] | str, data: bytes | Callable[[], bytes],
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
    ``data`` may be a function, called under the flock (what it reads is then read
    in the same order as the writes).
    """
    mine = _HELD.get((get_ident(), os.fspath(path)))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if mine is None else mine
    try:
        if mine is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if callable(data):
            data = data()
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
        if mine is None:
            os.close(fd)  # also drops the flock


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
