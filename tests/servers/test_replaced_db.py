"""`rebuild --force` under a running server: the server opens the new database
instead of writing to the one set aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orch_core.servers import jsonl as jsonl_server
from orch_core.state.context import Context
from testing.repos import orch, orch_json
from tests.servers.test_mcp import call, with_client
from tests.servers.test_server import Served


def _sessions(repo: Path) -> set[str]:
    return {s["id"] for s in orch_json(repo, "session", "list")["sessions"]}


def test_the_jsonl_server_reopens_a_rebuilt_database(repo: Path) -> None:
    s = Served(repo)
    try:
        first = s.call("session.open", {"owner": "a", "bind": False})["result"]["session_id"]
        orch(repo, "sync", check=True)
        orch(repo, "rebuild", "--force", check=True)
        second = s.call("session.open", {"owner": "b", "bind": False})
        sid = second["result"]["session_id"]
        assert {first, sid} <= _sessions(repo)
        got = s.call("lock.acquire", {"paths": ["docs/"], "session": sid})
        assert "result" in got, got
        assert [lk["path"] for lk in orch_json(repo, "lock", "list")["locks"]] == ["docs/"]
    finally:
        s.kill()


def test_the_mcp_server_reopens_a_rebuilt_database(repo: Path) -> None:
    seen: dict[str, Any] = {}

    async def body(s: Any) -> None:
        ok, out = await call(s, "session_open", {"owner": "a", "bind": False})
        assert ok
        orch(repo, "sync", check=True)
        orch(repo, "rebuild", "--force", check=True)
        ok, out = await call(s, "session_open", {"owner": "b", "bind": False})
        assert ok
        seen["sid"] = out["session_id"]

    with_client(repo, body)
    assert seen["sid"] in _sessions(repo)


def test_reopen_if_replaced_in_process(repo: Path) -> None:
    ctx = Context(cwd=repo, env={})
    try:
        before = ctx.store
        orch(repo, "sync", check=True)
        orch(repo, "rebuild", "--force", check=True)
        jsonl_server.reopen_if_replaced(ctx)
        assert ctx.store is not before
    finally:
        ctx.close()
