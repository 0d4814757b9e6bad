"""The task hierarchy Epic > Feature > TestGroup > Case > Step and its plan graph.

Ids are a level letter and a clone-wide sequence number (``C-12``). A parent's
status follows its children: it turns ``running`` when work under it starts and
``succeeded`` when every child has succeeded or been canceled.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from orch_core import clock
from orch_core.errors import NotFound, Refused, UsageError
from orch_core.state.context import Context

LEVELS = ("epic", "feature", "testgroup", "case", "step")
PARENT_LEVEL = {"feature": "epic", "testgroup": "feature", "case": "testgroup",
                "step": "case"}
LETTER = {"epic": "E", "feature": "F", "testgroup": "G", "case": "C", "step": "S"}
STATUSES = ("queued", "running", "succeeded", "failed", "blocked", "canceled")
DONE = ("succeeded", "canceled")


@dataclass(frozen=True)
class Task:
    id: str
    seq: int
    level: str
    title: str
    parent: str | None
    priority: int
    status: str
    holder: str | None
    contract: str | None
    fixtures: list[str]
    next_action: str | None
    reason: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Task:
        return cls(id=r["id"], seq=r["seq"], level=r["level"], title=r["title"],
                   parent=r["parent"], priority=r["priority"], status=r["status"],
                   holder=r["holder"], contract=r["contract"],
                   fixtures=list(json.loads(r["fixtures"] or "[]")),
                   next_action=r["next_action"], reason=r["reason"],
                   created_at=r["created_at"], updated_at=r["updated_at"])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "level": self.level, "title": self.title,
                "parent": self.parent, "priority": self.priority, "status": self.status,
                "holder": self.holder, "contract": self.contract, "fixtures": self.fixtures,
                "next_action": self.next_action, "reason": self.reason,
                "created_at": clock.iso(self.created_at),
                "updated_at": clock.iso(self.updated_at)}


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def find(conn: sqlite3.Connection, task_id: str) -> Task | None:
    row = conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
    return None if row is None else Task.from_row(row)


def get(conn: sqlite3.Connection, task_id: str, level: str | None = None) -> Task:
    task = find(conn, task_id)
    if task is None:
        raise NotFound(f"unknown task {task_id!r}", code="unknown_task",
                       hint="`orch-hooks task list` shows the tasks")
    if level is not None and task.level != level:
        raise UsageError(f"{task_id} is {_a(task.level)}, not {_a(level)}", code="wrong_level",
                         hint=f"pass the id of a {level}")
    return task


def path_of(conn: sqlite3.Connection, task: Task) -> list[Task]:
    """Ancestors from the epic down to ``task`` itself."""
    chain = [task]
    while chain[-1].parent:
        chain.append(get(conn, chain[-1].parent))
    return list(reversed(chain))


def children(conn: sqlite3.Connection, task_id: str) -> list[Task]:
    rows = conn.execute("SELECT * FROM tasks WHERE parent=? ORDER BY seq", (task_id,))
    return [Task.from_row(r) for r in rows]


def create(ctx: Context, actor: str, level: str, title: str, parent: str | None = None,
           priority: int = 0) -> Task:
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}", hint=f"use one of {', '.join(LEVELS)}",
                         code="bad_level")
    if not title.strip():
        raise UsageError("a task needs a title", code="bad_param", hint="pass --title TEXT")
    need = PARENT_LEVEL.get(level)
    now = ctx.now()
    with ctx.store.write(actor, "task.create", {"level": level, "title": title,
                                               "parent": parent}) as conn:
        if need is None and parent is not None:
            raise UsageError("an epic has no parent", code="bad_parent",
                             hint="drop --parent, or create a feature under the epic instead")
        if need is not None:
            if parent is None:
                raise UsageError(f"a {level} needs a parent {need}", code="bad_parent",
                                 hint=f"pass --parent ID of a {need}")
            p = find(conn, parent)
            if p is None:
                raise NotFound(f"unknown parent {parent!r}", code="unknown_task",
                               hint="`orch-hooks task list` shows the tasks")
            if p.level != need:
                raise UsageError(f"a {level}'s parent must be a {need}; {parent} is "
                                 f"{_a(p.level)}", code="bad_parent",
                                 hint=f"pass --parent ID of a {need}")
        seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks").fetchone()[0])
        tid = f"{LETTER[level]}-{seq}"
        conn.execute("INSERT INTO tasks(id, seq, level, title, parent, priority, status,"
                     " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                     (tid, seq, level, title, parent, priority, "queued", now, now))
        if parent is not None:
            rollup(conn, tid, now)
    return get(ctx.store.conn, tid)


def set_status(ctx: Context, actor: str, task_id: str, status: str,
               reason: str | None = None, forced: bool = False) -> Task:
    if status not in STATUSES:
        raise UsageError(f"unknown status {status!r}", hint=f"use one of {', '.join(STATUSES)}",
                         code="bad_status")
    event: dict[str, Any] = {"task": task_id, "status": status}
    if forced:
        event["forced"] = True
    with ctx.store.write(actor, "task.set_status", event) as conn:
        task = get(conn, task_id)
        update(conn, task.id, ctx.now(), status=status,
               reason=reason if reason is not None else task.reason)
        if task.level == "case" and status != "running":
            # Its holder's next commit no longer carries it (work/cases.py set_status).
            conn.execute("UPDATE sessions SET current_case=NULL WHERE current_case=?",
                         (task.id,))
        rollup(conn, task.id, ctx.now())
    return get(ctx.store.conn, task_id)


def update(conn: sqlite3.Connection, task_id: str, now: float, **fields: Any) -> None:
    cols = ", ".join(f"{k}=?" for k in fields)
    conn.execute(f"UPDATE tasks SET {cols}, updated_at=? WHERE id=?",
                 (*fields.values(), now, task_id))


def rollup(conn: sqlite3.Connection, task_id: str, now: float) -> None:
    """Carry a child's change up: parents start running, finish when all children did."""
    task = get(conn, task_id)
    parent_id = task.parent
    while parent_id:
        parent = get(conn, parent_id)
        kids = [r[0] for r in conn.execute("SELECT status FROM tasks WHERE parent=?",
                                           (parent_id,))]
        if kids and all(s in DONE for s in kids):
            new = "succeeded" if "succeeded" in kids else "canceled"
        elif any(s != "queued" for s in kids):
            new = "running" if parent.status in ("queued", *DONE) else parent.status
        else:
            new = parent.status if parent.status != "succeeded" else "queued"
        if new == parent.status:
            break
        update(conn, parent_id, now, status=new)
        parent_id = parent.parent


