"""Clean-up that never loses work: `gc` of worktrees of closed or dead sessions.

Before a worktree is removed, anything that exists nowhere else (uncommitted
files, commits on no other branch) is saved under ``refs/orch/rescue/``;
`rescued` lists what was saved and how to restore it.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from orch_core import clock
from orch_core.errors import GitFailed, Refused
from orch_core.git import history as githistory
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context
from orch_core.work import sessions, worktrees

RESCUE_PREFIX = worktrees.RESCUE_PREFIX


def gc(ctx: Context, dry_run: bool = False, rescue: bool = True) -> dict[str, Any]:
    """Remove worktrees of closed or dead sessions without losing anything.

    For each such worktree: uncommitted changes (untracked files too) and
    commits that are on no other branch are first saved under
    ``refs/orch/rescue/<session>/<name>``; with ``rescue=False`` such a
    worktree is left alone instead. The main worktree, the caller's own
    worktree and `git worktree lock`ed ones are never touched.
    """
    now = ctx.now()
    here = worktrees.resolve(ctx.repo.toplevel)
    main = worktrees.resolve(worktrees.main_worktree(ctx))
    recs = {r.path: r for r in worktrees.records(ctx)}
    removed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for wt in gitworktree.worktree_list(ctx.repo):
        key = worktrees.resolve(wt.path)
        if key in (here, main) or wt.prunable:
            continue
        rec = recs.get(key)
        sid = rec.session if rec else worktrees.binding(wt.path)
        sess = sessions.find(ctx, sid) if sid else None
        state = worktrees.session_state(sess, now)
        if state not in ("closed", "dead"):
            continue
        # The record may name a session that handed the worktree on (`resume attach`
        # binds the worktree to the session that took over): any live claimant keeps it.
        if any(worktrees.session_state(other, now) == "alive"
               for other in _claimants(ctx, wt.path, key, sid)):
            continue
        item: dict[str, Any] = {"path": key, "branch": wt.branch, "session": sid,
                                "session_state": state}
        if wt.locked:
            kept.append({**item, "why": "locked with `git worktree lock`"})
            continue
        dirty, unique = _at_risk(ctx, wt)
        item.update({"uncommitted": len(dirty), "unique_commits": unique})
        ignored = _ignored(wt.path)
        if ignored:
            # A rescue saves what git tracks or could track; ignored files (a local
            # .env, data, build output) would be deleted unsaved: left alone, reported.
            shown = ", ".join(ignored[:3]) + (", ..." if len(ignored) > 3 else "")
            kept.append({**item, "ignored": len(ignored),
                         "why": f"holds {len(ignored)} ignored file(s) a rescue cannot "
                                f"save ({shown}); move them away, then run gc again"})
            continue
        if (dirty or unique) and not rescue:
            kept.append({**item, "why": "has unsaved work and rescue is off"})
            continue
        if dry_run:
            removed.append({**item, "would_rescue": bool(dirty or unique), "dry_run": True})
            continue
        # Park it first: a straggling writer of the dead session now fails on a missing
        # path instead of writing into a folder that is about to be deleted; then look
        # again, since the content may have changed since the first look.
        parked = wt.path.with_name(f".{wt.path.name}.orch-gc-{os.getpid()}")
        gitworktree.worktree_move(ctx.repo, wt.path, parked)
        wt_now = replace(wt, path=parked, head=gitworktree.worktree_head(parked))
        dirty, unique = _at_risk(ctx, wt_now)
        item.update({"uncommitted": len(dirty), "unique_commits": unique})
        late = _ignored(parked)
        if ((dirty or unique) and not rescue) or late:
            gitworktree.worktree_move(ctx.repo, parked, wt.path)
            kept.append({**item, "why": "has unsaved work and rescue is off" if not late
                         else f"holds {len(late)} ignored file(s) a rescue cannot save"})
            continue
        if dirty or unique:
            item["rescue_ref"] = _rescue(ctx, wt_now, wt.path, sid, dirty, unique)
        gitworktree.worktree_remove(ctx.repo, parked)
        item["branch_deleted"] = _drop_branch(ctx, wt_now, rec)
        with ctx.store.write(sid or "orch-hooks", "worktree.gc", item) as conn:
            conn.execute("DELETE FROM worktrees WHERE path=?", (key,))
        removed.append(item)
    if not dry_run:
        gitworktree.worktree_prune(ctx.repo)
    return {"removed": removed, "kept": kept, "dry_run": dry_run}


def _claimants(ctx: Context, path: Path, key: str, sid: str | None) -> list[sessions.Session]:
    """Every session that may be using the worktree: its record's, its binding's and
    any whose session record names it."""
    ids = {sid, worktrees.binding(path)}
    rows = ctx.store.conn.execute("SELECT id FROM sessions WHERE worktree IN (?, ?)",
                                  (key, str(path))).fetchall()
    ids |= {str(r[0]) for r in rows}
    found = [sessions.find(ctx, i) for i in ids if i]
    return [s for s in found if s is not None]


def _ignored(path: Path) -> list[str]:
    """Ignored files of the worktree (no rescue commit holds them)."""
    found = gitworktree.worktree_ignored(path)
    return ["(git status failed)"] if found is None else found


def _at_risk(ctx: Context, wt: gitworktree.WorktreeEntry) -> tuple[list[str], int]:
    """Uncommitted paths and the number of commits that exist on no other ref."""
    dirty = gitworktree.worktree_dirty(wt.path)
    unique = githistory.unique_commits(ctx.repo, wt.head, wt.branch) if wt.head else 0
    return dirty, unique


def _rescue(ctx: Context, wt: gitworktree.WorktreeEntry, origin: Path, sid: str | None,
            dirty: list[str], unique: int) -> str:
    meta = {"path": str(origin), "branch": wt.branch, "session": sid, "head": wt.head,
            "uncommitted": len(dirty), "unique_commits": unique, "ts": ctx.now()}
    if dirty:
        msg = (f"orch rescue: uncommitted work of {wt.branch or 'detached HEAD'}\n\n"
               f"orch-rescue: {json.dumps(meta, sort_keys=True)}\n")
        oid = gitworktree.snapshot_worktree(wt.path, gitrepo.git_dir_of(wt.path), msg)
    else:
        assert wt.head is not None
        oid = wt.head
    name = worktrees.slug(wt.branch.replace("/", "-") if wt.branch else origin.name)
    ref = f"{RESCUE_PREFIX}{worktrees.slug(sid or 'no-session')}/{name}-{int(ctx.now())}"
    gitrefs.create_ref(ctx.repo, ref, oid, f"orch-hooks: rescue {origin}")
    # Verify before anything is removed: the saved tip must hold the worktree's
    # content (its tree) and leave no commit unique to the doomed branch.
    if gitrepo.rev_parse(ctx.repo, ref) != oid:
        raise Refused(f"rescue ref {ref} did not take", code="rescue_failed",
                      hint="nothing was removed; run `orch-hooks doctor`")
    with ctx.store.write(sid or "orch-hooks", "worktree.rescue",
                         {"ref": ref, "oid": oid, **meta}):
        pass
    return ref


def _drop_branch(ctx: Context, wt: gitworktree.WorktreeEntry, rec: worktrees.Record | None) -> bool:
    """Delete the branch only if orch made it and every commit on it is on another
    branch, tag or remote (a rescue ref is not enough: the branch may be queued)."""
    if rec is None or wt.branch is None or wt.head is None:
        return False
    if wt.branch != rec.branch or wt.branch in ctx.config.protected:
        return False
    if githistory.unique_commits(ctx.repo, wt.head, wt.branch, count_rescue=False) != 0:
        return False
    try:
        gitrefs.delete_ref(ctx.repo, f"refs/heads/{wt.branch}", wt.head)
    except GitFailed:
        return False
    return True


def rescued(ctx: Context) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for r in gitrefs.refs_with_messages(ctx.repo, RESCUE_PREFIX.rstrip("/")):
        meta: dict[str, Any] = {}
        for line in r["body"].splitlines():
            if line.startswith("orch-rescue: "):
                try:
                    meta = json.loads(line.removeprefix("orch-rescue: "))
                except ValueError:
                    meta = {}
        dirty = bool(meta.get("uncommitted"))
        leaf = r["ref"].rsplit("/", 1)[-1]
        restore = shlex.join(["git", "worktree", "add", "-b", f"restored-{leaf}",
                              f"../restored-{leaf}", r["ref"]])
        out.append({
            "ref": r["ref"], "oid": r["oid"], "date": clock.iso(float(r["date"] or 0)),
            "subject": r["subject"], "path": meta.get("path"), "branch": meta.get("branch"),
            "session": meta.get("session"), "uncommitted": meta.get("uncommitted", 0),
            "unique_commits": meta.get("unique_commits"),
            "restore": restore + (" && git -C ../restored-" + leaf + " reset --mixed HEAD~1"
                                  if dirty else ""),
        })
    return {"rescued": out}
