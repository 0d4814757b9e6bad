"""The lock table in ``refs/orch/locks``: read through a SQLite cache, written by CAS.

Every change is one commit on the ref whose message says what changed, so
``git log refs/orch/locks`` is the audit log. The cache in SQLite records the
tip it was built from; a reader that finds the ref moved reloads first.
"""

from __future__ import annotations

import fcntl
import os
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from orch_core import clock
from orch_core.errors import Busy, Conflict, NotFound, Refused, UsageError
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.locks.table import (
    EXCLUSIVE,
    LEGACY_TABLE,
    SHARED,
    Lock,
    LockIndex,
    blob_name,
    is_table_entry,
    parse_tree,
    serialise,
)
from orch_core.paths import normalise
from orch_core.state.context import Context
from orch_core.work.sessions import Session

REF = "refs/orch/locks"
# The first layout's whole-table blob; see locktable for the per-session layout.
TABLE = LEGACY_TABLE
EXPORT = "locks.idx"
MAX_ATTEMPTS = 200


@dataclass(frozen=True)
class Snapshot:
    tip: gitrepo.Oid | None
    locks: list[Lock]
    warnings: list[str]


def _rows_to_locks(rows: Iterable[Any]) -> list[Lock]:
    return [Lock(id=r["id"], path=r["path"], mode=r["mode"], session=r["session"],
                 owner=r["owner"], task=r["task"], acquired_at=r["acquired_at"],
                 expires_at=r["expires_at"], ttl=r["ttl"],
                 release_on_land=bool(r["release_on_land"]), branch=r["branch"])
            for r in rows]


def _insert(conn: Any, locks: Iterable[Lock]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO locks(id, path, mode, session, owner, task, acquired_at,"
        " expires_at, ttl, release_on_land, branch) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(lk.id, lk.path, lk.mode, lk.session, lk.owner, lk.task, lk.acquired_at,
          lk.expires_at, lk.ttl, int(lk.release_on_land), lk.branch) for lk in locks],
    )


def _table_changes(ctx: Context, tip: gitrepo.Oid | None, new: list[Lock],
                   touched: set[str]) -> dict[str, bytes | None]:
    """Tree entries to write on ``tip``: the blob of every touched session (None when it
    holds nothing now); every session's, and no whole-table blob, when ``tip`` still
    has the first layout."""
    if tip is not None and ctx.cache.get(_LAYOUT_OK) != tip \
            and gitobjects.read_snapshot_file(ctx.pg, tip, LEGACY_TABLE) is not None:
        touched = touched | {lk.session for lk in new}
        changes: dict[str, bytes | None] = {LEGACY_TABLE: None}
    else:
        changes = {}
    by_session: dict[str, list[Lock]] = {sid: [] for sid in touched}
    for lk in new:
        if lk.session in by_session:
            by_session[lk.session].append(lk)
    for sid, held in by_session.items():
        changes[blob_name(sid)] = serialise(held) if held else None
    return changes


_LAYOUT_OK = "locks.layout_tip"


def _same_lock(a: Lock | None, b: Lock | None) -> bool:
    # Identity first: the memoised table hands the same objects around, and the
    # dataclass __eq__/__hash__ over 11 fields dominated a 1,000-lock write.
    return a is b or a == b


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


