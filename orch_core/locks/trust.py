"""Which lock table commits are believed (docs/ARCHITECTURE.md, "Where a lock is
written"): the ones a writer of this clone made, never one made by hand, and never
one behind the table this clone last read."""

from __future__ import annotations

from orch_core.locks.tableread import TableMissing, TableUntrusted, _no_ref
from orch_core.state.context import Context

# Every table commit a writer of this clone makes is recorded before its
# compare-and-swap (a writer killed right after it leaves no stranger behind);
# `rebuild` and the first read of an older state database trust the tip they meet.
WRITTEN_PREFIX = "locks_written:"
TRUSTED_TIP = "locks_trusted_tip"


def written_by_orch(ctx: Context, tip: str) -> bool:
    """Did a writer of this clone make ``tip`` (or was it trusted at a rebuild)?"""
    store = ctx.store
    if store.meta(WRITTEN_PREFIX + tip) is not None or store.meta(TRUSTED_TIP) == tip:
        return True
    # Only the lock writers' events: a mail or queue commit built on the lock table's
    # tip names that commit in an event of its own kind.
    row = store.conn.execute(
        "SELECT 1 FROM events WHERE kind LIKE 'lock.%' AND json_extract(data, '$.tip') = ? "
        "LIMIT 1", (tip,)).fetchone()
    return row is not None


def _first_use(ctx: Context, tip: str) -> bool:
    """A state database from before this rule (nothing recorded yet): trust what
    stands, once."""
    if ctx.store.meta(TRUSTED_TIP) is not None or ctx.store.conn.execute(
            "SELECT 1 FROM meta WHERE key LIKE ? LIMIT 1", (WRITTEN_PREFIX + "%",)
    ).fetchone() is not None:
        return False
    with ctx.store.cache_write() as conn:
        ctx.store.set_meta(conn, TRUSTED_TIP, tip)
    return True


def behind(ctx: Context, tip: str) -> str | None:
    """The table this clone last read, when ``tip`` is a table orch wrote that does
    not descend from it (the ref moved back by hand); else None."""
    last = ctx.store.meta("locks_tip")
    if not last or last in ("none", tip) or not written_by_orch(ctx, tip):
        return None
    # Imported here: a lock write on the table it last read needs no history
    # (docs/ARCHITECTURE.md, performance budgets).
    from orch_core.git import history as githistory

    return None if githistory.is_ancestor(ctx.repo, last, tip) else last


def verify(ctx: Context, tip: str) -> None:
    """Refuse a table commit no writer of this clone made, or one that is not a
    descendant of the table this clone last read (the ref moved back to an older
    table by hand, which would drop every lock taken since). A remote-mode clone
    also believes the remote's table as last fetched and its history (the remote's
    server hook checks each write)."""
    last = behind(ctx, tip)
    if last is None and (written_by_orch(ctx, tip) or _first_use(ctx, tip)):
        return
    from orch_core.remote import mode

    name = mode.remote_name(ctx)
    if name is not None and not last:
        # Remote mode: a table the remote holds (as last fetched), or one before it.
        from orch_core.git import history as githistory
        from orch_core.git import remote as gitremote

        theirs = gitremote.tracked(ctx.repo, name).get("refs/orch/locks")
        if theirs is not None and githistory.is_ancestor(ctx.repo, tip, theirs):
            return
    raise TableUntrusted(tip, last or "")


def absent(ctx: Context) -> None:
    """No ref: fine in a clone that never had a lock table; an error when this clone's
    state last read one (local mode: a remote-mode clone follows its remote)."""
    _no_ref(ctx.repo)
    last = ctx.store.meta("locks_tip")
    if last and last != "none":
        from orch_core.remote import mode

        if mode.remote_name(ctx) is None:
            raise TableMissing(last)
