"""The event feed: the append-only ``events`` table of state.db read out.

Every state change is one transaction with exactly one event (state/store.py),
so the table is the feed. ``follow`` waits for new rows by polling SQLite's
``PRAGMA data_version`` (it changes when another connection commits) every
POLL seconds: a sleep, never a busy loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from orch_core import clock
from orch_core.errors import UsageError
from orch_core.state.context import Context

POLL = 0.15
MAX_LIMIT = 10_000


def _row(r: Any) -> dict[str, Any]:
    return {"id": int(r[0]), "ts": float(r[1]), "time": clock.iso(float(r[1])),
            "actor": r[2], "kind": r[3], "data": json.loads(r[4])}


def _kind_clause(kind: str | None) -> tuple[str, tuple[Any, ...]]:
    """``lock`` matches lock.acquire, lock.release...; ``lock.acquire`` only itself."""
    if not kind:
        return "", ()
    return " AND (kind = ? OR kind LIKE ?)", (kind, kind.replace("%", "") + ".%")


def listing(ctx: Context, since: int | None = None, kind: str | None = None,
            limit: int | None = None) -> dict[str, Any]:
    """Events after id ``since`` (oldest first); without ``since``, the last ``limit``."""
    if since is not None and since < 0:
        raise UsageError("--since must be an event id (0 or more)", code="bad_param")
    if limit is not None and not 0 < limit <= MAX_LIMIT:
        raise UsageError(f"limit must be 1..{MAX_LIMIT}", code="bad_param")
    clause, args = _kind_clause(kind)
    conn = ctx.store.conn
    cols = "SELECT db_version, ts, actor, kind, data FROM events"
    if since is None:
        rows = conn.execute(f"{cols} WHERE 1=1{clause} ORDER BY db_version DESC LIMIT ?",
                            (*args, limit or 50)).fetchall()[::-1]
    else:
        rows = conn.execute(f"{cols} WHERE db_version > ?{clause} ORDER BY db_version LIMIT ?",
                            (since, *args, limit or MAX_LIMIT)).fetchall()
    events = [_row(r) for r in rows]
    last = events[-1]["id"] if events else (since if since is not None else ctx.store.db_version())
    return {"events": events, "last": last}


def data_version(ctx: Context) -> int:
    return int(ctx.store.conn.execute("PRAGMA data_version").fetchone()[0])


def follow(ctx: Context, since: int, kind: str | None = None,
           stop: Callable[[], bool] = lambda: False,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """New events after ``since`` as they are committed, until ``stop()``."""
    last = since
    seen = -1
    while not stop():
        version = data_version(ctx)
        if version != seen:
            seen = version
            for ev in listing(ctx, since=last, kind=kind)["events"]:
                last = ev["id"]
                yield ev
        sleep(POLL)


def wait(ctx: Context, since: int, kind: str | None = None,
         timeout: float = 10.0) -> dict[str, Any]:
    """The events after ``since``, waiting up to ``timeout`` seconds for the first."""
    if not 0 <= timeout <= 60:
        raise UsageError("timeout must be 0..60 seconds", code="bad_param")
    deadline = time.monotonic() + timeout
    while True:
        got = listing(ctx, since=since, kind=kind)
        if got["events"] or time.monotonic() >= deadline:
            return got
        time.sleep(POLL)