def _advance_export(ctx: Context, tip: str | None, commit: str, dropped: list[Lock],
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
    text = export_text(tip, lines, ctx.ignore_case, unsafe > 0, secrets.token_hex(8))
    rewrite_in_place(ctx.repo.orch_dir / EXPORT, text.encode())


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


def _awk_unsafe(text: str) -> bool:
    return any(ch in '\t\n\r"\\' or ord(ch) < 0x20 for ch in text)


def _memo(ctx: Context, tip: str | None) -> list[Lock] | None:
    """The table at ``tip`` if this Context already read it (a commit never changes)."""
    hit = ctx.cache.get(_MEMO)
    if hit is not None and hit[0] == (tip or "none"):
        return list(hit[1])
    return None


def _remember(ctx: Context, tip: str | None, locks: Iterable[Lock]) -> None:
    ctx.cache[_MEMO] = (tip or "none", tuple(locks))


_MEMO = "locks.table"
_INDEX = "locks.index"
_PENDING = "locks.pending"


def _index_at(ctx: Context, tip: str | None, locks: list[Lock]) -> LockIndex:
    """A LockIndex over ``locks`` (the table at ``tip``), kept across calls of this
    Context and updated by each write rather than rebuilt (1,000 locks: ~0.2 ms)."""
    hit = ctx.cache.get(_INDEX)
    if hit is not None and hit[0] == (tip or "none"):
        index: LockIndex = hit[1]
        return index
    index = LockIndex(locks, ctx.ignore_case)
    ctx.cache[_INDEX] = (tip or "none", index)
    return index


def _index_for(ctx: Context, live: list[Lock]) -> LockIndex:
    """The index a mutation function decides on: the table being changed (its
    expired leases are skipped by LockIndex.blockers, as they are not in ``live``)."""
    pending = ctx.cache.get(_PENDING)
    if pending is None:
        return LockIndex(live, ctx.ignore_case)
    return _index_at(ctx, *pending)


def _advance_index(ctx: Context, tip: str | None, commit: str, dropped: list[Lock],
                   added: list[Lock]) -> None:
    hit = ctx.cache.pop(_INDEX, None)
    if hit is not None and hit[0] == (tip or "none"):
        hit[1].apply(dropped, added)
        ctx.cache[_INDEX] = (commit, hit[1])


def _cached_at(ctx: Context, tip: str | None) -> list[Lock] | None:
    """The cached table if the cache is labelled ``tip``, else None.

    Label and rows are read in one read transaction, so they describe the same
    table even while another process rewrites the cache.
    """
    memo = _memo(ctx, tip)
    conn = ctx.store.conn
    own = not conn.in_transaction  # inside a caller's transaction the reads agree already
    if own:
        conn.execute("BEGIN")
    try:
        label = ctx.store.meta("locks_tip") or "none"
        rows = (conn.execute("SELECT * FROM locks").fetchall()
                if label == (tip or "none") and memo is None else None)
    finally:
        if own:
            conn.execute("COMMIT")
    if label != (tip or "none"):
        return None
    if memo is None:
        memo = _rows_to_locks(rows or [])
        _remember(ctx, tip, memo)
    return memo


def snapshot(ctx: Context) -> Snapshot:
    """The current table, from the cache when its tip matches the ref."""
    repo = ctx.repo
    tip = gitrefs.read_ref_file(repo.common_dir, REF)
    cached = _cached_at(ctx, tip)
    if cached is not None:
        return Snapshot(tip, cached, [])
    locks, warnings = read_table(repo, tip) if tip else ([], [])
    _refresh_cache(ctx, tip, locks)
    return Snapshot(tip, locks, warnings)


def _refresh_cache(ctx: Context, tip: str | None, locks: list[Lock]) -> None:
    with ctx.store.cache_write() as conn:
        # A reader that loaded the table while a writer moved the ref on must not
        # put its older table back: a writer trusts rows labelled with the tip it
        # reads and only patches them. Checked inside the write transaction, so the
        # label always names the table the rows hold.
        if gitrefs.read_ref_file(ctx.repo.common_dir, REF) != tip:
            return
        conn.execute("DELETE FROM locks")
        _insert(conn, locks)
        ctx.store.set_meta(conn, "locks_tip", tip or "none")
    write_export(ctx, tip, locks)


def _load_at(ctx: Context, tip: gitrepo.Oid | None) -> tuple[list[Lock], bool]:
    """Locks at ``tip`` and whether the SQLite cache already holds exactly them."""
    cached = _cached_at(ctx, tip)
    if cached is not None:
        return cached, True
    if tip is None:
        return [], False
    return parse_tree(gitobjects.snapshot_files(ctx.pg, tip))[0], False


def read_table(repo: gitrepo.Repo, commit: str) -> tuple[list[Lock], list[str]]:
    """The table at ``commit`` through git itself (no pygit2: the hooks call this)."""
    proc = repo.run("ls-tree", "-z", commit, "--", check=False)
    entries: list[tuple[str, str]] = []
    for rec in proc.stdout.decode(errors="surrogateescape").split("\0"):
        meta, _tab, name = rec.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob" and is_table_entry(name):
            entries.append((name, parts[2]))
    blobs = gitobjects.cat_objects(repo, [oid for _name, oid in entries])
    return parse_tree({name: blobs.get(oid) or b"" for name, oid in entries})


Mutation = Callable[[list[Lock], float], tuple[list[Lock], str, dict[str, Any]]]


def mutate(ctx: Context, actor: str, kind: str, fn: Mutation) -> dict[str, Any]:
    """Read tip, apply ``fn`` to the live locks, CAS the ref; retry if it moved.

    ``fn`` raises to refuse (nothing is written) or returns the new table, the
    commit message and the result. Expired leases are reaped on the way.
    """
    repo = ctx.repo
    pg = ctx.pg
    with gitrefs.writer_lock(repo):
        # A writer SIGKILLed inside the ref transaction leaves <ref>.lock behind; it
        # only counts as stale (and is removed) after STALE_GIT_LOCK_SECONDS, so keep
        # waiting that long instead of burning the attempts in a second.
        lock_wait_until = time.monotonic() + gitrefs.STALE_GIT_LOCK_SECONDS + 2.0
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            attempt += 1
            if gitrefs.recover_stale_ref_lock(repo, REF):
                with ctx.store.write("orch-hooks", "recover.stale_ref_lock", {"ref": REF}):
                    pass
            tip = gitrefs.ref_tip(pg, REF)
            locks, cached = _load_at(ctx, tip)
            now = ctx.now()
            live = [lk for lk in locks if lk.expires_at > now]  # Lock.live, inlined
            reaped = len(locks) - len(live)
            ctx.cache[_PENDING] = (tip, locks)
            try:
                new, message, result = fn(live, now)
            finally:
                ctx.cache.pop(_PENDING, None)
            if not reaped and _same(new, locks):
                return result
            if reaped:
                message += f"\n\nreaped {reaped} expired lease(s)"
            old_ids = {lk.id: lk for lk in locks}
            new_ids = {lk.id: lk for lk in new}
            # Identity first (inline, no call per lock): with 1,000 locks held by
            # others these two scans were a visible share of an acquire.
            dropped = [lk for lk in locks if new_ids.get(lk.id) is not lk
                       and lk != new_ids.get(lk.id)]
            added = [lk for lk in new if old_ids.get(lk.id) is not lk
                     and lk != old_ids.get(lk.id)]
            touched = {lk.session for lk in dropped} | {lk.session for lk in added}
            commit = gitobjects.write_tree_update(pg, tip, _table_changes(ctx, tip, new, touched),
                                             message, when=now)
            try:
                gitrefs.cas_ref(pg, REF, commit, tip, message.splitlines()[0])
            except gitrefs.CasMismatch:
                if (gitrefs.loose_ref_lock_path(repo, REF).exists()
                        and time.monotonic() < lock_wait_until):
                    attempt -= 1
                    time.sleep(0.05)
                    continue
                time.sleep(random.uniform(0.001, 0.01))
                continue
            ctx.cache[_LAYOUT_OK] = commit
            data = dict(result)
            data["tip"] = commit
            with ctx.store.write(actor, kind, _event_data(data)) as conn:
                if cached:
                    gone = [i for i in old_ids if i not in new_ids]
                    conn.executemany("DELETE FROM locks WHERE id=?", [(i,) for i in gone])
                    _insert(conn, added)
                else:
                    conn.execute("DELETE FROM locks")
                    _insert(conn, new)
                ctx.store.set_meta(conn, "locks_tip", commit)
            _remember(ctx, commit, new)
            _advance_index(ctx, tip, commit, dropped, added)
            _advance_export(ctx, tip, commit, dropped, added, new)
            _refresh_stamps(ctx, touched)
            return result
    if gitrefs.loose_ref_lock_path(repo, REF).exists():
        raise Busy(f"{gitrefs.loose_ref_lock_path(repo, REF)} is held by another git process",
                   hint="retry; if no git command is running, `orch-hooks doctor --fix` "
                        "removes it once it is stale")
    raise Busy(f"{REF} kept moving; gave up after {MAX_ATTEMPTS} attempts", hint="retry")


def _refresh_stamps(ctx: Context, session_ids: Iterable[str]) -> None:
    from orch_core.work import stamp

    for sid in session_ids:
        stamp.refresh(ctx, sid)


def _event_data(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("paths", "ids", "session", "force", "tip", "released", "renewed", "from", "to")
    return {k: v for k, v in result.items() if k in keep}


def _same(a: list[Lock], b: list[Lock]) -> bool:
    # Lock ids are unique within a table, so set equality is list equality up to order.
    if len(a) != len(b):
        return False
    by_id = {lk.id: lk for lk in b}
    return all(_same_lock(lk, by_id.get(lk.id)) for lk in a)


def describe(lk: Lock, now: float) -> dict[str, Any]:
    out = lk.to_json()
    out["live"] = lk.live(now)
    out["expires"] = clock.iso(lk.expires_at)
    out["expires_in"] = max(0, int(lk.expires_at - now))
    return out


def conflict_entry(path: str, lk: Lock, now: float) -> dict[str, Any]:
    return {
        "path": path,
        "lock_id": lk.id,
        "lock_path": lk.path,
        "mode": lk.mode,
        "holder_session": lk.session,
        "owner": lk.owner,
        "task": lk.task,
        "expires_at": lk.expires_at,
        "expires": clock.iso(lk.expires_at),
        "expires_in": max(0, int(lk.expires_at - now)),
    }


def conflict_lines(found: dict[str, list[Lock]], now: float) -> list[str]:
    lines: list[str] = []
    for path, locks in found.items():
        for lk in locks:
            task = f", task {lk.task}" if lk.task else ""
            mins = max(0, int(lk.expires_at - now)) // 60
            lines.append(
                f"  {path}: locked by session {lk.session} (owner {lk.owner}{task}); "
                f"lock {lk.id} on {lk.path} [{lk.mode}], expires {clock.iso(lk.expires_at)} "
                f"(in {mins} min)"
            )
    return lines


def normalise_all(ctx: Context, raw: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in raw:
        n = normalise(p, ctx.repo.toplevel)
        if n not in out:
            out.append(n)
    if not out:
        raise UsageError("no path given", hint="name at least one path, e.g. src/api/",
                         code="bad_path")
    return out


def acquire(ctx: Context, sess: Session, paths: list[str], shared: bool = False,
            ttl: float | None = None, task: str | None = None,
            release_on_land: bool = False) -> dict[str, Any]:
    norm = normalise_all(ctx, paths)
    life = float(ttl if ttl is not None else ctx.config.get("locks", "default_ttl"))
    if life <= 0:
        raise UsageError("--ttl must be a positive number of seconds", code="bad_param")
    mode = SHARED if shared else EXCLUSIVE
    # The branch the session is on now (agents switch branches; the session record
    # keeps the one it opened on): release-on-land releases locks of that branch.
    branch = (gitworktree.worktree_branch(sess.worktree) if sess.worktree else None) or sess.branch

    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        index = _index_for(ctx, live)
        found = {p: index.blockers(p, mode, sess.id, now) for p in norm}
        found = {p: v for p, v in found.items() if v}
        if found:
            raise Conflict(
                "lock conflict; nothing was acquired:\n" + "\n".join(conflict_lines(found, now)),
                hint="wait for the holder to release, ask them, or see `orch-hooks lock list`; "
                     "`orch-hooks lock release --force LOCK_ID` overrides (journaled)",
                details={"conflicts": [conflict_entry(p, lk, now)
                                       for p, v in found.items() for lk in v]},
            )
        keep = [lk for lk in live
                if not (lk.session == sess.id and lk.path in norm)]
        granted = [
            Lock(id="L-" + secrets.token_hex(4), path=p, mode=mode, session=sess.id,
                 owner=sess.owner, task=task, acquired_at=now, expires_at=now + life,
                 ttl=life, release_on_land=release_on_land, branch=branch)
            for p in norm
        ]
        task_txt = f" for task {task}" if task else ""
        msg = (f"acquire {', '.join(norm)} [{mode}] by {sess.id} ({sess.owner}){task_txt}, "
               f"expires {clock.iso(now + life)}")
        return keep + granted, msg, {
            "session": sess.id, "paths": norm,
            "locks": [describe(lk, now) for lk in granted],
        }

    return mutate(ctx, sess.id, "lock.acquire", fn)


def release(ctx: Context, sess: Session | None, selectors: list[str],
            force: bool = False) -> dict[str, Any]:
    if not selectors:
        raise UsageError("nothing to release", hint="name a path or a lock id",
                         code="bad_param")
    wanted_ids = [s for s in selectors if s.startswith("L-")]
    wanted_paths = [normalise(s, None) for s in selectors if not s.startswith("L-")]
    who = sess.id if sess else None
    if who is None and not force:
        raise UsageError("no session in effect", code="no_session",
                         hint="run `orch-hooks session open`, or use --force")

    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        chosen: list[Lock] = []
        for lid in wanted_ids:
            match = [lk for lk in live if lk.id == lid]
            if not match:
                raise NotFound(f"no live lock with id {lid}", code="unknown_lock",
                               hint="`orch-hooks lock list` shows the live locks")
            chosen.extend(match)
        for p in wanted_paths:
            match = [lk for lk in live if lk.path == p and (force or lk.session == who)]
            if not match:
                others = [lk for lk in live if lk.path == p]
                if others:
                    holder = others[0]
                    raise Refused(
                        f"{p} is locked by session {holder.session} ({holder.owner}), not you",
                        hint="only the holder releases; `--force` overrides (journaled)",
                        code="not_holder")
                raise NotFound(f"no live lock on {p}", code="unknown_lock",
                               hint="`orch-hooks lock list` shows the live locks")
            chosen.extend(match)
        for lk in chosen:
            if lk.session != who and not force:
                raise Refused(
                    f"lock {lk.id} on {lk.path} is held by session {lk.session} ({lk.owner})",
                    hint="only the holder releases; `--force` overrides (journaled)",
                    code="not_holder")
        ids = {lk.id for lk in chosen}
        forced = [lk for lk in chosen if lk.session != who]
        msg = f"release {', '.join(sorted({lk.path for lk in chosen}))} by {who or 'nobody'}"
        if forced:
            msg = (f"force-release {', '.join(lk.path for lk in forced)} held by "
                   f"{', '.join(sorted({lk.session for lk in forced}))} (by {who or 'nobody'})")
        return [lk for lk in live if lk.id not in ids], msg, {
            "session": who, "force": bool(forced), "ids": sorted(ids),
            "released": [describe(lk, now) for lk in chosen],
        }

    return mutate(ctx, who or "force", "lock.force_release" if force else "lock.release", fn)


def heartbeat(ctx: Context, sess: Session) -> dict[str, Any]:
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        mine = [lk for lk in live if lk.session == sess.id]
        new = [lk.renewed(now) if lk.session == sess.id else lk for lk in live]
        return new, f"heartbeat {len(mine)} lease(s) of {sess.id}", {
            "session": sess.id, "renewed": len(mine),
            "locks": [describe(lk.renewed(now), now) for lk in mine],
        }

    return mutate(ctx, sess.id, "lock.heartbeat", fn)


def release_where(ctx: Context, actor: str, why: str,
                  pred: Callable[[Lock], bool]) -> dict[str, Any]:
    """Release every live lock matching ``pred`` (session close, landing)."""
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        gone = [lk for lk in live if pred(lk)]
        return [lk for lk in live if not pred(lk)], \
            f"release {len(gone)} lock(s): {why}", {
                "session": actor, "ids": [lk.id for lk in gone],
                "released": [describe(lk, now) for lk in gone]}

    return mutate(ctx, actor, "lock.release", fn)


def transfer(ctx: Context, from_session: str, to: Session) -> dict[str, Any]:
    """Hand every live lock of one session to another (resume attach)."""
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        moved = [replace(lk, session=to.id, owner=to.owner, expires_at=now + lk.ttl)
                 for lk in live if lk.session == from_session]
        rest = [lk for lk in live if lk.session != from_session]
        return rest + moved, f"transfer {len(moved)} lock(s) from {from_session} to {to.id}", {
            "from": from_session, "to": to.id, "ids": [lk.id for lk in moved],
            "locks": [describe(lk, now) for lk in moved]}

    return mutate(ctx, to.id, "lock.transfer", fn)


def listing(ctx: Context, include_expired: bool = False) -> dict[str, Any]:
    snap = snapshot(ctx)
    now = ctx.now()
    rows = [lk for lk in snap.locks if include_expired or lk.live(now)]
    rows.sort(key=lambda lk: (lk.path, lk.id))
    return {"tip": snap.tip, "locks": [describe(lk, now) for lk in rows],
            "warnings": snap.warnings}


def check(ctx: Context, session_id: str, paths: list[str]) -> dict[str, Any]:
    norm = normalise_all(ctx, paths)
    snap = snapshot(ctx)
    now = ctx.now()
    found = _index_at(ctx, snap.tip, snap.locks).check(norm, session_id, now)
    return {
        "session": session_id,
        "ok": not found,
        "paths": [{"path": p, "blocked": p in found,
                   "conflicts": [conflict_entry(p, lk, now) for lk in found.get(p, [])]}
                  for p in norm],
        "message": "\n".join(conflict_lines(found, now)),
    }


def held_by(ctx: Context, session_id: str) -> list[Lock]:
    now = ctx.now()
    return [lk for lk in snapshot(ctx).locks if lk.session == session_id and lk.live(now)]
