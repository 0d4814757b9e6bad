"""Sessions through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import add_worktree, orch, orch_json


def test_open_list_heartbeat_close(repo: Path) -> None:
    out = orch_json(repo, "session", "open", "--owner", "alice", "--ttl", "60")
    sid = out["session_id"]
    assert out["owner"] == "alice" and out["bound"] is True and out["intent"] == "new_work"
    listed = orch_json(repo, "session", "list")
    assert listed["current"] == sid
    assert [s["id"] for s in listed["sessions"]] == [sid]
    assert listed["sessions"][0]["alive"] is True
    hb = orch_json(repo, "session", "heartbeat")
    assert hb["heartbeat_at"] >= out["heartbeat_at"]
    closed = orch_json(repo, "session", "close")
    assert closed["status"] == "closed"
    assert orch_json(repo, "session", "list")["sessions"] == []
    assert [s["id"] for s in orch_json(repo, "session", "list", "--all")["sessions"]] == [sid]
    # the binding is gone: commands needing a session say so
    proc = orch(repo, "lock", "acquire", "docs/")
    assert proc.returncode == 2 and "no session in effect" in proc.stderr


def test_second_session_in_same_worktree_is_not_bound(repo: Path) -> None:
    first = orch_json(repo, "session", "open", "--owner", "human")
    second = orch_json(repo, "session", "open", "--owner", "agent")
    assert first["bound"] is True and second["bound"] is False
    assert second["export"] == f"export ORCH_SESSION={second['session_id']}"
    # ORCH_SESSION beats the binding, --session beats both
    out = orch_json(repo, "lock", "acquire", "docs/", session=second["session_id"])
    assert out["locks"][0]["session"] == second["session_id"]
    out = orch_json(repo, "--session", first["session_id"], "lock", "acquire", "src/",
                    session=second["session_id"])
    assert out["locks"][0]["session"] == first["session_id"]


def test_each_worktree_binds_its_own_session(repo: Path) -> None:
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = orch_json(wa, "session", "open", "--owner", "a")["session_id"]
    b = orch_json(wb, "session", "open", "--owner", "b")["session_id"]
    assert orch_json(wa, "session", "list")["current"] == a
    assert orch_json(wb, "session", "list")["current"] == b
    sessions = {s["id"]: s for s in orch_json(repo, "session", "list")["sessions"]}
    assert sessions[a]["worktree"] == str(wa) and sessions[a]["branch"] == "wt-a"


def test_bad_intent_and_unknown_session(repo: Path) -> None:
    proc = orch(repo, "session", "open", "--intent", "nap")
    assert proc.returncode == 2
    proc = orch(repo, "session", "heartbeat", "--json", session="s-00000000")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "unknown_session"
    assert "Traceback" not in proc.stderr


def test_expired_session_is_reported_not_alive(repo: Path) -> None:
    sid = orch_json(repo, "session", "open", "--ttl", "5")["session_id"]
    listed = orch_json(repo, "session", "list", env={"ORCH_CLOCK_OFFSET": "10"})
    row = next(s for s in listed["sessions"] if s["id"] == sid)
    assert row["alive"] is False
