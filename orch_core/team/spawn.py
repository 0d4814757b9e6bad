"""Agents in tmux windows: spawn one with its own session and worktree, list, stop.

A spawn opens a session with a session-root worktree (work/worktrees.py), starts
the command in a window of the team's tmux server with ORCH_SESSION set, and
records the pair in the ``team`` table of state.db. A command that exits within
``[team] startup_grace`` seconds is reported: its window is closed, its session
closed (locks released), nothing is left running. See docs/ARCHITECTURE.md, "The team".
"""

from __future__ import annotations

import json
import time
from typing import Any

from orch_core.errors import NotFound, Refused, UsageError
from orch_core.git import refs as gitrefs
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.team import tmux
from orch_core.work import sessions, stamp, worktrees

RUNNING, EXITED, STOPPED, FAILED = "running", "exited", "stopped", "failed"
# Passed on to the agent's window (the tmux server keeps the environment it started with).
PASS_PREFIXES = ("ORCH_", "GIT_CONFIG", "GIT_AUTHOR_", "GIT_COMMITTER_", "XDG_")
PASS_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
SKIP = ("ORCH_SESSION", "ORCH_REVIEW_ID", "ORCH_TEAM_NAME")


def _env(ctx: Context, sid: str, name: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in ctx.env.items()
           if (k in PASS_NAMES or k.startswith(PASS_PREFIXES)) and k not in SKIP}
    env.update({"ORCH_SESSION": sid, "ORCH_TEAM_NAME": name, **extra})
    return env


def rows(ctx: Context, active_only: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT * FROM team"
    if active_only:
        sql += " WHERE status='running'"
    return [dict(r) for r in ctx.store.conn.execute(sql + " ORDER BY id").fetchall()]


def _set_status(ctx: Context, row_id: int, sid: str, status: str) -> None:
    with ctx.store.write(sid, f"team.{status}", {"session": sid}) as conn:
        conn.execute("UPDATE team SET status=? WHERE id=?", (status, row_id))


def live_children(ctx: Context, srv: tmux.Server) -> list[dict[str, Any]]:
    wins = tmux.windows(srv)
    return [r for r in rows(ctx, active_only=True)
            if r["window"] in wins and wins[r["window"]]["pane_dead"] != "1"]


def close_session(ctx: Context, sid: str, why: str) -> None:
    sess = sessions.find(ctx, sid)
    if sess is None or sess.status != "open":
        return
    locks.release_where(ctx, sid, why, lambda lk: lk.session == sid)
    sessions.close(ctx, sess)
    stamp.refresh(ctx, sid)


def spawn(ctx: Context, owner: str, command: str, role: str | None = None,
          review_id: str | None = None, wait: bool = True) -> dict[str, Any]:
    if not owner or not owner.strip():
        raise UsageError("empty owner name", code="bad_param", hint="pass --owner NAME")
    if not command or not command.strip():
        raise UsageError("empty command", code="bad_param",
                         hint="pass --cmd 'the agent command', e.g. --cmd 'codex'")
    srv = tmux.server(ctx)
    assert srv is not None
    limit = int(ctx.config.get("team", "max_concurrent_children"))
    name = worktrees.slug(owner)
    with gitrefs.writer_lock(ctx.repo, "team"):
        live = live_children(ctx, srv)
        if len(live) >= limit:
            raise Refused(
                f"{len(live)} children are running, the most [team] max_concurrent_children "
                f"= {limit} allows; {owner} was not started",
                code="too_many_children",
                hint="wait for one to finish, stop one with `orch-hooks team stop NAME`, or "
                     "raise [team] max_concurrent_children in .orch.toml",
                details={"running": [r["name"] for r in live]})
        if review_id and any(r["review_id"] == review_id for r in rows(ctx)):
            raise Refused(f"{review_id} has had its reviewer already", code="under_review",
                          hint="`orch-hooks team status` shows the reviewer's window")
        if any(r["name"] == name for r in live):
            raise Refused(f"a child named {name} is already running", code="name_in_use",
                          hint="pick another --owner, or `orch-hooks team stop " + name + "`")
        made = worktrees.create_session_root(ctx, owner, "new_work", None)
        sid = made["session_id"]
        extra = {"ORCH_REVIEW_ID": review_id} if review_id else {}
        try:
            window = tmux.new_window(srv, name, made["path"], command,
                                     _env(ctx, sid, name, extra))
        except BaseException:
            close_session(ctx, sid, "its tmux window could not be opened")
            raise
        with ctx.store.write(sid, "team.spawn", {"session": sid, "name": name, "role": role,
                                                 "review_id": review_id}) as conn:
            cur = conn.execute(
                "INSERT INTO team(name, session, owner, role, window, tmux, command, review_id,"
                " status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (name, sid, owner, role, window, json.dumps(srv.to_json()), command, review_id,
                 RUNNING, ctx.now()))
            row_id = int(cur.lastrowid or 0)
    out = {"name": name, "session_id": sid, "owner": owner, "role": role, "window": window,
           "worktree": made["path"], "branch": made["branch"], "command": command,
           "review_id": review_id, "tmux": srv.to_json(), "status": RUNNING}
    if wait:
        _check_started(ctx, srv, row_id, out, float(ctx.config.get("team", "startup_grace")))
    return out


