"""Dead sessions: no agent waits on one (docs/ARCHITECTURE.md, "Dead sessions").

A session whose heartbeat lapsed for its ttl plus its grace is dead. Its locks
stop counting at once, everywhere (LockIndex and the hook index compare the
deadline with the clock); :func:`settle`, run by the commands that offer work,
reaps them from the table with an event naming the session and puts its running
case back in the queue, holder and checkpoint kept, so ``task ready`` and
``resume candidates`` offer it and ``resume attach`` hands it over.
"""

from __future__ import annotations

from typing import Any

from orch_core import clock
from orch_core.locks import service as locks
from orch_core.locks.table import Lock
from orch_core.state.context import Context
from orch_core.work import stamp
from orch_core.work.sessions import Session
from orch_core.work.tasks import rollup, update


def dead_sessions(ctx: Context) -> list[Session]:
    rows = ctx.store.conn.execute(
        "SELECT * FROM sessions WHERE status='open' AND heartbeat_at + ttl + grace <= ? "
        "ORDER BY created_at", (ctx.now(),)).fetchall()
    return [Session.from_row(r) for r in rows]


def settle(ctx: Context) -> list[dict[str, Any]]:
    """Reap the locks of dead sessions and queue their running cases again."""
    dead = dead_sessions(ctx)
    if not dead:
        return []
    out: list[dict[str, Any]] = []
    now = ctx.now()
    snap = locks.snapshot(ctx)
    ids = {s.id for s in dead}
    if any(lk.session in ids and lk.live(now) for lk in snap.locks):
        def keep_all(live: list[Lock], _now: float) -> tuple[list[Lock], str, dict[str, Any]]:
            # mutate dropped the dead sessions' locks from ``live`` already.
            return live, "reap the locks of dead sessions", {"session": "orch-hooks"}

        locks.mutate(ctx, "orch-hooks", "lock.reap_dead", keep_all)
    held: dict[str, list[str]] = {}
    for r in ctx.store.conn.execute(
            "SELECT t.id, t.holder FROM tasks t JOIN sessions s ON s.id = t.holder WHERE "
            "t.level='case' AND t.status='running' AND s.status='open' AND "
            "s.heartbeat_at + s.ttl + s.grace <= ? ORDER BY t.seq", (now,)):
        held.setdefault(str(r[1]), []).append(str(r[0]))
    for sess in dead:
        running = held.get(sess.id)
        if not running:
            continue
        with ctx.store.write("orch-hooks", "session.dead", {
                "session": sess.id, "owner": sess.owner, "cases": running,
                "dead_at": clock.iso(sess.deadline)}) as wconn:
            for cid in running:
                update(wconn, cid, now, status="queued")
                rollup(wconn, cid, now)
        stamp.refresh(ctx, sess.id)
        out.append({"session": sess.id, "cases": running})
    return out
