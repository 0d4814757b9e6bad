"""A Markdown snapshot of the work state, written only when asked.

``md_version`` in meta is the ``db_version`` the snapshot was written at; the
mirror is outdated whenever they differ. Nothing refreshes it implicitly.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from orch_core import clock
from orch_core.errors import OrchError, UsageError
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import sessions, tasks

DEFAULT_NAME = "mirror.md"
MARKS = {"succeeded": "x", "canceled": "-"}


def _default_path(ctx: Context) -> Path:
    return ctx.repo.orch_dir / DEFAULT_NAME


def status(ctx: Context) -> dict[str, Any]:
    db = ctx.store.db_version()
    md = ctx.store.meta("md_version")
    return {"db_version": db, "md_version": None if md is None else int(md),
            "outdated": md is None or int(md) != db,
            "path": ctx.store.meta("md_path") or str(_default_path(ctx))}


def render(ctx: Context, queue_lines: list[str]) -> str:
    now = ctx.now()
    version = ctx.store.db_version()
    lines = [f"# Work state (db_version {version}, {clock.iso(now)})", "", "## Tasks", ""]
    tree = tasks.listing(ctx, tree=True)["tasks"]
    if not tree:
        lines.append("_no tasks_")
    for t in tree:
        mark = MARKS.get(t["status"], " ")
        holder = f" — {t['holder']}" if t["holder"] and t["status"] == "running" else ""
        lines.append(f"{'  ' * t['depth']}- [{mark}] **{t['id']}** {t['title']} "
                     f"({t['level']}, {t['status']}){holder}")
    lines += ["", "## Sessions", ""]
    rows = [s for s in sessions.all_sessions(ctx) if s.status == "open"]
    if not rows:
        lines.append("_no open sessions_")
    for s in rows:
        state = "alive" if s.alive(now) else "interrupted"
        lines.append(f"- `{s.id}` {s.owner} ({state}) case {s.current_case or '-'}, "
                     f"branch {s.branch or '-'}, {s.worktree or '-'}")
    lines += ["", "## Locks", ""]
    live = locks.listing(ctx)["locks"]
    if not live:
        lines.append("_no live locks_")
    for lk in live:
        lines.append(f"- `{lk['path']}` {lk['mode']} by `{lk['session']}` ({lk['owner']}), "
                     f"expires {lk['expires']}")
    lines += ["", "## Merge queue", ""]
    lines += queue_lines if queue_lines else ["_empty_"]
    return "\n".join(lines) + "\n"


def refresh(ctx: Context, out: str | None = None,
            queue_lines: list[str] | None = None) -> dict[str, Any]:
    version = ctx.store.db_version()
    text = render(ctx, queue_lines or [])
    path = Path(out) if out else _default_path(ctx)
    if not path.is_absolute():
        path = ctx.cwd / path
    if path.is_dir():
        raise UsageError(f"{path} is a directory", code="bad_path",
                         hint=f"give a file name, e.g. --out {path / DEFAULT_NAME}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OrchError(f"cannot write the mirror to {path}: {e.strerror or e}",
                        code="write_failed",
                        hint="pick a writable file with --out, or omit --out") from e
    with ctx.store.cache_write() as conn:
        # Written against the version read above: a change in between leaves it outdated.
        ctx.store.set_meta(conn, "md_version", str(version))
        ctx.store.set_meta(conn, "md_path", str(path))
    return {"path": str(path), "md_version": version, "bytes": len(text.encode())}


def request(ctx: Context, sess: sessions.Session, reason: str | None) -> dict[str, Any]:
    """Ask the doc-mirror manager for a refresh (one event; `resume next` shows it)."""
    with ctx.store.write(sess.id, "mirror.request", {"session": sess.id, "owner": sess.owner,
                                                    "reason": reason or ""}):
        pass
    return {"requested": True, "pending": pending(ctx)}


def pending(ctx: Context) -> list[dict[str, Any]]:
    """Refresh requests made since the mirror was last written."""
    md = ctx.store.meta("md_version")
    since = int(md) if md is not None else 0
    rows = ctx.store.conn.execute(
        "SELECT db_version, ts, actor, data FROM events WHERE kind='mirror.request' AND "
        "db_version > ? ORDER BY db_version", (since,)).fetchall()
    import json

    out = []
    for r in rows:
        data = json.loads(r["data"])
        out.append({"db_version": r["db_version"], "at": clock.iso(r["ts"]),
                    "session": r["actor"], "owner": data.get("owner"),
                    "reason": data.get("reason") or ""})
    return out
