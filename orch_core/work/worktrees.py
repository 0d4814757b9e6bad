"""Session-root and child worktrees, and a clean-up that never loses work.

A session-root worktree is a `git worktree` on a new branch, made for one
session under the configured root (default: a folder next to the repository,
never inside its working tree). A child worktree branches off a session root
for a sub-task and is merged back into that root, never into main. `gc`
removes worktrees of closed or dead sessions only after anything that exists
nowhere else (uncommitted files, commits on no other branch) is saved under
``refs/orch/rescue/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orch_core import clock
from orch_core.errors import GitFailed, NotFound, Refused, UsageError
from orch_core.git import history as githistory
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context
from orch_core.work import sessions

RESCUE_PREFIX = "refs/orch/rescue/"
SESSION_ROOT = "session-root"
CHILD = "child"


@dataclass(frozen=True)
class Record:
    path: str
    session: str | None
    branch: str | None
    parent: str | None
    kind: str
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "session": self.session, "branch": self.branch,
                "parent": self.parent, "kind": self.kind, "created_at": self.created_at}


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    s = re.sub(r"\.{2,}", ".", s)
    return (s[:40] or "agent").removesuffix(".lock")


def main_worktree(ctx: Context) -> Path:
    common = ctx.repo.common_dir
    return common.parent if common.name == ".git" else ctx.repo.toplevel


def root(ctx: Context) -> Path:
    """Where new worktrees go; refused if it lies inside a working tree."""
    main = main_worktree(ctx)
    configured = str(ctx.config.get("worktrees", "root") or "")
    if configured:
        base = Path(configured).expanduser()
        where = base if base.is_absolute() else main / base
    else:
        where = main.parent / f"{main.name}.worktrees"
    where = Path(_resolve(where))
    for tree in {main.resolve(), ctx.repo.toplevel.resolve()}:
        if where == tree or tree in where.parents:
            raise UsageError(
                f"worktree root {where} is inside the working tree {tree}",
                hint="set [worktrees] root in .orch.toml to a folder outside the repository, "
                     "e.g. root = \"../myrepo.worktrees\"",
                code="bad_config")
    return where


def _resolve(p: Path) -> str:
    # resolve() follows symlinks of the parts that exist; the rest stays as written.
    return str(p.resolve())


def records(ctx: Context) -> list[Record]:
    rows = ctx.store.conn.execute(
        "SELECT path, session, branch, parent, kind, created_at FROM worktrees "
        "ORDER BY created_at").fetchall()
    return [Record(*tuple(r)) for r in rows]


def record_for(ctx: Context, path: Path) -> Record | None:
    key = str(Path(_resolve(path)))
    for rec in records(ctx):
        if rec.path == key:
            return rec
    return None


def _base_rev(ctx: Context, base: str | None) -> str:
    if base:
        if gitrepo.rev_parse(ctx.repo, base) is None:
            raise NotFound(f"unknown revision {base!r}", code="bad_param",
                           hint="give a branch name or commit, e.g. main")
        return base
    configured = ctx.config.base_branch
    if gitrepo.rev_parse(ctx.repo, configured) is not None:
        return configured
    return "HEAD"


def _new_place(ctx: Context, name: str) -> tuple[Path, str]:
    where = root(ctx)
    where.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(3)
    leaf = f"{slug(name)}-{token}"
    return where / leaf, leaf


def _insert(ctx: Context, actor: str, rec: Record) -> None:
    with ctx.store.write(actor, "worktree.create", rec.to_json()) as conn:
        conn.execute("INSERT OR REPLACE INTO worktrees(path, session, branch, parent, kind,"
                     " created_at) VALUES (?,?,?,?,?,?)",
                     (rec.path, rec.session, rec.branch, rec.parent, rec.kind, rec.created_at))


def enter_command(path: str, sid: str) -> str:
    return f"cd {shlex.quote(path)} && export ORCH_SESSION={sid}"


def create_session_root(ctx: Context, owner: str | None, intent: str, ttl: int | None,
                        base: str | None = None) -> dict[str, Any]:
    """Open a session with its own worktree on a new branch."""
    who = owner or gitrepo.user_name(ctx.repo)
    start = _base_rev(ctx, base)
    path, leaf = _new_place(ctx, who)
    branch = f"orch/{leaf}"
    gitworktree.worktree_add(ctx.repo, path, branch, start)
    try:
        sess, bound = sessions.open_session(ctx, who, intent, ttl, True, worktree=path,
                                            branch=branch)
    except BaseException:
        gitworktree.worktree_remove(ctx.repo, path)
        raise
    rec = Record(str(path), sess.id, branch, None, SESSION_ROOT, ctx.now())
    _insert(ctx, sess.id, rec)
    out = sess.to_json(ctx.now())
    out.update({"session_id": sess.id, "bound": bound, "path": str(path), "branch": branch,
                "base": start, "kind": SESSION_ROOT,
                "export": f"export ORCH_SESSION={sess.id}",
                "enter": enter_command(str(path), sess.id)})
    return out


def find_session_root(ctx: Context, parent: str) -> Record:
    """A session root named by session id, worktree path or branch."""
    for rec in records(ctx):
        if rec.kind != SESSION_ROOT:
            continue
        if parent in (rec.session, rec.branch) or rec.path == _resolve(Path(parent)):
            return rec
    raise NotFound(f"no session-root worktree matches {parent!r}", code="unknown_worktree",
                   hint="`orch-hooks worktree list` shows session roots (kind session-root)")


def create_child(ctx: Context, parent: str, name: str | None) -> dict[str, Any]:
    """A worktree for a sub-task, branched from a session root's branch."""
    rec = find_session_root(ctx, parent)
    assert rec.branch is not None
    if rec.session:
        owner = sessions.get(ctx, rec.session)
        if owner.status != "open":
            raise Refused(f"session {rec.session} of that root is closed",
                          code="session_closed", hint="open a new session-root worktree")
    path, leaf = _new_place(ctx, name or "sub")
    branch = f"{rec.branch}-{leaf}"
    gitworktree.worktree_add(ctx.repo, path, branch, rec.branch)
    if rec.session:
        sessions.write_binding(gitrepo.git_dir_of(path), rec.session)
    child = Record(str(path), rec.session, branch, rec.path, CHILD, ctx.now())
    _insert(ctx, rec.session or "orch-hooks", child)
    out = child.to_json()
    out.update({"parent_branch": rec.branch,
                "enter": enter_command(str(path), rec.session or "")})
    return out


