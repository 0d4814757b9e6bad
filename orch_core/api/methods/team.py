"""Methods for the team: mail, the event feed, spawned agents, the overview."""

from __future__ import annotations

from typing import Any

from orch_core.api.methods.common import SESSION, as_session, need_session
from orch_core.api.registry import method, s_int, s_num, s_str, s_strs
from orch_core.state.context import Context
from orch_core.team import events, mail, overview, spawn

MSG_ID = s_str("Message id, e.g. 'M-3' (from mail.inbox).", minLength=1)


@method("mail.send", "Send a message to an owner (e.g. 'codex-1'), a session id or a role "
        "(e.g. 'reviewer'). It is stored in git (refs/orch/mail), so every worktree sees it. "
        "Use it to ask a lock holder for a path: lock conflicts name the holder's session.",
        params={"to": s_str("Owner, session id or role."),
                "subject": s_str("One line, what it is about."),
                "body": s_str("The message (optional)."),
                "re": s_str("Id of the message this answers."),
                "session": SESSION},
        required=("to", "subject"),
        errors=("unknown_recipient", "bad_subject", "bad_body", "unknown_message",
                "no_session"), mutates=True)
def mail_send(ctx: Context, to: str, subject: str, body: str = "", re: str | None = None,
              session: str | None = None) -> dict[str, Any]:
    return mail.send(ctx, need_session(ctx, session), to, subject, body, re)


@method("mail.inbox", "Messages for this session: to its id, its owner or its roles, "
        "newest last; 'unread' counts those not acknowledged (mail.ack) by this owner.",
        params={"unread": {"type": "boolean", "description": "Only unacknowledged ones."},
                "session": SESSION}, errors=("no_session",))
def mail_inbox(ctx: Context, unread: bool = False, session: str | None = None) -> dict[str, Any]:
    return mail.inbox(ctx, need_session(ctx, session), unread)


@method("mail.read", "One message with its body. Reading changes nothing; mail.ack marks it "
        "handled.", params={"id": MSG_ID, "session": SESSION}, required=("id",),
        errors=("unknown_message",))
def mail_read(ctx: Context, id: str, session: str | None = None) -> dict[str, Any]:
    return mail.read(ctx, as_session(ctx, session, required=False), id)


@method("mail.ack", "Mark messages handled for this owner: they leave `mail inbox --unread` "
        "and resume.next.",
        params={"ids": s_strs("Message ids."), "session": SESSION}, required=("ids",),
        errors=("unknown_message", "no_session"), mutates=True)
def mail_ack(ctx: Context, ids: list[str], session: str | None = None) -> dict[str, Any]:
    return mail.ack(ctx, need_session(ctx, session), list(ids))


@method("events.list", "The append-only event feed (id, time, actor, kind, data), oldest "
        "first: the events after 'since', or the last 'limit' (default 50). 'kind' "
        "'lock' matches lock.acquire, lock.release, ...; 'last' is the id to pass as "
        "'since' next time.",
        params={"since": s_int("Event id; only later events.", minimum=0),
                "kind": s_str("Kind or kind family, e.g. 'lock' or 'merge.request'."),
                "limit": s_int("At most this many.", minimum=1)})
def events_list(ctx: Context, since: int | None = None, kind: str | None = None,
                limit: int | None = None) -> dict[str, Any]:
    return events.listing(ctx, since, kind, limit)


@method("events.wait", "Wait up to 'timeout' seconds for events after 'since' and return "
        "them (at once if there are some): a long poll for agents without a shell.",
        params={"since": s_int("Event id (events.list 'last').", minimum=0),
                "kind": s_str("Kind or kind family."),
                "timeout": s_num("Seconds to wait, 0..60 (default 10).", minimum=0,
                                 maximum=60)},
        required=("since",))
def events_wait(ctx: Context, since: int, kind: str | None = None,
                timeout: float = 10.0) -> dict[str, Any]:
    return events.wait(ctx, since, kind, float(timeout))


@method("team.spawn", "Start an agent: a new session with its own worktree and a tmux window "
        "running 'cmd' there with ORCH_SESSION set. Refused past [team] "
        "max_concurrent_children, without tmux, or when the command exits at once (then "
        "its session is closed and nothing is left running).",
        params={"owner": s_str("Name of the agent, e.g. 'codex-1'.", minLength=1),
                "cmd": s_str("Shell command line to run in the window.", minLength=1),
                "role": s_str("Role, e.g. 'worker'; mail can be sent to a role.")},
        required=("owner", "cmd"),
        errors=("no_tmux", "too_many_children", "name_in_use", "spawn_exited",
                "tmux_failed", "bad_config"), mutates=True)
def team_spawn(ctx: Context, owner: str, cmd: str, role: str | None = None) -> dict[str, Any]:
    return spawn.spawn(ctx, owner, cmd, role)


@method("team.status", "Spawned agents: tmux window, whether it still runs (or its exit "
        "status), session, liveness and current case.")
def team_status(ctx: Context) -> dict[str, Any]:
    return spawn.status(ctx)


@method("team.stop", "Stop a spawned agent: close its tmux window and its session (its locks "
        "are released; its worktree stays for `worktree gc`).",
        params={"name": s_str("Its name (team.status), session id or window id.",
                              minLength=1)},
        required=("name",), errors=("unknown_child",), mutates=True)
def team_stop(ctx: Context, name: str) -> dict[str, Any]:
    return spawn.stop(ctx, name)


@method("status.overview", "Everything at a glance, as the monitor page shows it: sessions "
        "(alive, interrupted, dead), live locks, the queue with predicted conflicts and "
        "approvals needed, recent events, unread mail per owner, spawned agents.")
def status_overview(ctx: Context) -> dict[str, Any]:
    return overview.build(ctx)
