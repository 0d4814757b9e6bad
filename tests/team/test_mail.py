"""The mailbox through the installed console script: two worktrees, one ref."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from orch_core.api import dispatch as api
from orch_core.state.context import Context
from testing.repos import ORCH, git, open_session, orch, orch_json


def _two_agents(repo: Path) -> tuple[Path, str, Path, str]:
    a = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    b = orch_json(repo, "session", "open", "--owner", "bob", "--worktree")
    return Path(a["path"]), a["session_id"], Path(b["path"]), b["session_id"]


def test_mail_between_two_worktrees(repo: Path) -> None:
    wa, _sa, wb, sb = _two_agents(repo)
    sent = orch_json(wb, "mail", "send", "--to", "alice", "--subject", "may I have src/?",
                     "--body", "I need it for the parser")
    assert sent["to_kind"] == "owner" and sent["from_session"] == sb
    box = orch_json(wa, "mail", "inbox", "--unread")
    assert box["unread"] == 1 and box["messages"][0]["subject"] == "may I have src/?"
    # reading changes nothing
    before = git(repo, "rev-parse", "refs/orch/mail").stdout
    msg = orch_json(wa, "mail", "read", sent["id"])
    assert msg["body"] == "I need it for the parser" and msg["unread"] is True
    assert git(repo, "rev-parse", "refs/orch/mail").stdout == before
    # answer by session id, with --re and a body file
    body = wa / "answer.txt"
    body.write_text("yes, after lunch\n")
    reply = orch_json(wa, "mail", "send", "--to", sb, "--subject", "re: src/", "--re",
                      sent["id"], "--body-file", str(body))
    assert reply["to_kind"] == "session" and reply["re"] == sent["id"]
    assert orch_json(wb, "mail", "inbox")["messages"][0]["id"] == reply["id"]
    # ack: gone from --unread for alice, kept in the full inbox; the ref holds it
    orch(wa, "mail", "ack", sent["id"], check=True)
    assert orch_json(wa, "mail", "inbox", "--unread")["messages"] == []
    assert orch_json(wa, "mail", "inbox")["messages"][0]["unread"] is False
    log = git(repo, "log", "--format=%s", "refs/orch/mail").stdout.splitlines()
    assert len(log) == 3 and log[0].startswith("mail ack")
    # the read state belongs to the owner: a new session of alice sees it acknowledged
    s2 = open_session(repo, "alice")
    assert orch_json(repo, "mail", "inbox", "--unread", session=s2)["unread"] == 0


def test_bad_mail_is_a_usage_error_and_changes_nothing(repo: Path) -> None:
    sa = open_session(repo, "alice")
    open_session(repo, "bob")
    for args, code, words in [
        (["--to", "nobody", "--subject", "hi"], "unknown_recipient", "unknown recipient"),
        (["--to", "bob", "--subject", "  "], "bad_subject", "empty subject"),
        (["--to", "bob", "--subject", "x", "--re", "M-9"], "unknown_message", "M-9"),
        (["--to", "bob", "--subject", "x", "--body", "a", "--body-file", "f"], "bad_param",
         "not both"),
    ]:
        proc = orch(repo, "mail", "send", *args, session=sa)
        assert proc.returncode == 2 if code != "unknown_message" else proc.returncode == 1
        assert words in proc.stderr and "Traceback" not in proc.stderr
        proc = orch(repo, "mail", "send", *args, "--json", session=sa)
        assert json.loads(proc.stdout)["error"]["code"] == code
    assert git(repo, "rev-parse", "-q", "--verify", "refs/orch/mail",
               check=False).returncode != 0
    proc = orch(repo, "mail", "ack", "M-1", session=sa)
    assert proc.returncode == 1 and "no message" in proc.stderr


def test_mail_to_a_role_and_resume_next_shows_unread(repo: Path) -> None:
    sa = open_session(repo, "alice")
    sb = open_session(repo, "bob")
    with _ctx(repo) as ctx, ctx.store.write(sb, "test.role") as conn:
        conn.execute("INSERT INTO team(name, session, owner, role, window, tmux, command,"
                     " status, created_at) VALUES ('bob', ?, 'bob', 'reviewer', NULL, '{}',"
                     " 'true', 'stopped', 0)", (sb,))
    orch(repo, "mail", "send", "--to", "reviewer", "--subject", "please review Q-1",
         session=sa, check=True)
    nxt = orch_json(repo, "resume", "next", session=sb)
    assert nxt["mail"]["unread"] == 1
    assert nxt["mail"]["messages"][0]["subject"] == "please review Q-1"
    text = orch(repo, "resume", "next", session=sb, check=True).stdout
    assert "unread mail: 1" in text and "please review Q-1" in text
    assert orch_json(repo, "resume", "next", session=sa)["mail"]["unread"] == 0


class _ctx:
    def __init__(self, repo: Path) -> None:
        self.ctx = Context(cwd=repo, env={})

    def __enter__(self) -> Context:
        return self.ctx

    def __exit__(self, *exc: object) -> None:
        self.ctx.close()


def test_lock_conflict_names_the_command_to_ask_the_holder(repo: Path) -> None:
    sa = open_session(repo, "alice")
    sb = open_session(repo, "bob")
    orch(repo, "lock", "acquire", "src/", session=sa, check=True)
    proc = orch(repo, "lock", "acquire", "src/api/users.py", session=sb)
    assert proc.returncode == 1
    assert f"orch-hooks mail send --to {sa}" in proc.stderr
    # a refused commit says the same
    wb = Path(orch_json(repo, "session", "open", "--owner", "carol", "--worktree")["path"])
    (wb / "src" / "api" / "users.py").write_text("changed = True\n")
    git(wb, "add", "src/api/users.py")
    proc = git(wb, "commit", "-q", "-m", "change", check=False)
    assert proc.returncode != 0 and f"orch-hooks mail send --to {sa}" in proc.stderr


def test_mail_methods_over_the_registry(repo: Path) -> None:
    sa = open_session(repo, "alice")
    sb = open_session(repo, "bob")
    ctx = Context(cwd=repo, env={})
    try:
        sent = api.call(ctx, "mail.send", {"to": "bob", "subject": "hello", "session": sa})
        box = api.call(ctx, "mail.inbox", {"unread": True, "session": sb})
        assert [m["id"] for m in box["messages"]] == [sent["id"]]
        api.call(ctx, "mail.ack", {"ids": [sent["id"]], "session": sb})
        assert api.call(ctx, "mail.inbox", {"unread": True, "session": sb})["unread"] == 0
        names = {m["name"] for m in api.call(ctx, "rpc.describe", {})["methods"]}
        assert {"mail.send", "mail.inbox", "mail.read", "mail.ack", "events.list",
                "events.wait", "team.spawn", "team.status", "team.stop",
                "status.overview"} <= names
    finally:
        ctx.close()
    # the same over the JSON-lines server
    line = json.dumps({"id": 1, "method": "mail.inbox", "params": {"session": sb}})
    proc = subprocess.run([ORCH, "serve"], cwd=repo,
                          input=line + "\n", capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["result"]["messages"][0]["id"] == sent["id"]


def test_mail_and_the_overview_over_mcp(repo: Path) -> None:
    from tests.servers.test_mcp import call, with_client

    async def body(s: Any) -> None:
        ok, a = await call(s, "session_open", {"owner": "mcp-a", "bind": False})
        ok2, _b = await call(s, "session_open", {"owner": "mcp-b", "bind": False})
        assert ok and ok2
        ok, sent = await call(s, "mail_send", {"to": "mcp-b", "subject": "hello",
                                               "session": a["session_id"]})
        assert ok and sent["id"] == "M-1"
        ok, err = await call(s, "mail_send", {"to": "nobody", "subject": "x",
                                              "session": a["session_id"]})
        assert not ok and err["error"]["code"] == "unknown_recipient"
        ok, ov = await call(s, "status_overview", {})
        assert ok and ov["unread_mail"] == {"mcp-b": 1}
        ok, feed = await call(s, "events_list", {"kind": "mail"})
        assert ok and [e["kind"] for e in feed["events"]] == ["mail.send"]

    with_client(repo, body)


def test_mail_to_a_role_of_the_committed_policy(tmp_path: Path) -> None:
    from testing.repos import make_repo

    repo = make_repo(tmp_path / "repo", install=False)
    with (repo / ".orch.toml").open("a") as fh:
        fh.write('\n[roles]\nmerge-reviewer = ["bob"]\n')
    git(repo, "commit", "-q", "-a", "--amend", "-m", "initial import")
    orch(repo, "install", check=True)
    sa = open_session(repo, "alice")
    sb = open_session(repo, "bob")
    sent = orch_json(repo, "mail", "send", "--to", "merge-reviewer", "--subject",
                     "please look at Q-1", session=sa)
    assert sent["to_kind"] == "role"
    assert orch_json(repo, "mail", "inbox", session=sb)["unread"] == 1
    assert orch_json(repo, "mail", "inbox", session=sa)["unread"] == 0
    # a role nobody holds is not an address
    proc = orch(repo, "mail", "send", "--to", "doc-mirror-manager", "--subject", "x",
                session=sa)
    assert proc.returncode == 2 and "unknown recipient" in proc.stderr