def _find_child(ctx: Context, child: str) -> Record:
    for rec in records(ctx):
        if rec.kind == CHILD and (child == rec.branch or rec.path == _resolve(Path(child))):
            return rec
    raise NotFound(f"no child worktree matches {child!r}", code="unknown_worktree",
                   hint="give the child's path or branch (`orch-hooks worktree list`)")


def merge_to_parent(ctx: Context, child: str | None) -> dict[str, Any]:
    """Merge a child branch into its session-root branch (never into main)."""
    rec = _find_child(ctx, child or str(ctx.repo.toplevel))
    parent = next((r for r in records(ctx) if r.path == rec.parent), None)
    if parent is None or parent.branch is None or rec.branch is None:
        raise NotFound(f"the parent of {rec.path} is gone", code="unknown_worktree",
                       hint="merge the branch by hand or recreate the session root")
    if parent.branch in ctx.config.protected or parent.branch == ctx.config.base_branch:
        raise Refused(f"refusing to merge into protected branch {parent.branch}",
                      code="protected", hint="main is changed only through the merge queue")
    ppath = Path(parent.path)
    if not ppath.is_dir():
        raise NotFound(f"parent worktree {ppath} does not exist", code="unknown_worktree",
                       hint="recreate it with `git worktree add` or merge by hand")
    # Untracked files cannot be overwritten silently by a merge (git refuses), so
    # only changes to tracked files block it.
    tracked_dirty = gitworktree.worktree_dirty(ppath, untracked=False)
    if tracked_dirty:
        raise Refused(f"parent worktree {ppath} has uncommitted changes: "
                      f"{', '.join(tracked_dirty[:5])}", code="dirty_parent",
                      hint="commit or stash them in the parent worktree, then retry")
    merged, conflicts, head = gitworktree.merge_branch(
        ppath, rec.branch, f"Merge {rec.branch} into {parent.branch}")
    data = {"child": rec.path, "child_branch": rec.branch, "parent": parent.path,
            "parent_branch": parent.branch, "merged": merged, "conflicts": conflicts,
            "head": head or None}
    if merged:
        with ctx.store.write(rec.session or "orch-hooks", "worktree.merge_to_parent", data):
            pass
    else:
        data["hint"] = ("the merge was aborted and the parent left unchanged; merge "
                        f"{parent.branch} into the child, resolve, commit, and retry")
    return data


