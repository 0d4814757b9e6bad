"""The Case lifecycle, the checkpoint anchor: begin, check steps, complete or fail.

A session takes a case (refused while another session that is not dead holds
it, unless forced: journaled, and that session loses it), works
through its steps and completes it with the next action. Every change is one
event and refreshes the session's checkpoint payload, so the next commit's
note says where the work stands.
"""

from __future__ import annotations

import json
from typing import Any

from orch_core import clock
from orch_core.errors import Refused, UsageError
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import sessions, stamp, tasks
from orch_core.work.casestate import current_case as current_case
from orch_core.work.casestate import next_action as next_action
from orch_core.work.casestate import step_summary as step_summary
from orch_core.work.sessions import Session
from orch_core.work.tasks import Task, get, path_of, rollup, update


def _holder_alive(ctx: Context, holder: str | None) -> bool:
    """Does ``holder`` still own its case? Alive or interrupted: until it is dead
    (docs/ARCHITECTURE.md, "Case rules")."""
    if not holder:
        return False
    other = sessions.find(ctx, holder)
    return other is not None and other.holds(ctx.now())


def _held_by(ctx: Context, case: Task) -> str:
    other = sessions.get(ctx, str(case.holder))
    if other.alive(ctx.now()):
        return f"live session {other.id} ({other.owner})"
    return (f"interrupted session {other.id} ({other.owner}; heartbeat lapsed at "
            f"{clock.iso(other.heartbeat_at + other.ttl)}, dead at {clock.iso(other.deadline)})")


def _refuse_held(ctx: Context, case: Task, me: str, force: bool = False) -> str | None:
    """Refuse a case another session still owns; with ``force`` (case begin), say
    whose it was instead, for the journal."""
    if not (case.holder and case.holder != me and _holder_alive(ctx, case.holder)):
        return None
    if force:
        return case.holder
    raise Refused(
        f"case {case.id} is held by {_held_by(ctx, case)}", code="case_held",
        hint="pick another case (`orch-hooks task ready`); take its work with `orch-hooks "
             f"resume attach {case.holder}` once its heartbeat lapsed, or pass --force "
             "(journaled; that session loses the case)")


def unfinished_blockers(conn: Any, case: Task) -> list[Task]:
    """Blockers of the case or of a task above it that are not finished yet."""
    ids = [t.id for t in path_of(conn, case)]
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT DISTINCT t.* FROM deps d JOIN tasks t ON t.id = d.blocker WHERE d.blocked "
        f"IN ({marks}) AND t.status NOT IN ('succeeded', 'canceled') ORDER BY t.seq", ids)
    return [Task.from_row(r) for r in rows]


def _case_rules(ctx: Context, sess: Session, case: Task, contract: str | None,
                force: bool, require_contract: bool) -> list[str]:
    """The rules of taking a case (docs/ARCHITECTURE.md, "Case rules"); what --force
    overrode, for the journal."""
    conn = ctx.store.conn
    forced: list[str] = []
    if require_contract and not (contract or case.contract or "").strip():
        raise Refused(f"case {case.id} needs an input contract: [cases] require_contract "
                      "is set in the policy", code="contract_required",
                      hint=f'`orch-hooks case begin {case.id} --contract "what it may assume"`')
    blockers = unfinished_blockers(conn, case)
    if blockers:
        names = ", ".join(f"{b.id} {b.title!r} ({b.status})" for b in blockers[:5])
        if not force:
            raise Refused(f"case {case.id} waits for unfinished blocker(s): {names}",
                          code="blocked_by", hint="finish them first, pick a ready case "
                          "(`orch-hooks task ready`), or pass --force (journaled)",
                          details={"blockers": [b.id for b in blockers]})
        forced.append(f"blockers {', '.join(b.id for b in blockers)}")
    other = conn.execute("SELECT id, title FROM tasks WHERE holder=? AND level='case' AND "
                         "status='running' AND id<>? ORDER BY updated_at DESC LIMIT 1",
                         (sess.id, case.id)).fetchone()
    if other is not None:
        if not force:
            raise Refused(f"session {sess.id} already runs case {other['id']} "
                          f"{other['title']!r}", code="case_running",
                          hint=f"complete or fail {other['id']} first, or pass --force "
                               "(journaled)")
        forced.append(f"also running {other['id']}")
    return forced


def begin(ctx: Context, sess: Session, case_id: str, contract: str | None = None,
          fixtures: list[str] | None = None, lock_paths: list[str] | None = None,
          force: bool = False, require_contract: bool = False) -> dict[str, Any]:
    conn = ctx.store.conn
    case = get(conn, case_id, "case")
    taken = _refuse_held(ctx, case, sess.id, force)
    if case.status in ("succeeded", "canceled"):
        raise Refused(f"case {case.id} is already {case.status}", code="case_closed",
                      hint=f"set it back with `orch-hooks task set-status {case.id} queued`")
    forced = _case_rules(ctx, sess, case, contract, force, require_contract)
    took: dict[str, Any] = {}
    if lock_paths:
        # All locks or none, before the case is taken; released again if the take fails.
        took = locks.acquire(ctx, sess, lock_paths, task=case.id)
    try:
        event: dict[str, Any] = {"case": case.id, "session": sess.id,
                                 "locks": lock_paths or []}
        if taken:
            event["took_from"] = taken
            forced.append(f"held by {taken}")
        if forced:
            event["forced"] = forced
        with ctx.store.write(sess.id, "case.begin", event) as wconn:
            fresh = get(wconn, case_id, "case")
            if _refuse_held(ctx, fresh, sess.id, force) != taken:
                raise Refused(f"case {case.id} changed hands meanwhile", code="case_held",
                              hint="try again")
            now = ctx.now()
            fields: dict[str, Any] = {"status": "running", "holder": sess.id,
                                      "reason": None}
            if contract is not None:
                fields["contract"] = contract
            if fixtures:
                fields["fixtures"] = json.dumps(list(fixtures))
            update(wconn, case.id, now, **fields)
            rollup(wconn, case.id, now)
            wconn.execute("UPDATE sessions SET current_case=? WHERE id=?", (case.id, sess.id))
            # The old holder's claim ends here: its heartbeat cannot bring it back.
            wconn.execute("UPDATE sessions SET current_case=NULL WHERE current_case=? AND "
                          "id<>?", (case.id, sess.id))
    except BaseException:
        if took.get("locks"):
            ids = {lk["id"] for lk in took["locks"]}
            locks.release_where(ctx, sess.id, f"case {case.id} not taken",
                                lambda lk: lk.id in ids)
        raise
    stamp.refresh(ctx, sess.id)
    if taken:
        stamp.refresh(ctx, taken)  # its next commit no longer names the case
    out = state(ctx, case.id)
    out["previous_holder"] = case.holder if case.holder != sess.id else None
    out["locks"] = took.get("locks", [])
    return out