def listing(ctx: Context, status: str | None = None, tree: bool = False) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}", hint=f"use one of {', '.join(STATUSES)}",
                         code="bad_status")
    conn = ctx.store.conn
    rows = [Task.from_row(r) for r in conn.execute("SELECT * FROM tasks ORDER BY seq")]
    if tree:
        by_parent: dict[str | None, list[Task]] = {}
        for t in rows:
            by_parent.setdefault(t.parent, []).append(t)
        ordered: list[tuple[Task, int]] = []
        stack: list[tuple[Task, int]] = [(t, 0) for t in reversed(by_parent.get(None, []))]
        while stack:
            t, depth = stack.pop()
            ordered.append((t, depth))
            stack.extend((c, depth + 1) for c in reversed(by_parent.get(t.id, [])))
    else:
        ordered = [(t, 0) for t in rows]
    out = []
    for t, depth in ordered:
        if status is not None and t.status != status:
            continue
        item = t.to_json()
        if tree:
            item["depth"] = depth
        out.append(item)
    return {"tasks": out, "count": len(out)}


def describe(ctx: Context, task_id: str) -> dict[str, Any]:
    conn = ctx.store.conn
    task = get(conn, task_id)
    kids = children(conn, task_id)
    out = task.to_json()
    out["path"] = [{"id": t.id, "level": t.level, "title": t.title}
                   for t in path_of(conn, task)[:-1]]
    out["children"] = [{"id": c.id, "level": c.level, "title": c.title, "status": c.status}
                       for c in kids]
    out["blocked_by"] = [{"id": r[0], "status": r[1]} for r in conn.execute(
        "SELECT t.id, t.status FROM deps d JOIN tasks t ON t.id=d.blocker "
        "WHERE d.blocked=? ORDER BY t.seq", (task_id,))]
    out["blocks"] = [r[0] for r in conn.execute(
        "SELECT d.blocked FROM deps d JOIN tasks t ON t.id=d.blocked "
        "WHERE d.blocker=? ORDER BY t.seq", (task_id,))]
    if task.level == "case":
        out["steps"] = {"done": sum(c.status == "succeeded" for c in kids), "total": len(kids)}
    return out


