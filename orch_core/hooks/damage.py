"""Doctor's checks for damaged state: each kind of damage is reported by name, and
``--fix`` repairs what can be repaired (docs/ARCHITECTURE.md: damaged state fails
closed). Called from hooks/doctor.py.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from orch_core.errors import NotFound
from orch_core.git import history as githistory
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.locks import export as lockexport
from orch_core.locks import storage, trust
from orch_core.locks.table import Lock, blob_name, serialise
from orch_core.state.context import Context
from orch_core.state.store import Damaged, db_path

Add = Callable[..., None]


def check(ctx: Context, fix: bool, add: Add) -> None:
    """Every damage check, in order; each one reports through ``add``. A damaged
    state database that is not repaired here is raised (nothing else can run)."""
    check_state_db(ctx, fix, add)
    check_lock_table(ctx, fix, add)
    check_lock_index(ctx, fix, add)
    check_protected_worktrees(ctx, fix, add)


# -- state.db ---------------------------------------------------------------------


def check_state_db(ctx: Context, fix: bool, add: Add) -> None:
    try:
        if ctx.store is not None:
            return
    except Damaged as e:
        if not fix:
            raise
        damaged = e
    from orch_core.work import journal

    try:
        out = journal.rebuild(ctx, force=True)
        how = f"rebuilt from {str(out['journal'])[:12]}; the damaged file is kept as " \
              f"{out['moved_aside']}"
    except NotFound:
        path = str(db_path(ctx.repo.orch_dir))
        aside = f"{path}.damaged-{int(time.time())}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.replace(path + suffix, aside + suffix)
        ctx.close()
        how = f"no work journal to rebuild from: started empty; the damaged file is kept " \
              f"as {aside}"
    add("state database", False, f"{damaged.message}; {how}", True)


# -- refs/orch/locks --------------------------------------------------------------


def check_lock_table(ctx: Context, fix: bool, add: Add) -> None:
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, storage.REF)
    if tip is None:
        try:
            storage.snapshot(ctx)
        except storage.TableUnreadable as e:
            fixed = False
            if fix:  # no ref, or a file holding no object name: rebuild from history
                (ctx.repo.common_dir / storage.REF).unlink(missing_ok=True)
                found = _events_tip(ctx)
                if found is not None:
                    gitrefs.create_ref(ctx.repo, storage.REF, gitrepo.Oid(found),
                                       "orch-hooks doctor: ref file held garbage")
                    check_lock_table(ctx, fix, add)
                fixed = True
            add("lock table readable", False, e.message, fixed)
        return
    try:
        last = trust.behind(ctx, tip)
        if last:
            raise storage.TableUntrusted(tip, last)
        storage.snapshot(ctx)
    except storage.TableUntrusted as e:
        _bad_table(ctx, fix, add, tip, "lock table written by orch-hooks", e.message)
        return
    except storage.TableUnreadable:
        pass  # read again below, to say why
    try:
        _locks, warnings = storage.read_table(ctx.repo, tip)
    except storage.TableUnreadable as e:
        _bad_table(ctx, fix, add, tip, "lock table readable", e.message)
        return
    add("lock table readable", True, f"{storage.REF} at {tip[:12]}")
    if warnings:
        add("lock table lines", False,
            f"{len(warnings)} malformed line(s) left out: " + "; ".join(warnings[:5])
            + ("; ..." if len(warnings) > 5 else "")
            + ("" if fix else "; --fix rewrites the table without them"),
            _rewrite_table(ctx) if fix else False)


def _bad_table(ctx: Context, fix: bool, add: Add, tip: str, check: str, detail: str) -> None:
    """Report a table that cannot be believed; with ``fix``, rebuild it from history."""
    if fix:
        detail += f"; rebuilt from {rebuild_lock_table(ctx, tip)}"
    add(check, False, detail, fix)


def _rewrite_table(ctx: Context) -> bool:
    """Write the table as read (malformed lines dropped) as a new commit."""
    def attempt(tip: gitrepo.Oid | None) -> gitrefs.Proposal[bool]:
        if tip is None:
            return gitrefs.Proposal(False)
        locks, _warnings = storage.read_table(ctx.repo, tip)
        return _proposal(ctx, locks, tip, "rewrite lock table without malformed lines")

    return gitrefs.update(ctx.repo, ctx.odb, storage.REF, attempt, writer="refs")


def _proposal(ctx: Context, locks: list[Lock], parent: str | None,
              message: str) -> gitrefs.Proposal[bool]:
    by_session: dict[str, list[Lock]] = {}
    for lk in locks:
        by_session.setdefault(lk.session, []).append(lk)
    files = {blob_name(sid): serialise(held) for sid, held in by_session.items()}
    commit = ctx.odb.write_snapshot(files, gitrepo.Oid(parent) if parent else None, message,
                                    when=ctx.now())

    def done(new: gitrepo.Oid) -> bool:
        with ctx.store.write("doctor", "lock.rebuild", {"tip": new}):
            pass
        storage.refresh_cache(ctx, new, locks)
        return True

    return gitrefs.Proposal(True, commit, message, done)


def _candidates(ctx: Context, bad: str) -> list[str]:
    """Earlier tips of the ref, newest first: its reflog, then the tips the events
    of state.db recorded for each lock write."""
    out: list[str] = [e.new for e in reversed(githistory.reflog(ctx.repo, storage.REF))]
    try:
        rows = ctx.store.conn.execute(
            "SELECT data FROM events WHERE kind LIKE 'lock.%' AND data LIKE '%\"tip\"%' "
            "ORDER BY db_version DESC"
        ).fetchall()
    except Exception:  # a damaged database: the reflog is all there is
        rows = []
    for (data,) in rows:
        try:
            tip = json.loads(data).get("tip")
        except ValueError:
            continue
        if isinstance(tip, str) and len(tip) == 40:
            out.append(tip)
    seen: set[str] = {bad}
    return [c for c in out if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]


def _events_tip(ctx: Context) -> str | None:
    """The newest recorded tip whose table reads."""
    for cand in _candidates(ctx, ""):
        if storage.readable(ctx.repo, cand):
            return cand
    return None


def _walk(ctx: Context, start: str, depth: int = 50) -> list[str]:
    """The first parents of ``start`` as far as they can be read (at most ``depth``)."""
    out: list[str] = []
    commit: str = start
    while len(out) < depth:
        parents = githistory.parents_of(ctx.repo, commit)
        if not parents:
            break
        commit = parents[0]
        out.append(commit)
    return out


def rebuild_lock_table(ctx: Context, bad: str) -> str:
    """Point the ref at a readable table: the SQLite cache when it was built from
    ``bad`` itself, else the newest readable commit of the ref's history (reflog,
    recorded tips, first parents). Returns where the table came from."""
    source = "nothing readable (an empty table)"
    locks: list[Lock] = []
    parent: str | None = None
    if (ctx.store.meta("locks_tip") or "") == bad:
        rows = ctx.store.conn.execute("SELECT * FROM locks").fetchall()
        locks = storage._rows_to_locks(rows)
        source = f"the lock cache of state.db, built from {bad[:12]}"
    else:
        # The table this clone last read first: under a hand-made commit or a ref
        # moved back, it is the newest table orch wrote.
        last = ctx.store.meta("locks_tip") or ""
        for cand in [*([last] if len(last) == 40 else []), *_walk(ctx, bad),
                     *_candidates(ctx, bad)]:
            if (cand != bad and storage.readable(ctx.repo, cand)
                    and storage.written_by_orch(ctx, cand)):
                locks = storage.read_table(ctx.repo, cand)[0]
                parent = cand
                source = f"commit {cand[:12]}"
                break
    message = f"rebuild lock table from {source} ({bad[:12]} was unreadable or untrusted)"
    if parent is None and locks and storage.readable(ctx.repo, bad):
        parent = bad

    def attempt(tip: gitrepo.Oid | None) -> gitrefs.Proposal[bool]:
        if tip != bad:
            return gitrefs.Proposal(False)  # someone else repaired it meanwhile
        return _proposal(ctx, locks, parent, message)

    gitrefs.update(ctx.repo, ctx.odb, storage.REF, attempt, writer="refs")
    return source


# -- locks.idx ------------------------------------------------------------------------


def check_lock_index(ctx: Context, fix: bool, add: Add) -> None:
    """An empty, garbled or truncated locks.idx (the shell never trusts one, but it is
    reported and rewritten)."""
    path = ctx.repo.orch_dir / lockexport.EXPORT
    if not path.exists():
        return
    try:
        lines = path.read_bytes().decode().splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    head = lines[0].split("\t") if lines else []
    tail = lines[-1].split("\t") if lines else []
    whole = (len(head) == 6 and head[0] == "tip" and head[4] == lockexport.VERSION
             and len(tail) == 3 and tail[0] == "end" and tail[1] == head[1]
             and tail[2] == head[5] and all(len(ln.split("\t")) == 5 for ln in lines[1:-1]))
    if whole:
        return
    fixed = False
    if fix:
        try:
            snap = storage.snapshot(ctx)
            lockexport.write_export(ctx, snap.tip, snap.locks)
            fixed = True
        except storage.TableUnreadable:
            path.unlink(missing_ok=True)  # never leave an index the shell could trust
            fixed = True
    add("hook fast-path index garbled", False, f"{path} is empty or garbled", fixed)


def index_tip(path: Path) -> str | None:
    """The tip the header of locks.idx names (None: empty, garbled, unreadable or in
    another format than this version writes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline(200).decode(errors="replace").split("\t")
    except OSError:
        return None
    current = len(head) == 6 and head[0] == "tip" and head[4] == lockexport.VERSION
    return head[1] if current else None


def snapshot(ctx: Context) -> storage.Snapshot:
    """The table for doctor's later checks; an unreadable one (reported above) reads
    as an empty table here only, so the other checks still run."""
    try:
        return storage.snapshot(ctx)
    except storage.TableUnreadable:
        return storage.Snapshot(None, [], [])


# -- worktrees ------------------------------------------------------------------------


def check_protected_worktrees(ctx: Context, fix: bool, add: Add) -> None:
    """A protected branch checked out in a worktree whose folder is gone: git refuses
    to check it out anywhere else and the lander cannot fast-forward it there."""
    from orch_core.errors import OrchError
    from orch_core.git import worktree as gitworktree

    try:
        protected = set(ctx.config.protected)
    except OrchError:
        protected = {"main"}
    gone = [wt for wt in gitworktree.worktree_list(ctx.repo)
            if wt.prunable and wt.branch in protected]
    for wt in gone:
        add(f"worktree of {wt.branch}", False,
            f"{wt.branch} is checked out in {wt.path}, which no longer exists"
            + ("" if fix else "; --fix prunes it (`git worktree prune`)"), fix)
    if gone and fix:
        gitworktree.worktree_prune(ctx.repo)
