"""Carry on after a lost context: what a session was doing and what comes next.

``next`` answers in one call: the case, its open and done steps, the next
action, the last checkpoint commit, the locks held, the worktree and branch,
how far the base is behind main and whether main changed a held path since.
``attach`` hands an interrupted session's work and locks to the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orch_core import clock
from orch_core.errors import Refused
from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from orch_core.locks import service as locks
from orch_core.locks.table import Lock
from orch_core.state.context import Context
from orch_core.work import cases, checkpoints, sessions, stamp, tasks
from orch_core.work.sessions import Session

# A session's failed landings (merge/queue.py `failures_for_session`).
Failures = Callable[[Context, str], list[dict[str, Any]]]


def _base_info(ctx: Context, sess: Session, held: list[Lock]) -> dict[str, Any]:
    """How far the session's branch base is behind main, and held paths main changed."""
    main = ctx.config.base_branch
    out: dict[str, Any] = {"main": main, "base": None, "behind": None,
                           "changed_held_paths": [], "stale": False}
    if not sess.branch or sess.branch == main:
        return out
    oid = githistory.merge_base(ctx.repo, f"refs/heads/{sess.branch}", f"refs/heads/{main}")
    if oid is None:
        return out
    out["base"] = oid
    out["behind"] = githistory.count_commits(ctx.repo, f"{oid}..refs/heads/{main}")
    if out["behind"] and held:
        changed = githistory.changed_between(ctx.repo, oid, f"refs/heads/{main}") or []
        hits = sorted({p for p in changed for lk in held
                       if p == lk.path or (lk.path.endswith("/") and p.startswith(lk.path))})
        out["changed_held_paths"] = hits
        out["stale"] = bool(hits)
    return out


def _lock_json(lk: Lock) -> dict[str, Any]:
    return {"id": lk.id, "path": lk.path, "mode": lk.mode, "task": lk.task,
            "expires": clock.iso(lk.expires_at)}


def _checkpoint_json(cp: dict[str, Any] | None) -> dict[str, Any] | None:
    if cp is None:
        return None
    note = cp["note"]
    # A note is free text anyone can edit (`git notes add -f`): keep only well-typed fields.
    steps = note.get("steps")
    if not (isinstance(steps, dict)
            and all(isinstance(steps.get(k), int) for k in ("done", "total"))):
        steps = None
    nxt = note.get("next")
    version = note.get("db_version")
    return {"commit": cp["commit"], "case": cp["case"], "steps": steps,
            "next": nxt if isinstance(nxt, str) else None,
            "db_version": version if isinstance(version, int) else None}


def next_for(ctx: Context, sess: Session, failures: Failures | None = None) -> dict[str, Any]:
    conn = ctx.store.conn
    warnings = checkpoints.ensure_index(ctx)
    held = locks.held_by(ctx, sess.id)
    case = cases.current_case(ctx, sess)
    out: dict[str, Any] = {
        "session": sess.id, "owner": sess.owner, "worktree": sess.worktree,
        "branch": sess.branch, "alive": sess.alive(ctx.now()),
        "locks": [_lock_json(lk) for lk in sorted(held, key=lambda lk: lk.path)],
        "last_checkpoint": _checkpoint_json(checkpoints.last_for_session(
            ctx, sess.id, case.id if case else None)),
        "base": _base_info(ctx, sess, held),
        "warnings": warnings,
        "db_version": ctx.store.db_version(),
    }
    if case is not None:
        out["case"] = cases.state(ctx, case.id)
        out["next_action"] = cases.next_action(conn, case)
        out["ready"] = None
        out["what"] = "continue"
    else:
        out["case"] = None
        out["taken"] = _taken(ctx, sess)
        last = conn.execute("SELECT * FROM tasks WHERE holder=? AND level='case' "
                            "ORDER BY updated_at DESC, seq DESC LIMIT 1",
                            (sess.id,)).fetchone()
        out["last_case"] = None
        if last is not None:
            t = tasks.Task.from_row(last)
            out["last_case"] = {"id": t.id, "title": t.title, "status": t.status,
                                "next_action": t.next_action, "reason": t.reason}
        nxt = tasks.ready(ctx, "case", limit=1)
        out["ready"] = cases.state(ctx, nxt[0].id) if nxt else None
        if nxt:
            out["what"] = "begin"
            out["next_action"] = f"`orch-hooks case begin {nxt[0].id}`: {nxt[0].title}"
        else:
            out["what"] = "idle"
            out["next_action"] = "no ready case: create work or check `orch-hooks task list`"
    if out.get("taken"):
        t = out["taken"]
        out["what"] = "taken"
        out["next_action"] = (f"case {t['case']} was taken by session {t['by']} ({t['owner']})"
                              f"{' with --force' if t['forced'] else ''}: stop working on it; "
                              + (f"`orch-hooks case begin {out['ready']['id']}` is ready"
                                 if out["ready"] else "no ready case"))
    # The fix loop: a landing of this session's branch failed, conflicted or was rejected
    # (merge/queue.py `failures_for_session`, passed in by the caller: the merge layer
    # builds on this one).
    out["merge_failures"] = failures(ctx, sess.id) if failures else []
    if out["merge_failures"] and out["what"] != "continue":
        out["what"] = "fix"
        out["next_action"] = out["merge_failures"][0]["next_action"]
    return out