def listing(ctx: Context) -> dict[str, Any]:
    """Every git worktree, with the orch record and session liveness where known."""
    now = ctx.now()
    recs = {r.path: r for r in records(ctx)}
    rows: list[dict[str, Any]] = []
    for wt in gitworktree.worktree_list(ctx.repo):
        key = _resolve(wt.path)
        rec = recs.pop(key, None)
        sid = rec.session if rec else _binding(wt.path)
        sess = sessions.find(ctx, sid) if sid else None
        if rec:
            kind = rec.kind
        elif key == _resolve(main_worktree(ctx)):
            kind = "main"
        elif str(key).startswith(str(_resolve(ctx.repo.orch_dir / "landing")) + os.sep):
            kind = "lander"  # the merge queue's own worktree (orch/landing/work)
        else:
            kind = "other"
        rows.append({
            "path": str(wt.path), "branch": wt.branch, "head": wt.head,
            "kind": kind,
            "parent": rec.parent if rec else None, "session": sid,
            "session_state": _state(sess, now), "locked": wt.locked,
            "missing": wt.prunable,
        })
    for rec in recs.values():
        rows.append({"path": rec.path, "branch": rec.branch, "head": None, "kind": rec.kind,
                     "parent": rec.parent, "session": rec.session,
                     "session_state": _state(sessions.find(ctx, rec.session)
                                             if rec.session else None, now),
                     "locked": False, "missing": True})
    return {"root": str(root(ctx)), "worktrees": rows}


def _binding(path: Path) -> str | None:
    try:
        return sessions.read_binding(gitrepo.git_dir_of(path))
    except GitFailed:
        return None


def _state(sess: sessions.Session | None, now: float) -> str:
    if sess is None:
        return "none"
    if sess.status != "open":
        return "closed"
    return "alive" if sess.alive(now) else "dead"


def gc(ctx: Context, dry_run: bool = False, rescue: bool = True) -> dict[str, Any]:
    """Remove worktrees of closed or dead sessions without losing anything.

    For each such worktree: uncommitted changes (untracked files too) and
    commits that are on no other branch are first saved under
    ``refs/orch/rescue/<session>/<name>``; with ``rescue=False`` such a
    worktree is left alone instead. The main worktree, the caller's own
    worktree and `git worktree lock`ed ones are never touched.
    """
    now = ctx.now()
    here = _resolve(ctx.repo.toplevel)
    main = _resolve(main_worktree(ctx))
    recs = {r.path: r for r in records(ctx)}
    removed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for wt in gitworktree.worktree_list(ctx.repo):
        key = _resolve(wt.path)
        if key in (here, main) or wt.prunable:
            continue
        rec = recs.get(key)
        sid = rec.session if rec else _binding(wt.path)
        sess = sessions.find(ctx, sid) if sid else None
        state = _state(sess, now)
        if state not in ("closed", "dead"):
            continue
        item: dict[str, Any] = {"path": key, "branch": wt.branch, "session": sid,
                                "session_state": state}
        if wt.locked:
            kept.append({**item, "why": "locked with `git worktree lock`"})
            continue
        dirty, unique = _at_risk(ctx, wt)
        item.update({"uncommitted": len(dirty), "unique_commits": unique})
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
        if (dirty or unique) and not rescue:
            gitworktree.worktree_move(ctx.repo, parked, wt.path)
            kept.append({**item, "why": "has unsaved work and rescue is off"})
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
    name = slug(wt.branch.replace("/", "-") if wt.branch else origin.name)
    ref = f"{RESCUE_PREFIX}{slug(sid or 'no-session')}/{name}-{int(ctx.now())}"
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


def _drop_branch(ctx: Context, wt: gitworktree.WorktreeEntry, rec: Record | None) -> bool:
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
        restore = f"git worktree add -b restored-{leaf} ../restored-{leaf} {r['ref']}"
        out.append({
            "ref": r["ref"], "oid": r["oid"], "date": clock.iso(float(r["date"] or 0)),
            "subject": r["subject"], "path": meta.get("path"), "branch": meta.get("branch"),
            "session": meta.get("session"), "uncommitted": meta.get("uncommitted", 0),
            "unique_commits": meta.get("unique_commits"),
            "restore": restore + (" && git -C ../restored-" + leaf + " reset --mixed HEAD~1"
                                  if dirty else ""),
        })
    return {"rescued": out}
