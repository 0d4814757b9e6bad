"""Where the lock table lives: ``refs/orch/locks``, its per-session blobs, the caches.

Every change is one commit on the ref whose message says what changed, so
``git log refs/orch/locks`` is the audit log. The cache in SQLite records the
tip it was built from; a reader that finds the ref moved reloads first. Writes
go through the one compare-and-swap loop (git/refs.py ``update``); see
docs/ARCHITECTURE.md (where a lock is written).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from orch_core.errors import GitFailed
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.locks import (
    offline,  # remote mode (docs/ARCHITECTURE.md)
    trust,
)
from orch_core.locks.export import advance_export, session_deadlines, write_export
from orch_core.locks.table import (
    LEGACY_TABLE,
    Lock,
    LockIndex,
    blob_name,
    is_table_entry,
    parse_tree,
    serialise,
    speaks_line,
)
from orch_core.locks.table import Snapshot as Snapshot
from orch_core.locks.tableread import TableMissing as TableMissing
from orch_core.locks.tableread import TableUnreadable as TableUnreadable
from orch_core.locks.tableread import TableUntrusted as TableUntrusted
from orch_core.locks.tableread import read_table as read_table
from orch_core.locks.tableread import readable as readable
from orch_core.locks.trust import WRITTEN_PREFIX
from orch_core.locks.trust import absent as _absent
from orch_core.locks.trust import verify as _verify
from orch_core.locks.trust import written_by_orch as written_by_orch
from orch_core.state.context import Context

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

REF = "refs/orch/locks"
# The first layout's whole-table blob; see locks/table.py for the per-session layout.
TABLE = LEGACY_TABLE


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
            and ctx.odb.read_file(tip, LEGACY_TABLE) is not None:
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


def index_at(ctx: Context, tip: str | None, locks: list[Lock]) -> LockIndex:
    """A LockIndex over ``locks`` (the table at ``tip``), kept across calls of this
    Context and updated by each write rather than rebuilt (1,000 locks: ~0.2 ms)."""
    hit = ctx.cache.get(_INDEX)
    if hit is not None and hit[0] == (tip or "none"):
        index: LockIndex = hit[1]
        return index
    index = LockIndex(locks, ctx.ignore_case)
    ctx.cache[_INDEX] = (tip or "none", index)
    return index


def index_for(ctx: Context, live: list[Lock]) -> LockIndex:
    """The index a mutation function decides on: the table being changed (its
    expired leases are skipped by LockIndex.blockers, as they are not in ``live``)."""
    pending = ctx.cache.get(_PENDING)
    if pending is None:
        return LockIndex(live, ctx.ignore_case)
    index = index_at(ctx, pending[0], pending[1])
    index.deadlines = pending[2]
    return index


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
    if tip is None:
        _absent(ctx)
    cached = _cached_at(ctx, tip)
    if cached is not None:
        return Snapshot(tip, cached, [], session_deadlines(ctx))
    locks, warnings = read_table(repo, tip) if tip else ([], [])
    last = trust.behind(ctx, tip) if tip else None
    if tip and last:
        # The ref moved back to an older table orch wrote: a lock in it or in the table
        # this clone last read counts (no decision gets looser), the cache stays on the
        # newer one, and writers refuse (docs/ARCHITECTURE.md, "Where a lock is written").
        newer = _cached_at(ctx, last) or []
        ids = {lk.id for lk in locks}
        locks = locks + [lk for lk in newer if lk.id not in ids]
        warnings = [*warnings, str(TableUntrusted(tip, last).message)]
        return Snapshot(tip, locks, warnings, session_deadlines(ctx))
    if tip:
        _verify(ctx, tip)  # after the read: an unreadable table says why first
    refresh_cache(ctx, tip, locks)
    return Snapshot(tip, locks, warnings, session_deadlines(ctx))


def refresh_cache(ctx: Context, tip: str | None, locks: list[Lock]) -> None:
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


def _load_at(ctx: Context, tip: gitrepo.Oid | None,
             local: bool = True) -> tuple[list[Lock], bool]:
    """Locks at ``tip`` (the remote's unless ``local``) and whether the cache holds them."""
    cached = _cached_at(ctx, tip)
    if cached is not None:
        return cached, True
    if tip is None:
        if local:
            _absent(ctx)
        return [], False
    try:
        files = ctx.odb.files(tip)
    except (KeyError, AssertionError, ValueError, GitFailed):
        files = None
    if files is None or any(not data for name, data in files.items() if is_table_entry(name)):
        # A missing object (or one of another type) reads as an error, never as an
        # empty table; the writers never store an empty table blob, so an empty one
        # is checked object by object through git.
        locks = read_table(ctx.repo, tip)[0]
    else:
        locks = parse_tree(files)[0]
    if local:
        _verify(ctx, tip)
    return locks, False


if TYPE_CHECKING:
    Mutation: TypeAlias = Callable[[list[Lock], float], tuple[list[Lock], str, dict[str, Any]]]


def mutate(ctx: Context, actor: str, kind: str, fn: Mutation,
           keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Read tip, apply ``fn`` to the live locks, CAS the ref; retry if it moved.

    ``fn`` raises to refuse (nothing is written) or returns the new table, the
    commit message and the result. Expired leases are reaped on the way, and so
    are the locks of dead sessions (but those in ``keep``: a takeover moves them).
    """
    def recovered() -> None:
        with ctx.store.write("orch-hooks", "recover.stale_ref_lock", {"ref": REF}):
            pass

    store, fn = offline.route(ctx, fn, lambda tip: _load_at(ctx, tip)[0],
                              lambda: ctx.cache.pop(_PENDING, None))

    def attempt(tip: gitrepo.Oid | None) -> gitrefs.Proposal[dict[str, Any]]:
        locks, cached = _load_at(ctx, tip, store is None)
        now = ctx.now()
        dl = session_deadlines(ctx)
        dead = sorted({lk.session for lk in locks if dl.get(lk.session, now + 1) <= now
                       and lk.session not in keep and lk.expires_at > now})
        live = [lk for lk in locks if lk.expires_at > now]  # Lock.live, inlined
        if dead:
            live = [lk for lk in live if lk.session not in dead]
        reaped = len(locks) - len(live)
        ctx.cache[_PENDING] = (tip, locks, dl)
        try:
            new, message, result = fn(live, now)
        finally:
            ctx.cache.pop(_PENDING, None)
        if not reaped and _same(new, locks):
            return gitrefs.Proposal(result)
        if reaped:
            message += f"\n\nreaped {reaped} expired lease(s)"
        if dead:
            message += f" and every lock of dead session(s) {', '.join(dead)}"
        message += speaks_line(actor, dead, keep, result, locks)  # hooks/receivelocks.py
        old_ids = {lk.id: lk for lk in locks}
        new_ids = {lk.id: lk for lk in new}
        # Identity first (inline, no call per lock): with 1,000 locks held by
        # others these two scans were a visible share of an acquire.
        dropped = [lk for lk in locks if new_ids.get(lk.id) is not lk
                   and lk != new_ids.get(lk.id)]
        added = [lk for lk in new if old_ids.get(lk.id) is not lk
                 and lk != old_ids.get(lk.id)]
        touched = {lk.session for lk in dropped} | {lk.session for lk in added}
        try:
            commit = ctx.odb.write_tree_update(tip, _table_changes(ctx, tip, new, touched),
                                               message, when=now)
        except (KeyError, AssertionError, ValueError, GitFailed):
            # The cache held the table at ``tip`` but git no longer has its objects.
            if tip is not None and not readable(ctx.repo, tip):
                read_table(ctx.repo, tip)
            raise
        with ctx.store.cache_write() as conn:
            ctx.store.set_meta(conn, WRITTEN_PREFIX + commit, "1")

        def done(commit: gitrepo.Oid) -> dict[str, Any]:
            ctx.cache[_LAYOUT_OK] = commit
            data = dict(result)
            data["tip"] = commit
            if dead:
                data["dead"] = dead
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
            advance_export(ctx, tip, commit, dropped, added, new)
            _refresh_stamps(ctx, touched)
            return result

        return gitrefs.Proposal(result, commit, message.splitlines()[0], done)

    if store is None:
        return gitrefs.update(ctx.repo, ctx.odb, REF, attempt, on_recover=recovered)
    return offline.update(store, REF, attempt, recovered)


# Called after each write with every session whose locks it changed. The work
# layer registers the refresh of the session's checkpoint payload (work/stamp.py),
# which lists its locks; the locks layer does not import the work layer.
SESSION_CHANGED: list[Callable[[Context, str], None]] = []


def _refresh_stamps(ctx: Context, session_ids: Iterable[str]) -> None:
    for sid in session_ids:
        for call in SESSION_CHANGED:
            call(ctx, sid)


def _event_data(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("paths", "ids", "session", "force", "tip", "released", "renewed", "from", "to",
            "dead")
    return {k: v for k, v in result.items() if k in keep}


def _same(a: list[Lock], b: list[Lock]) -> bool:
    # Lock ids are unique within a table, so set equality is list equality up to order.
    if len(a) != len(b):
        return False
    by_id = {lk.id: lk for lk in b}
    return all(_same_lock(lk, by_id.get(lk.id)) for lk in a)