def _taken(ctx: Context, sess: Session) -> dict[str, Any] | None:
    """The case another session took from ``sess`` (``case begin``: the event names
    ``took_from``) after the last case event of ``sess`` itself, while still not back."""
    conn = ctx.store.conn
    mine = conn.execute("SELECT MAX(db_version) FROM events WHERE actor=? AND (kind LIKE "
                        "'case.%' OR kind LIKE 'step.%' OR kind='resume.attach')",
                        (sess.id,)).fetchone()[0] or 0
    row = conn.execute("SELECT actor, data FROM events WHERE kind='case.begin' AND "
                       "json_extract(data, '$.took_from')=? AND db_version>? ORDER BY "
                       "db_version DESC LIMIT 1", (sess.id, mine)).fetchone()
    if row is None:
        return None
    data = json.loads(row[1])
    case = tasks.get(conn, str(data["case"]))
    if case.holder == sess.id:
        return None
    by = sessions.find(ctx, str(row[0]))
    return {"case": case.id, "by": row[0], "owner": by.owner if by else None,
            "holder": case.holder, "forced": bool(data.get("forced"))}


def _has_work(ctx: Context, sess: Session) -> dict[str, Any] | None:
    case = cases.current_case(ctx, sess) or _left_case(ctx, sess)
    held = locks.held_by(ctx, sess.id)
    if case is None and not held:
        return None
    return {
        "session": sess.id, "owner": sess.owner, "worktree": sess.worktree,
        "branch": sess.branch,
        "heartbeat_expired": clock.iso(sess.heartbeat_at + sess.ttl),
        "case": None if case is None else {
            "id": case.id, "title": case.title,
            "steps": {k: v for k, v in cases.step_summary(ctx.store.conn, case.id).items()
                      if k in ("done", "total")}},
        "locks": [lk.path for lk in sorted(held, key=lambda lk: lk.path)],
        "attach": f"orch-hooks resume attach {sess.id}",
    }


def _left_case(ctx: Context, sess: Session) -> tasks.Task | None:
    """The case a dead session left (queued again, holder kept: takeover.settle)."""
    row = ctx.store.conn.execute(
        "SELECT * FROM tasks WHERE holder=? AND level='case' AND status='queued' "
        "ORDER BY updated_at DESC LIMIT 1", (sess.id,)).fetchone()
    return None if row is None else tasks.Task.from_row(row)


def candidates(ctx: Context) -> dict[str, Any]:
    """Interrupted sessions (open, heartbeat expired) that left work in progress."""
    now = ctx.now()
    out = []
    for sess in sessions.all_sessions(ctx):
        if sess.status != "open" or sess.alive(now):
            continue
        item = _has_work(ctx, sess)
        if item is not None:
            out.append(item)
    return {"candidates": out}


