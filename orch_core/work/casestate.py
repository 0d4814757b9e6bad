"""Where a session's case stands, read only: its current case, the steps done, the
next action, and the fields the checkpoint note carries (work/stamp.py)."""

from __future__ import annotations

import sqlite3

from orch_core.state.context import Context
from orch_core.work import sessions
from orch_core.work.sessions import Session

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from orch_core.work.tasks import Task

# work/tasks.py is imported by the functions that read a task: a lock write refreshes
# the checkpoint payload of a session that most often has no case (docs/ARCHITECTURE.md,
# performance budgets).


def step_summary(conn: sqlite3.Connection, case_id: str) -> dict[str, Any]:
    from orch_core.work.tasks import children

    steps = children(conn, case_id)
    done = [s for s in steps if s.status == "succeeded"]
    open_ = [s for s in steps if s.status != "succeeded"]
    return {
        "done": len(done), "total": len(steps),
        "done_steps": [{"id": s.id, "title": s.title} for s in done],
        "open_steps": [{"id": s.id, "title": s.title} for s in open_],
    }


def current_case(ctx: Context, sess: Session) -> Task | None:
    """The session's case: the one it began last, else a running one it holds; never
    one another session took since (docs/ARCHITECTURE.md, "Case rules")."""
    conn = ctx.store.conn
    if sess.current_case:
        from orch_core.work.tasks import get

        case = get(conn, sess.current_case)
        if case.status == "running" and case.holder == sess.id:
            return case
    row = conn.execute("SELECT * FROM tasks WHERE holder=? AND level='case' AND "
                       "status='running' ORDER BY updated_at DESC LIMIT 1",
                       (sess.id,)).fetchone()
    if row is None:
        return None
    from orch_core.work.tasks import Task

    return Task.from_row(row)


def next_action(conn: sqlite3.Connection, case: Task) -> str:
    summary = step_summary(conn, case.id)
    if summary["open_steps"]:
        s = summary["open_steps"][0]
        return f"step {s['id']}: {s['title']}"
    if case.status == "running":
        return f"all steps done: `orch-hooks case complete {case.id} --next ...`"
    return case.next_action or ""


def note_fields(ctx: Context, sid: str) -> dict[str, Any]:
    """Checkpoint note fields: the case with its path, steps done/total, next action."""
    sess = sessions.find(ctx, sid)
    if sess is None:
        return {}
    case = current_case(ctx, sess)
    if case is None:
        return {}
    from orch_core.work.tasks import path_of

    conn = ctx.store.conn
    summary = step_summary(conn, case.id)
    return {
        "case": {"id": case.id, "title": case.title,
                 **{t.level: f"{t.id} {t.title}" for t in path_of(conn, case)[:-1]}},
        "steps": {"done": summary["done"], "total": summary["total"]},
        "next": next_action(conn, case),
    }