def _reaches(conn: sqlite3.Connection, start: str, goal: str) -> list[str] | None:
    """A path start -> ... -> goal along 'blocks' edges, if one exists."""
    prev: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for (b,) in conn.execute("SELECT blocked FROM deps WHERE blocker=?", (node,)):
                if b in prev:
                    continue
                prev[b] = node
                if b == goal:
                    path = [b]
                    cur: str | None = node
                    while cur is not None:
                        path.append(cur)
                        cur = prev[cur]
                    return list(reversed(path))
                nxt.append(b)
        frontier = nxt
    return None


def dep_add(ctx: Context, actor: str, blocker: str, blocked: str) -> dict[str, Any]:
    if blocker == blocked:
        raise Refused(f"{blocker} cannot block itself", code="dep_cycle",
                      hint="a dependency joins two different tasks")
    with ctx.store.write(actor, "plan.dep.add", {"blocker": blocker,
                                                "blocked": blocked}) as conn:
        get(conn, blocker)
        get(conn, blocked)
        cycle = _reaches(conn, blocked, blocker)
        if cycle is not None:
            loop = " -> ".join([*cycle, blocked])
            raise Refused(f"{blocker} blocks {blocked} would close a cycle: {loop}",
                          code="dep_cycle",
                          hint="remove one edge first (`orch-hooks task dep rm ...`)"
                               " or drop this dependency")
        conn.execute("INSERT OR IGNORE INTO deps(blocker, blocked) VALUES (?, ?)",
                     (blocker, blocked))
    return {"blocker": blocker, "blocked": blocked}


def dep_remove(ctx: Context, actor: str, blocker: str, blocked: str) -> dict[str, Any]:
    with ctx.store.write(actor, "plan.dep.remove", {"blocker": blocker,
                                                   "blocked": blocked}) as conn:
        cur = conn.execute("DELETE FROM deps WHERE blocker=? AND blocked=?",
                           (blocker, blocked))
        if cur.rowcount == 0:
            raise NotFound(f"no dependency {blocker} blocks {blocked}", code="unknown_dep",
                           hint=f"`orch-hooks task get {blocked}` lists what blocks it")
    return {"blocker": blocker, "blocked": blocked, "removed": True}


# Work under an unfinished blocker, or under a blocked/canceled/failed parent,
# is not ready; neither is work held by a live session.
_READY_SQL = """
WITH RECURSIVE
  stopped(id) AS (
    SELECT d.blocked FROM deps d JOIN tasks b ON b.id = d.blocker
      WHERE b.status NOT IN ('succeeded', 'canceled')
    UNION
    SELECT id FROM tasks WHERE status IN ('blocked', 'canceled', 'failed')
      AND level IN ('epic', 'feature', 'testgroup')),
  under(id) AS (
    SELECT id FROM stopped
    UNION
    SELECT t.id FROM tasks t JOIN under u ON t.parent = u.id)
SELECT t.* FROM tasks t
WHERE t.status = 'queued' AND t.level IN ({levels})
  AND t.id NOT IN (SELECT id FROM under)
  AND (t.holder IS NULL OR t.holder NOT IN (
        SELECT id FROM sessions WHERE status = 'open' AND heartbeat_at + ttl + grace > ?))
ORDER BY t.priority DESC, t.seq
LIMIT ?
"""


def ready(ctx: Context, level: str = "case", limit: int = 50) -> list[Task]:
    """Unblocked queued work not held by a session that is alive or interrupted (not
    dead: docs/ARCHITECTURE.md, "Case rules"), highest priority first."""
    levels = LEVELS[:-1] if level == "any" else (level,)
    limit = min(limit, 2**62)  # "all of them": SQLite integers stop at 2**63 - 1
    if level != "any" and level not in LEVELS:
        raise UsageError(f"unknown level {level!r}",
                         hint=f"use one of {', '.join(LEVELS)} or any", code="bad_level")
    sql = _READY_SQL.format(levels=",".join("?" * len(levels)))
    rows = ctx.store.conn.execute(sql, (*levels, ctx.now(), limit))
    return [Task.from_row(r) for r in rows]
