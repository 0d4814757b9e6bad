"""The hook index ``locks.idx``: the lock table as the pre-commit shim's awk reads it.

Rewritten in place (orch_core/seqfile.py) after every change of the table and of a
lock holder's deadline; see hooks/lockcheck.awk for the reader and
docs/ARCHITECTURE.md ("Hooks", "Dead sessions") for the format. The fast readers
at the end answer `orch-hooks lock check` from it without importing the rest of
the package (cli/quickcheck.py), so this module imports only the standard library
at run time.
"""

from __future__ import annotations

import os

# typing.TYPE_CHECKING without importing typing (cli/quickcheck.py imports this
# module on every `lock check`); mypy reads this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from orch_core.locks.table import Lock
    from orch_core.state.context import Context

EXPORT = "locks.idx"
# The index format; the header carries it, and a reader that finds another one
# treats the index as stale (Python decides, and rewrites it).
VERSION = "2"


def export_line(lk: Lock, ignore_case: bool, deadline: float | None = None) -> str:
    """One lock as the pre-commit awk reads it: key, prefix?, session, mode, expiry.

    The expiry is when the lock stops counting: its lease end, or its holder's
    deadline (heartbeat + ttl + grace) when that comes first; rounded up."""
    return _head(lk, ignore_case) + f"{_until(int(lk.expires_at) + 1, deadline)}\n"


def _head(lk: Lock, ignore_case: bool) -> str:
    k = lk.path.rstrip("/")
    if ignore_case:
        k = k.casefold()
    return f"{k}\t{int(lk.path.endswith('/'))}\t{lk.session}\t{lk.mode}\t"


def _until(lease: int, deadline: float | None) -> int:
    return lease if deadline is None else min(lease, int(deadline) + 1)


def export_text(tip: str | None, lines: Iterable[str], ignore_case: bool, unsafe: bool,
                nonce: str) -> str:
    """The whole index: header, lock lines, trailer (hooks/pre-commit.sh checks both).

    Header ``tip TIP CI UNSAFE VERSION NONCE``, trailer ``end TIP NONCE``. The
    file is rewritten in place (see :func:`write_export`); the nonce makes every
    write's header differ, so a reader that sees the same header before and after
    its read saw one write whole.
    """
    t = tip or "none"
    return (f"tip\t{t}\t{int(ignore_case)}\t{int(unsafe)}\t{VERSION}\t{nonce}\n"
            + "".join(lines) + f"end\t{t}\t{nonce}\n")


ExportEntry = tuple["Lock", str, bool, int]  # the lock, its line up to the expiry, unsafe?, lease
_EXPORT = "locks.export"


def _export_entry(ctx: Context, lk: Lock) -> ExportEntry:
    # A tab, newline, quote or backslash would shift the awk fields; flag the
    # file so the fast path hands every commit to Python instead of guessing.
    return (lk, _head(lk, ctx.ignore_case),
            _awk_unsafe(lk.path) or _awk_unsafe(lk.session), int(lk.expires_at) + 1)


def write_export(ctx: Context, tip: str | None, locks: Iterable[Lock],
                 later: Mapping[str, float] | None = None) -> None:
    """The plain-text copy the shell fast path of pre-commit reads (see hooks/).

    ``later``: deadlines of sessions about to be pushed forward (a heartbeat)."""
    hit = ctx.cache.pop(_EXPORT, None)
    old: dict[str, ExportEntry] = hit[1] if hit is not None else {}
    entries: dict[str, ExportEntry] = {}
    rows: list[ExportEntry] = []
    unsafe = 0
    for lk in locks:
        prev = old.get(lk.id)
        if prev is None or (prev[0] is not lk and prev[0] != lk):
            prev = _export_entry(ctx, lk)
        entries[lk.id] = prev
        rows.append(prev)
        unsafe += prev[2]
    if len(entries) == len(rows):  # a duplicated lock id (a forged table) is not patched
        ctx.cache[_EXPORT] = (tip or "none", entries, unsafe)
    _write_export_text(ctx, tip, rows, unsafe, later)


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
    _write_export_text(ctx, commit, list(entries.values()), unsafe, None)


