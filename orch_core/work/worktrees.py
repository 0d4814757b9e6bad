"""Session-root and child worktrees, and a clean-up that never loses work.

A session-root worktree is a `git worktree` on a new branch, made for one
session under the configured root (default: a folder next to the repository,
never inside its working tree). A child worktree branches off a session root
for a sub-task and is merged back into that root, never into main. Their
clean-up, which saves anything that exists nowhere else first, is in
work/rescue.py.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orch_core.errors import GitFailed, NotFound, Refused, UsageError
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context
from orch_core.work import sessions, stamp

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
    where = Path(resolve(where))
    for tree in {main.resolve(), ctx.repo.toplevel.resolve()}:
        if where == tree or tree in where.parents:
            raise UsageError(
                f"worktree root {where} is inside the working tree {tree}",
                hint="set [worktrees] root in .orch.toml to a folder outside the repository, "
                     "e.g. root = \"../myrepo.worktrees\"",
                code="bad_config")
    return where


def resolve(p: Path) -> str:
    # resolve() follows symlinks of the parts that exist; the rest stays as written.
    return str(p.resolve())


def records(ctx: Context) -> list[Record]:
    rows = ctx.store.conn.execute(
        "SELECT path, session, branch, parent, kind, created_at FROM worktrees "
        "ORDER BY created_at").fetchall()
    return [Record(*tuple(r)) for r in rows]


def record_for(ctx: Context, path: Path) -> Record | None:
    key = str(Path(resolve(path)))
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
        stamp.refresh(ctx, sess.id)
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
        if parent in (rec.session, rec.branch) or rec.path == resolve(Path(parent)):
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
        if rec.kind == CHILD and (child == rec.branch or rec.path == resolve(Path(child))):
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
    # git merges into whatever the worktree has checked out: merge only while that is
    # the recorded parent branch.
    current = gitworktree.checked_out(ppath)
    if current != f"refs/heads/{parent.branch}":
        shown = current.removeprefix("refs/heads/") if current else "a detached HEAD"
        raise Refused(
            f"parent worktree {ppath} has {shown} checked out, not its branch "
            f"{parent.branch}: the merge would land on the wrong branch",
            code="parent_switched",
            hint=f"switch it back (`git -C {shlex.quote(str(ppath))} switch "
                 f"{shlex.quote(parent.branch)}`), then retry")
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
        key = resolve(wt.path)
        rec = recs.pop(key, None)
        sid = rec.session if rec else binding(wt.path)
        sess = sessions.find(ctx, sid) if sid else None
        if rec:
            kind = rec.kind
        elif key == resolve(main_worktree(ctx)):
            kind = "main"
        elif str(key).startswith(str(resolve(ctx.repo.orch_dir / "landing")) + os.sep):
            kind = "lander"  # the merge queue's own worktree (orch/landing/work)
        else:
            kind = "other"
        rows.append({
            "path": str(wt.path), "branch": wt.branch, "head": wt.head,
            "kind": kind,
            "parent": rec.parent if rec else None, "session": sid,
            "session_state": session_state(sess, now), "locked": wt.locked,
            "missing": wt.prunable,
        })
    for rec in recs.values():
        rows.append({"path": rec.path, "branch": rec.branch, "head": None, "kind": rec.kind,
                     "parent": rec.parent, "session": rec.session,
                     "session_state": session_state(sessions.find(ctx, rec.session)
                                             if rec.session else None, now),
                     "locked": False, "missing": True})
    return {"root": str(root(ctx)), "worktrees": rows}


def binding(path: Path) -> str | None:
    try:
        return sessions.read_binding(gitrepo.git_dir_of(path))
    except GitFailed:
        return None


def session_state(sess: sessions.Session | None, now: float) -> str:
    if sess is None:
        return "none"
    if sess.status != "open":
        return "closed"
    return "alive" if sess.alive(now) else "dead"