def _check_started(ctx: Context, srv: tmux.Server, row_id: int, out: dict[str, Any],
                   grace: float) -> None:
    """Refuse (and clean up) a command that exits within ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        state, status = tmux.pane_state(srv, out["window"])
        # tmux may mark the pane dead a moment before it has the exit status
        if state == "gone" or (state == "exited" and (
                status is not None or time.monotonic() >= deadline + 0.5)):
            break
        if state == "running" and time.monotonic() >= deadline:
            return
        time.sleep(0.05)
    # tmux may note the exit before it has read the last output from the terminal
    for _ in range(10):
        tail = tmux.capture(srv, out["window"])
        if any(not ln.startswith("Pane is dead") for ln in tail.splitlines()):
            break
        time.sleep(0.05)
    tmux.kill_window(srv, out["window"])
    close_session(ctx, out["session_id"], "its command exited at once")
    _set_status(ctx, row_id, out["session_id"], FAILED)
    shown = "unknown status" if status is None else f"status {status}"
    raise Refused(
        f"the command of {out['name']} exited at once ({shown}); its window and session "
        "are closed, nothing is left running",
        code="spawn_exited",
        hint="run the command by hand in its worktree to see why: "
             f"cd {out['worktree']} && {out['command']}",
        details={"exit_status": status, "output": tail[-4000:], "worktree": out["worktree"]})


def _find(ctx: Context, name: str) -> dict[str, Any]:
    found = [r for r in rows(ctx) if name in (r["name"], r["session"], r["window"])]
    active = [r for r in found if r["status"] == RUNNING]
    if not (active or found):
        raise NotFound(f"no spawned agent named {name!r}", code="unknown_child",
                       hint="`orch-hooks team status` lists them")
    return (active or found)[-1]


def stop(ctx: Context, name: str) -> dict[str, Any]:
    row = _find(ctx, name)
    srv = tmux.server(ctx, required=False)
    if srv is not None and row["window"]:
        tmux.kill_window(srv, row["window"])
    close_session(ctx, row["session"], f"team stop {row['name']}")
    if row["status"] == RUNNING:
        _set_status(ctx, row["id"], row["session"], STOPPED)
    return {"name": row["name"], "session": row["session"], "window": row["window"],
            "stopped": True}


def status(ctx: Context) -> dict[str, Any]:
    srv = tmux.server(ctx, required=False)
    wins = tmux.windows(srv) if srv is not None else {}
    now = ctx.now()
    out = []
    for r in rows(ctx):
        win = wins.get(r["window"] or "")
        if r["status"] != RUNNING and win is None:
            continue
        sess = sessions.find(ctx, r["session"])
        pane = "gone" if win is None else ("exited" if win["pane_dead"] == "1" else "running")
        out.append({"name": r["name"], "owner": r["owner"], "role": r["role"],
                    "session": r["session"], "window": r["window"], "pane": pane,
                    "exit_status": int(win["pane_dead_status"]) if pane == "exited"
                    and win and win["pane_dead_status"].lstrip("-").isdigit() else None,
                    "session_state": liveness(sess, now, pane),
                    "current_case": sess.current_case if sess else None,
                    "review_id": r["review_id"], "command": r["command"],
                    "pid": int(win["pane_pid"]) if win and win["pane_pid"].isdigit() else None})
    return {"tmux": srv.to_json() if srv else None,
            "tmux_missing": srv is None,
            "hint": None if srv else tmux.INSTALL_HINT, "children": out,
            "running": sum(1 for c in out if c["pane"] == "running"),
            "max_concurrent_children": int(ctx.config.get("team", "max_concurrent_children"))}


def liveness(sess: sessions.Session | None, now: float, pane: str | None = None) -> str:
    """alive, interrupted (heartbeat expired, within its grace), dead (past its grace:
    its locks no longer count; or its window's process is gone) or closed. A spawned
    agent whose window still runs is alive until its grace runs out."""
    if sess is None:
        return "dead"
    if sess.status == "closed":
        return "closed"
    if sess.status != "open" or pane in ("exited", "gone") or sess.dead(now):
        return "dead"
    if pane == "running" or sess.alive(now):
        return "alive"
    return "interrupted"