def set_status(ctx: Context, actor: str, task_id: str, status: str, reason: str | None,
               force: bool = False, as_session: bool = True) -> Task:
    """tasks.set_status, with the case rules: a case held by another live session needs
    ``force`` when the caller is a session (``as_session``); the holder's checkpoint
    payload follows at once."""
    task = get(ctx.store.conn, task_id)
    holder = task.holder if task.level == "case" else None
    if holder and holder != actor and as_session and _holder_alive(ctx, holder) \
            and not force:
        raise Refused(f"case {task.id} is held by {_held_by(ctx, task)}",
                      code="case_held", hint="ask the holder, or pass --force (journaled)")
    out = tasks.set_status(ctx, actor, task_id, status, reason,
                           forced=bool(force and holder and holder != actor))
    if holder:
        stamp.refresh(ctx, holder)  # the next commit's note says so at once
    return out


def state(ctx: Context, case_id: str) -> dict[str, Any]:
    conn = ctx.store.conn
    case = get(conn, case_id, "case")
    out = case.to_json()
    out["path"] = [{"id": t.id, "level": t.level, "title": t.title}
                   for t in path_of(conn, case)[:-1]]
    out["steps"] = step_summary(conn, case.id)
    return out


def _step_and_case(ctx: Context, sess: Session, step_id: str) -> tuple[Task, Task]:
    conn = ctx.store.conn
    step = get(conn, step_id, "step")
    assert step.parent is not None
    case = get(conn, step.parent, "case")
    _refuse_held(ctx, case, sess.id)
    return step, case


def check_step(ctx: Context, sess: Session, step_id: str, done: bool = True,
               ) -> dict[str, Any]:
    step, case = _step_and_case(ctx, sess, step_id)
    kind = "step.check" if done else "step.uncheck"
    with ctx.store.write(sess.id, kind, {"step": step.id, "case": case.id,
                                        "session": sess.id}) as conn:
        now = ctx.now()
        update(conn, step.id, now, status="succeeded" if done else "queued")
        if case.status == "queued" and done:
            update(conn, case.id, now, status="running", holder=sess.id)
            conn.execute("UPDATE sessions SET current_case=? WHERE id=?", (case.id, sess.id))
            rollup(conn, case.id, now)
    stamp.refresh(ctx, sess.id)
    out = state(ctx, case.id)
    out["step"] = {"id": step.id, "title": step.title, "done": done}
    return out


def complete(ctx: Context, sess: Session, case_id: str, next_action: str,
             force: bool = False) -> dict[str, Any]:
    conn = ctx.store.conn
    case = get(conn, case_id, "case")
    _refuse_held(ctx, case, sess.id)
    if not next_action.strip():
        raise UsageError("say what comes next", code="bad_param",
                         hint='pass --next "what the next agent should do"')
    summary = step_summary(conn, case.id)
    if summary["open_steps"] and not force:
        names = ", ".join(f"{s['id']} {s['title']!r}" for s in summary["open_steps"][:10])
        raise Refused(f"case {case.id} has {len(summary['open_steps'])} open step(s): {names}",
                      code="steps_open",
                      hint="check them with `orch-hooks step check STEP_ID`, or pass --force")
    with ctx.store.write(sess.id, "case.complete", {"case": case.id, "session": sess.id,
                                                   "next": next_action,
                                                   "forced": bool(force)}) as wconn:
        now = ctx.now()
        update(wconn, case.id, now, status="succeeded", next_action=next_action,
               holder=sess.id)
        rollup(wconn, case.id, now)
        wconn.execute("UPDATE sessions SET current_case=NULL WHERE current_case=?", (case.id,))
    stamp.refresh(ctx, sess.id)
    return state(ctx, case.id)


def fail(ctx: Context, sess: Session, case_id: str, reason: str) -> dict[str, Any]:
    case = get(ctx.store.conn, case_id, "case")
    _refuse_held(ctx, case, sess.id)
    if not reason.strip():
        raise UsageError("say why the case failed", code="bad_param", hint="pass --reason TEXT")
    with ctx.store.write(sess.id, "case.fail", {"case": case.id, "session": sess.id,
                                               "reason": reason}) as wconn:
        now = ctx.now()
        update(wconn, case.id, now, status="failed", reason=reason, holder=sess.id)
        rollup(wconn, case.id, now)
        wconn.execute("UPDATE sessions SET current_case=NULL WHERE current_case=?", (case.id,))
    stamp.refresh(ctx, sess.id)
    return state(ctx, case.id)