def attach(ctx: Context, me: Session, old_id: str, force: bool = False,
           failures: Failures | None = None) -> dict[str, Any]:
    """Take over an interrupted session's case(s) and locks (CAS on the lock table)."""
    old = sessions.get(ctx, old_id)
    if old.id == me.id:
        raise Refused("a session cannot attach to itself", code="attach_self",
                      hint="name the interrupted session (`orch-hooks resume candidates`)")
    if old.alive(ctx.now()) and not force:
        raise Refused(
            f"session {old.id} ({old.owner}) is still alive until "
            f"{clock.iso(old.heartbeat_at + old.ttl)}",
            code="session_alive",
            hint="ask it to close, wait for its heartbeat to expire, or pass --force")
    moved = locks.transfer(ctx, old.id, me)
    with ctx.store.write(me.id, "resume.attach", {"from": old.id, "to": me.id,
                                                 "forced": bool(force)}) as conn:
        # Running cases, and those a dead session left queued (takeover.settle).
        case_ids = [r[0] for r in conn.execute(
            "SELECT id FROM tasks WHERE holder=? AND (status='running' OR (status='queued'"
            " AND level='case'))", (old.id,))]
        conn.execute("UPDATE tasks SET holder=?, status='running', updated_at=? WHERE "
                     "holder=? AND (status='running' OR (status='queued' AND level='case'))",
                     (me.id, ctx.now(), old.id))
        for cid in case_ids:
            tasks.rollup(conn, cid, ctx.now())
        # Never a case another session took since: NEXT must be something that works.
        current = old.current_case if old.current_case in case_ids else (
            case_ids[0] if case_ids else None)
        conn.execute("UPDATE sessions SET current_case=?, worktree=COALESCE(?, worktree),"
                     " branch=COALESCE(?, branch) WHERE id=?",
                     (current, old.worktree, old.branch, me.id))
        conn.execute("UPDATE sessions SET status='closed', current_case=NULL WHERE id=?",
                     (old.id,))
    rebound = None
    if old.worktree:
        try:
            git_dir = gitrepo.discover(old.worktree).git_dir
        except Exception:  # the worktree may be gone; the work is in the branch
            git_dir = None
        if git_dir is not None and sessions.read_binding(git_dir) in (old.id, None):
            sessions.write_binding(git_dir, me.id)
            rebound = old.worktree
    stamp.refresh(ctx, old.id)
    stamp.refresh(ctx, me.id)
    out = next_for(ctx, sessions.get(ctx, me.id), failures)
    out["attached"] = {"from": old.id, "cases": case_ids, "locks": moved.get("ids", []),
                       "worktree": rebound,
                       "enter": f"cd {old.worktree}" if old.worktree else None}
    return out


def current_ref(ctx: Context, sess: Session) -> dict[str, Any]:
    """A short block to paste into an agent's context: what, where, next."""
    conn = ctx.store.conn
    version = ctx.store.db_version()
    case = cases.current_case(ctx, sess)
    held = locks.held_by(ctx, sess.id)
    changed = version > sess.acked_version
    lines = [f"orch-hooks: session {sess.id} ({sess.owner}) in {sess.worktree or '?'}"
             f" on branch {sess.branch or '?'}"]
    out: dict[str, Any] = {"session": sess.id, "db_version": version,
                           "acked_version": sess.acked_version, "changed": changed,
                           "case": None, "next": None}
    if case is not None:
        summary = cases.step_summary(conn, case.id)
        path = " > ".join(f"{t.id} {t.title}" for t in tasks.path_of(conn, case)[:-1])
        nxt = cases.next_action(conn, case)
        lines.append(f"  case {case.id} {case.title!r} ({path})")
        lines.append(f"  steps {summary['done']}/{summary['total']} done")
        lines.append(f"  next: {nxt}")
        out.update(case=case.id, next=nxt)
    else:
        lines.append("  no current case: `orch-hooks resume next` suggests one")
    if held:
        lines.append("  locks: " + ", ".join(sorted(lk.path for lk in held)))
    if changed:
        kinds = sorted({str(r[0]) for r in conn.execute(
            "SELECT kind FROM events WHERE db_version > ? ORDER BY db_version DESC LIMIT 200",
            (sess.acked_version,))})
        lines.append(f"  changed since your last ack (v{sess.acked_version} -> v{version}): "
                     f"{', '.join(kinds[:8])}; `orch-hooks work ack` when read")
    else:
        lines.append(f"  unchanged since your last ack (v{version})")
    out["text"] = "\n".join(lines)
    return out


def ack(ctx: Context, sess: Session) -> dict[str, Any]:
    """Record the db_version the session has seen (this write included)."""
    with ctx.store.write(sess.id, "work.ack", {"session": sess.id}) as conn:
        seen = int(conn.execute("SELECT value FROM meta WHERE key='db_version'")
                   .fetchone()[0]) + 1
        conn.execute("UPDATE sessions SET acked_version=? WHERE id=?", (seen, sess.id))
    stamp.refresh(ctx, sess.id)  # post-checkout stops showing the resume hint
    return {"session": sess.id, "acked_version": seen}
