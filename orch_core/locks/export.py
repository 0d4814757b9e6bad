"""The hook index ``locks.idx``: the lock table as the pre-commit shim's awk reads it.

Rewritten in place (orch_core/seqfile.py) after every change of the table;
see hooks/pre-commit.sh for the reader and docs/ARCHITECTURE.md for the format.
The fast readers at the end answer `orch-hooks lock check` from it without
importing the rest of the package (cli/lockfront.py), so this module imports
only the standard library at run time.
"""

from __future__ import annotations

import os

# typing.TYPE_CHECKING without importing typing (cli/quickcheck.py imports this
# module on every `lock check`); mypy reads this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from orch_core.locks.table import Lock
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


ExportEntry = tuple["Lock", str, bool]  # the lock, its index line, awk-unsafe?
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
    from orch_core.seqfile import rewrite_in_place  # here: the fast readers need none

    nonce = os.urandom(8).hex()  # = secrets.token_hex(8), without importing secrets
    text = export_text(tip, lines, ctx.ignore_case, unsafe > 0, nonce)
    rewrite_in_place(ctx.repo.orch_dir / EXPORT, text.encode())


def _awk_unsafe(text: str) -> bool:
    return any(ch in '\t\n\r"\\' or ord(ch) < 0x20 for ch in text)


# -- fast readers ------------------------------------------------------------------------
# They answer only when sure and return None otherwise; the caller then takes the
# full path, which decides (and explains any error). Never a guess of "no locks".

IndexLine = tuple[str, bool, str, int]  # key, prefix?, session, expiry (whole seconds, up)
_REF = "refs/orch/locks"


def read_current_index(common_dir: str) -> list[IndexLine] | None:
    """The locks of ``locks.idx`` when it was read whole, names the tip of
    ``refs/orch/locks`` (a loose ref), is case-sensitive with no awk-unsafe line, and
    is newer than the repository's git config; else None. The same checks as the
    shims' (docs/ARCHITECTURE.md, "pre-commit: hooks/lockcheck.awk")."""
    idx = os.path.join(common_dir, "orch", EXPORT)
    try:
        tip = _ref_tip(common_dir)
        if tip is None:
            return None
        if os.stat(os.path.join(common_dir, "config")).st_mtime_ns >= os.stat(idx).st_mtime_ns:
            return None
        with open(idx, "rb") as fh:
            data = fh.read().decode("utf-8")
        with open(idx, "rb") as fh:
            again = fh.readline().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = data.split("\n")
    if len(lines) < 3 or lines[-1] != "" or again != lines[0] + "\n":
        return None
    head = lines[0].split("\t")
    if (len(head) != 5 or head[0] != "tip" or head[1] != tip
            or head[2] != "0" or head[3] != "0" or not head[4]
            or lines[-2] != f"end\t{tip}\t{head[4]}"):
        return None
    out: list[IndexLine] = []
    for line in lines[1:-2]:
        f = line.split("\t")
        if len(f) != 5 or f[1] not in ("0", "1") or not f[0] or not f[4].isdigit():
            return None
        out.append((f[0], f[1] == "1", f[2], int(f[4])))
    return out


def _ref_tip(common_dir: str) -> str | None:
    """The tip of ``refs/orch/locks`` as the index names it ("none": no such ref, loose
    or packed); None when the loose file holds anything but an object name."""
    try:
        with open(os.path.join(common_dir, _REF), "rb") as fh:
            tip = fh.read().decode("ascii").strip()
    except FileNotFoundError:
        try:
            with open(os.path.join(common_dir, "packed-refs"), "rb") as fh:
                for line in fh:
                    if line.rstrip(b"\n").endswith(b" " + _REF.encode()):
                        return line.split(b" ", 1)[0].decode("ascii")
        except FileNotFoundError:
            pass
        return "none"
    if len(tip) not in (40, 64) or not all(c in "0123456789abcdef" for c in tip):
        return None
    return tip


def session_known(common_dir: str, sid: str) -> bool | None:
    """Is ``sid`` a session of this clone (open or closed)? None when the state
    database cannot be read as the full path reads it (missing, empty, locked,
    damaged): that path then decides, and reports."""
    import sqlite3

    path = os.path.join(common_dir, "orch", "state.db")
    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return None
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key='db_version'").fetchone()
        if row is None or int(row[0]) == 0:
            return None  # an empty database: the full path warns about a lost one
        return conn.execute("SELECT 1 FROM sessions WHERE id=?", (sid,)).fetchone() is not None
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()


def may_conflict(path: str, key: str, prefix: bool) -> bool:
    """Could a lock on ``key`` (a prefix lock when ``prefix``) block a change of
    ``path`` (normalised; ``a/b/`` for a prefix)? A superset of the conflict rule
    (locks/table.py): the two paths are equal or one lies under the other."""
    p = path.rstrip("/")
    return p == key or p.startswith(key + "/") or key.startswith(p + "/")
