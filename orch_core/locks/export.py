"""The hook index ``locks.idx``: the lock table as the pre-commit shim's awk reads it.

Rewritten in place (orch_core/seqfile.py) after every change of the table;
see hooks/pre-commit.sh for the reader and docs/ARCHITECTURE.md for the format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from orch_core.locks.table import Lock
from orch_core.seqfile import rewrite_in_place
from orch_core.state.context import Context

EXPORT = "locks.idx"


def export_line(lk: Lock, ignore_case: bool) -> str:
    """One lock as the pre-commit awk reads it: key, prefix?, session, mode, expiry."""
    k = lk.path.rstrip("/")
    if ignore_case:
        k = k.casefold()
    return f"{k}\t{int(lk.path.endswith('/'))}\t{lk.session}\t{lk.mode}\t{int(lk.expires_at) + 1}\n"


def export_text(tip: str | None, lines: Iterable[str], ignore_case: bool, unsafe: bool,
                nonce: str) -> str:
    """The whole index: header, lock lines, trailer (hooks/pre-commit.sh checks both).

    Header ``tip TIP CI UNSAFE NONCE``, trailer ``end TIP NONCE``. The file is
    rewritten in place (see :func:`write_export`); the nonce makes every write's
    header differ, so a reader that sees the same header before and after its read
    saw one write whole.
    """
    t = tip or "none"
    return (f"tip\t{t}\t{int(ignore_case)}\t{int(unsafe)}\t{nonce}\n"
            + "".join(lines) + f"end\t{t}\t{nonce}\n")


ExportEntry = tuple[Lock, str, bool]  # the lock, its index line, awk-unsafe?
_EXPORT = "locks.export"


def _export_entry(ctx: Context, lk: Lock) -> ExportEntry:
    # A tab, newline, quote or backslash would shift the awk fields; flag the
    # file so the fast path hands every commit to Python instead of guessing.
    return lk, export_line(lk, ctx.ignore_case), _awk_unsafe(lk.path) or _awk_unsafe(lk.session)


def write_export(ctx: Context, tip: str | None, locks: Iterable[Lock]) -> None:
    """The plain-text copy the shell fast path of pre-commit reads (see hooks/)."""
    hit = ctx.cache.pop(_EXPORT, None)
    old: dict[str, ExportEntry] = hit[1] if hit is not None else {}
    entries: dict[str, ExportEntry] = {}
    lines: list[str] = []
    unsafe = 0
    for lk in locks:
        prev = old.get(lk.id)
        if prev is None or (prev[0] is not lk and prev[0] != lk):
            prev = _export_entry(ctx, lk)
        entries[lk.id] = prev
        lines.append(prev[1])
        unsafe += prev[2]
    if len(entries) == len(lines):  # a duplicated lock id (a forged table) is not patched
        ctx.cache[_EXPORT] = (tip or "none", entries, unsafe)
    _write_export_text(ctx, tip, lines, unsafe)


def advance_export(ctx: Context, tip: str | None, commit: str, dropped: list[Lock],
                   added: list[Lock], new: list[Lock]) -> None:
    """write_export(ctx, commit, new), patching this Context's copy of the index at
    ``tip`` with the change instead of walking the whole table."""
    hit = ctx.cache.pop(_EXPORT, None)
    if hit is None or hit[0] != (tip or "none"):
        write_export(ctx, commit, new)
        return
    entries: dict[str, ExportEntry] = hit[1]
    unsafe: int = hit[2]
    for lk in dropped:
        gone = entries.pop(lk.id, None)
        unsafe -= bool(gone and gone[2])
    for lk in added:
        if lk.id in entries:
            write_export(ctx, commit, new)
            return
        entries[lk.id] = entry = _export_entry(ctx, lk)
        unsafe += entry[2]
    ctx.cache[_EXPORT] = (commit, entries, unsafe)
    _write_export_text(ctx, commit, [e[1] for e in entries.values()], unsafe)


def _write_export_text(ctx: Context, tip: str | None, lines: list[str], unsafe: int) -> None:
    nonce = os.urandom(8).hex()  # = secrets.token_hex(8), without importing secrets
    text = export_text(tip, lines, ctx.ignore_case, unsafe > 0, nonce)
    rewrite_in_place(ctx.repo.orch_dir / EXPORT, text.encode())


def _awk_unsafe(text: str) -> bool:
    return any(ch in '\t\n\r"\\' or ord(ch) < 0x20 for ch in text)