def session_deadlines(ctx: Context) -> dict[str, float]:
    """Open sessions of this clone -> the time they are dead (heartbeat + ttl + grace).

    A session missing here (another clone's, a closed one) counts by its leases."""
    rows = ctx.store.conn.execute(
        "SELECT id, heartbeat_at + ttl + grace FROM sessions WHERE status='open'")
    return {str(r[0]): float(r[1]) for r in rows}


def _write_export_text(ctx: Context, tip: str | None, rows: list[ExportEntry], unsafe: int,
                       later: Mapping[str, float] | None) -> None:
    def build() -> bytes:
        # Under the index's flock: the deadlines read here are never older than
        # those of a write that finished before (docs/ARCHITECTURE.md, "Dead sessions").
        dl = session_deadlines(ctx)
        for sid, when in (later or {}).items():
            dl[sid] = max(when, dl.get(sid, when))
        until = {sid: int(when) + 1 for sid, when in dl.items()}
        lines = [f"{head}{min(lease, until.get(lk.session, lease))}\n"
                 for lk, head, _unsafe, lease in rows]
        nonce = os.urandom(8).hex()  # = secrets.token_hex(8), without importing secrets
        return export_text(tip, lines, ctx.ignore_case, unsafe > 0, nonce).encode()

    from orch_core.seqfile import rewrite_in_place  # here: the fast readers need none

    rewrite_in_place(ctx.repo.orch_dir / EXPORT, build)


def index_mismatches(ctx: Context, tip: str | None, locks: Iterable[Lock]) -> list[str]:
    """How ``locks.idx`` differs from the index the lock table at ``tip`` makes,
    built in memory as :func:`write_export` builds it (doctor): one phrase per
    lock whose line is missing, extra or changed (an edited expiry turns a lock
    off for every hook of the clone), or for a changed header. [] when equal."""
    try:
        lines = (ctx.repo.orch_dir / EXPORT).read_bytes().decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        return [f"unreadable: {e}"]
    rows = list(locks)
    until = {sid: int(when) + 1 for sid, when in session_deadlines(ctx).items()}
    want: dict[str, str] = {}
    for lk in rows:
        head, lease = _head(lk, ctx.ignore_case), int(lk.expires_at) + 1
        want[head] = f"{head}{min(lease, until.get(lk.session, lease))}"
    unsafe = any(_awk_unsafe(lk.path) or _awk_unsafe(lk.session) for lk in rows)
    out: list[str] = []
    hdr = lines[0].split("\t") if lines else []
    if hdr[:5] != ["tip", tip or "none", str(int(ctx.ignore_case)), str(int(unsafe)), VERSION]:
        out.append("header does not match the lock table")
    have: dict[str, str] = {}
    tab = "\t"
    for line in lines[1:-2] if len(lines) >= 3 else []:
        head, _, _exp = line.rpartition("\t")
        have[head + "\t"] = line
    for head in sorted(set(want) | set(have)):
        name = head.split("\t")[0] + ("/" if head.split("\t")[1:2] == ["1"] else "")
        holder = head.split("\t")[2] if head.count("\t") >= 3 else "?"
        if head not in have:
            out.append(f"lock on {name} of {holder} missing")
        elif head not in want:
            out.append(f"lock on {name} of {holder} not in the table")
        elif have[head] != want[head]:
            got, exp = have[head].rpartition(tab)[2], want[head].rpartition(tab)[2]
            out.append(f"lock on {name} of {holder}: expiry {got} instead of {exp}")
    return out


def _awk_unsafe(text: str) -> bool:
    return any(ch in '\t\n\r"\\' or ord(ch) < 0x20 for ch in text)


# -- fast readers ------------------------------------------------------------------------
# They answer only when sure and return None otherwise; the caller then takes the
# full path, which decides (and explains any error). Never a guess of "no locks".

# key, prefix?, session, expiry: whole seconds, rounded up, the lease end or the
# holder's deadline when that comes first (what the awk and LockIndex count).
IndexLine = tuple[str, bool, str, int]
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
    if (len(head) != 6 or head[0] != "tip" or head[1] != tip
            or head[2] != "0" or head[3] != "0" or head[4] != VERSION or not head[5]
            or lines[-2] != f"end\t{tip}\t{head[5]}"):
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
