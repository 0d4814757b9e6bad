"""Commands: mail, events, spawn, team (status, stop), status, monitor."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from orch_core.cli.common import State, json_option, pass_state, run_method
from orch_core.cli.output import safe
from orch_core.errors import UsageError


def _inbox_text(r: dict[str, Any]) -> str:
    warned = [f"warning: {w}" for w in r.get("warnings", [])]
    if not r["messages"]:
        return "\n".join([f"no messages for {r['reader']} ({r['session']})", *warned])
    lines = [f"{r['unread']} unread for {r['reader']} ({r['session']})"]
    for m in r["messages"]:
        mark = "*" if m["unread"] else " "
        re_txt = f" (re {m['re']})" if m["re"] else ""
        lines.append(f"{mark} {m['id']:<6} {m['time']}  from {m['from_owner']} "
                     f"({m['from_session']}) to {m['to_kind']} {m['to']}: "
                     f"{m['subject']}{re_txt}")
    return "\n".join(lines + warned)


def _message_text(m: dict[str, Any]) -> str:
    re_txt = f"\nre:      {m['re']}" if m.get("re") else ""
    return (f"{m['id']}  {m['time']}\nfrom:    {m['from_owner']} ({m['from_session']})\n"
            f"to:      {m['to_kind']} {m['to']}\nsubject: {m['subject']}{re_txt}\n\n"
            f"{m['body']}".rstrip() + f"\n\n(`orch-hooks mail ack {m['id']}` marks it handled)"
            + "".join(f"\nwarning: {w}" for w in m.get("warnings", [])))


def _event_line(e: dict[str, Any]) -> str:
    return safe(f"{e['id']}  {e['time']}  {e['actor']}  {e['kind']}  "
                f"{json.dumps(e['data'], sort_keys=True)}")


def _team_text(r: dict[str, Any]) -> str:
    if r["tmux_missing"]:
        head = f"tmux is not installed: {r['hint']}"
    else:
        head = (f"tmux session {r['tmux']['session']} on socket {r['tmux']['socket']} "
                f"({r['running']} running, at most {r['max_concurrent_children']}); "
                f"attach: {r['tmux']['attach']}")
    lines = [head]
    for c in r["children"]:
        status = c["pane"] + (f" (status {c['exit_status']})"
                              if c["exit_status"] is not None else "")
        role = f" [{c['role']}]" if c["role"] else ""
        case = f"  case {c['current_case']}" if c["current_case"] else ""
        lines.append(f"  {c['name']}{role}  window {c['window'] or '-'} {status}  session "
                     f"{c['session']} ({c['session_state']}){case}")
    if not r["children"]:
        lines.append("  no spawned agents")
    return "\n".join(lines)


def register(main: click.Group) -> None:
    _mail(main)
    _events(main)
    _team(main)

    @main.command("status")
    @json_option
    @pass_state
    def status(state: State, as_json: bool) -> None:
        """Everything at a glance: sessions, locks, queue, unread mail, team, events."""
        from orch_core.team import overview

        run_method(state, "status.overview", {}, as_json, overview.render)

    @main.command("monitor")
    @click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
                  help="Port to serve on (0: any free port).")
    @click.option("--host", default=None,
                  help="Address to bind (default 127.0.0.1; anything else is reachable by "
                       "others and is served with a warning).")
    @pass_state
    def monitor(state: State, port: int, host: str | None) -> int:
        """Serve the live monitor page (sessions, locks, queue, events, mail) over HTTP."""
        from orch_core.monitor import server

        state.ctx.one_shot = False
        return server.serve(state.ctx, host, port)


def _mail(main: click.Group) -> None:
    @main.group()
    def mail() -> None:
        """Messages between sessions, owners and roles, stored in refs/orch/mail."""

    @mail.command("send")
    @click.option("--to", "to", required=True, metavar="WHO",
                  help="An owner, a session id or a role.")
    @click.option("--subject", required=True, help="One line.")
    @click.option("--body", default=None, help="The message text.")
    @click.option("--body-file", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Read the message text from a file ('-': stdin).")
    @click.option("--re", "re_id", default=None, metavar="ID",
                  help="The message this answers.")
    @json_option
    @pass_state
    def send(state: State, to: str, subject: str, body: str | None, body_file: Path | None,
             re_id: str | None, as_json: bool) -> None:
        """Send a message; the holder of a lock you need is a good recipient."""
        if body is not None and body_file is not None:
            raise UsageError("give --body or --body-file, not both", code="bad_param")
        if body_file is not None:
            try:
                body = sys.stdin.read() if str(body_file) == "-" else body_file.read_text()
            except OSError as e:
                raise UsageError(f"cannot read {body_file}: {e.strerror}",
                                 code="bad_param") from e
        run_method(state, "mail.send", {"to": to, "subject": subject, "body": body or "",
                                        "re": re_id}, as_json,
                   lambda r: f"sent {r['id']} to {r['to_kind']} {r['to']}")

    @mail.command("inbox")
    @click.option("--unread", is_flag=True, help="Only messages not acknowledged yet.")
    @json_option
    @pass_state
    def inbox(state: State, unread: bool, as_json: bool) -> None:
        """Your messages (to your session, your owner name or your roles)."""
        run_method(state, "mail.inbox", {"unread": unread}, as_json, _inbox_text)

    @mail.command("read")
    @click.argument("msg_id", metavar="ID")
    @json_option
    @pass_state
    def read(state: State, msg_id: str, as_json: bool) -> None:
        """Show one message with its body (changes nothing)."""
        run_method(state, "mail.read", {"id": msg_id}, as_json, _message_text)

    @mail.command("ack")
    @click.argument("ids", nargs=-1, required=True, metavar="ID...")
    @json_option
    @pass_state
    def ack(state: State, ids: tuple[str, ...], as_json: bool) -> None:
        """Mark messages handled (they leave `inbox --unread` and `resume next`)."""
        run_method(state, "mail.ack", {"ids": list(ids)}, as_json,
                   lambda r: f"acknowledged {', '.join(r['ids'])} for {r['reader']}")


def _events(main: click.Group) -> None:
    @main.command("events")
    @click.option("--since", type=click.IntRange(min=0), default=None, metavar="ID",
                  help="Only events after this id.")
    @click.option("--kind", default=None, metavar="K",
                  help="A kind (lock.acquire) or a family (lock).")
    @click.option("--limit", type=click.IntRange(min=1), default=None,
                  help="At most this many (default: the last 50 without --since).")
    @click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C ends).")
    @json_option
    @pass_state
    def events(state: State, since: int | None, kind: str | None, limit: int | None,
               follow: bool, as_json: bool) -> None:
        """The append-only event feed: id, time, actor, kind, data."""
        from orch_core.api import dispatch
        from orch_core.team import events as feed

        params = {k: v for k, v in {"since": since, "kind": kind, "limit": limit}.items()
                  if v is not None}
        got = dispatch.call(state.ctx, "events.list", params)
        emit = (lambda e: json.dumps(e, sort_keys=True)) if as_json else _event_line
        if as_json and not follow:
            click.echo(json.dumps(got, indent=2, sort_keys=True))
            return
        for ev in got["events"]:
            click.echo(emit(ev))
        if follow:
            for ev in feed.follow(state.ctx, got["last"], kind):
                click.echo(emit(ev))
                sys.stdout.flush()


def _team(main: click.Group) -> None:
    @main.command("spawn")
    @click.option("--owner", required=True, help="Name of the agent, e.g. codex-1.")
    @click.option("--cmd", "command", required=True, help="Shell command line to run.")
    @click.option("--role", default=None, help="Its role, e.g. worker (mail can go to a role).")
    @json_option
    @pass_state
    def spawn(state: State, owner: str, command: str, role: str | None, as_json: bool) -> None:
        """Start an agent in a tmux window with its own session and worktree."""
        run_method(state, "team.spawn", {"owner": owner, "cmd": command, "role": role},
                   as_json, lambda r: f"spawned {r['name']}: session {r['session_id']}, "
                   f"window {r['window']}, worktree {r['worktree']}\n"
                   f"  watch it: {r['tmux']['attach']}")

    @main.group()
    def team() -> None:
        """Agents spawned in tmux windows (`orch-hooks spawn`)."""

    @team.command("status")
    @json_option
    @pass_state
    def team_status(state: State, as_json: bool) -> None:
        """Windows, sessions, liveness and current cases of spawned agents."""
        run_method(state, "team.status", {}, as_json, _team_text)

    @team.command("stop")
    @click.argument("name")
    @json_option
    @pass_state
    def team_stop(state: State, name: str, as_json: bool) -> None:
        """Close an agent's window and its session (locks released)."""
        run_method(state, "team.stop", {"name": name}, as_json,
                   lambda r: f"stopped {r['name']}: window {r['window'] or '-'} closed, "
                             f"session {r['session']} closed")
