"""The overview: sessions, locks, the queue, recent events, unread mail, the team.

One function builds it for `orch-hooks status` and the monitor's
``/api/overview`` (and its live stream). It only reads: the queue comes from
its ref as written (predicted conflicts as the last refresh recorded them).
"""

from __future__ import annotations

from typing import Any

from orch_core import clock
from orch_core.locks import storage as lockstore
from orch_core.merge import queue as q
from orch_core.state.context import Context
from orch_core.team import events, mail, roster, spawn
from orch_core.work import sessions

RECENT_EVENTS = 30
# Session heartbeats are not events: the overview is rebuilt at least this often.
REFRESH_SECONDS = 5.0


def _sessions(ctx: Context, now: float, panes: dict[str, str]) -> list[dict[str, Any]]:
    roles = roster.roles_by_session(ctx)
    out = []
    for s in sessions.all_sessions(ctx):
        if s.status == "closed":
            continue
        out.append({"id": s.id, "owner": s.owner, "state": spawn.liveness(s, now,
                                                                          panes.get(s.id)),
                    "roles": sorted(roles.get(s.id, ())), "branch": s.branch,
                    "worktree": s.worktree, "current_case": s.current_case,
                    "heartbeat_expires": clock.iso(s.heartbeat_at + s.ttl)})
    return out


def _locks(ctx: Context, now: float) -> list[dict[str, Any]]:
    snap = lockstore.snapshot(ctx)
    live = sorted((lk for lk in snap.locks if lk.live(now)), key=lambda lk: lk.path)
    return [{"id": lk.id, "path": lk.path, "mode": lk.mode, "session": lk.session,
             "owner": lk.owner, "task": lk.task, "expires": clock.iso(lk.expires_at),
             "expires_in": max(0, int(lk.expires_at - now))} for lk in live]


def _queue(ctx: Context, now: float) -> dict[str, Any]:
    from orch_core.git import repo as gitrepo
    from orch_core.merge import approval

    _tip, state = q.read_state(ctx)
    base = gitrepo.rev_parse(ctx.repo, f"refs/heads/{ctx.config.base_branch}")
    entries = []
    for e in state.ordered():
        # One review at least; more where [[approval]] rules of the committed policy
        # match its paths (merge/approval.py).
        needs = approval.needed(ctx, e, base) if base else []
        review = 1 if e.state in (q.QUEUED, q.CONFLICTED) else 0
        entries.append({"position": state.position(e.id), "id": e.id, "branch": e.branch,
                        "state": e.state, "author": e.author, "owner": e.owner,
                        "reviewer": e.reviewer,
                        "approved_by": [a.get("owner") for a in e.approvals],
                        "approvals_needed": max([review] + [n["missing"] for n in needs]),
                        "needs": approval.needed_text(needs) if needs else None,
                        "conflicts": e.conflicts})
    return {"entries": entries, "merge_lock": q.describe_lease(state.lease, now)}


def build(ctx: Context) -> dict[str, Any]:
    now = ctx.now()
    team = spawn.status(ctx)
    panes = {c["session"]: c["pane"] for c in team["children"]}
    recent = events.listing(ctx, limit=RECENT_EVENTS)
    warnings: list[str] = []
    unread = mail.unread_by_owner(ctx, warnings)
    return {
        "time": clock.iso(now), "ts": now, "repository": str(ctx.repo.toplevel),
        "db_version": ctx.store.db_version(),
        "sessions": _sessions(ctx, now, panes),
        "locks": _locks(ctx, now),
        "queue": _queue(ctx, now),
        "events": recent["events"][::-1],
        "unread_mail": unread,
        "team": team,
        "warnings": warnings,
    }


def render(ov: dict[str, Any]) -> str:
    """The overview as text for a terminal."""
    lines = [f"orch-hooks status  {ov['time']}  {ov['repository']}", "", "sessions:"]
    for s in ov["sessions"] or [{"id": "(none)"}]:
        if "owner" not in s:
            lines.append("  (none)")
            continue
        case = f"  case {s['current_case']}" if s["current_case"] else ""
        role = f" [{', '.join(s['roles'])}]" if s["roles"] else ""
        lines.append(f"  {s['id']}  {s['owner']}{role}  {s['state']}  "
                     f"{s['branch'] or '-'}{case}")
    lines.append("locks:")
    lines += [f"  {lk['path']}  [{lk['mode']}]  {lk['owner']} ({lk['session']})  task "
              f"{lk['task'] or '-'}  expires {lk['expires']}" for lk in ov["locks"]] \
        or ["  (none)"]
    lines.append("queue:")
    for e in ov["queue"]["entries"]:
        conf = ", ".join(f"{c.get('with')}: {', '.join(c.get('files', []))}"
                         for c in e["conflicts"])
        need = "  needs approval" if e["approvals_needed"] else ""
        lines.append(f"  {e['position']}. {e['id']} {e['branch']}  {e['state']}  by "
                     f"{e['owner']}{need}{'  conflicts ' + conf if conf else ''}")
    if not ov["queue"]["entries"]:
        lines.append("  (empty)")
    lines.append("unread mail:")
    lines += [f"  {who}: {n}" for who, n in sorted(ov["unread_mail"].items())] or ["  (none)"]
    team = ov["team"]
    lines.append("team:" + ("  (tmux not installed)" if team["tmux_missing"] else ""))
    lines += [f"  {c['name']}  {c['pane']}  {c['session']} ({c['session_state']})"
              for c in team["children"]] or ["  (none)"]
    lines.append("recent events:")
    lines += [f"  {e['id']}  {e['time']}  {e['actor']}  {e['kind']}"
              for e in ov["events"][:10]] or ["  (none)"]
    lines += [f"warning: {w}" for w in ov.get("warnings", [])]
    return "\n".join(lines)
