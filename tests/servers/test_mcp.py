"""`orch-hooks mcp` through the MCP SDK's own stdio client."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from orch_core.api import dispatch as api
from orch_core.servers import mcp as mcp_server
from testing.repos import ORCH, git
from tests.servers.test_server import check_flow, flow_commit

Body = Callable[[ClientSession], Awaitable[None]]


def with_client(repo: Path, body: Body) -> None:
    async def main() -> None:
        params = StdioServerParameters(command=ORCH, args=["mcp"], cwd=str(repo))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            await body(s)

    anyio.run(main)


async def call(s: ClientSession, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    res = await s.call_tool(tool, args)
    text = res.content[0].text  # type: ignore[union-attr]
    return not res.is_error, json.loads(text)


def test_every_method_is_a_tool_with_its_schema(repo: Path) -> None:
    methods = api.load()

    async def body(s: ClientSession) -> None:
        tools = (await s.list_tools()).tools
        by_name = {t.name: t for t in tools}
        assert set(by_name) == {n.replace(".", "_") for n in methods}
        for name, m in methods.items():
            tool = by_name[mcp_server.tool_name(name)]
            assert tool.input_schema == m.schema
            assert tool.description and m.summary in tool.description
            assert "." not in tool.name

    with_client(repo, body)


def test_agent_flow_over_mcp(repo: Path) -> None:
    async def body(s: ClientSession) -> None:
        ok, a = await call(s, "session_open", {"owner": "mcp-a", "worktree": True})
        assert ok and Path(a["path"]).is_dir() and a["enter"].startswith("cd ")
        assert git(Path(a["path"]), "branch", "--show-current").stdout.strip() == a["branch"]
        ok, b = await call(s, "session_open", {"owner": "mcp-b", "bind": False})
        assert ok
        ok, got = await call(s, "lock_acquire", {"paths": ["src/web/"],
                                                 "session": a["session_id"]})
        assert ok and got["paths"] == ["src/web/"]
        ok, chk = await call(s, "lock_check", {"paths": ["src/web/index.html"],
                                               "session": b["session_id"]})
        assert ok and chk["ok"] is False
        ok, err = await call(s, "lock_acquire", {"paths": ["src/web/x"],
                                                 "session": b["session_id"]})
        assert not ok and err["error"]["code"] == "lock_conflict"
        ok, dec = await call(s, "scheduler_decide_worktree",
                             {"paths": ["src/web/a.py"], "session": b["session_id"]})
        assert ok and dec["inputs"]["overlapping_paths"] == ["src/web/a.py"]
        ok, wts = await call(s, "worktree_list", {})
        assert ok and a["path"] in [w["path"] for w in wts["worktrees"]]
        ok, closed = await call(s, "session_close", {"session": a["session_id"]})
        assert ok and len(closed["released"]) == 1

    with_client(repo, body)


def test_bad_arguments_come_back_as_tool_errors_with_the_schema(repo: Path) -> None:
    async def body(s: ClientSession) -> None:
        ok, err = await call(s, "lock_check", {"paths": "not-a-list"})
        assert not ok and err["error"]["code"] == "invalid_params"
        assert err["error"]["details"]["schema"] == api.get("lock.check").schema
        ok, err = await call(s, "lock_check", {"paths": ["../outside"]})
        assert not ok and err["error"]["code"] == "bad_path" and err["error"]["hint"]
        ok, err = await call(s, "no_such_tool", {})
        assert not ok and err["error"]["code"] == "unknown_method"
        ok, desc = await call(s, "rpc_describe", {})  # still serving
        assert ok and desc["methods"]

    with_client(repo, body)


def test_whole_agent_flow_through_mcp_alone(repo: Path) -> None:
    async def body(s: ClientSession) -> None:
        async def acall(method: str, params: dict[str, Any]) -> Any:
            ok, out = await call(s, mcp_server.tool_name(method), params)
            assert ok, out
            return out

        opened = await acall("session.open", {"owner": "mcp-flow", "worktree": True})
        sid = opened["session_id"]
        ids: dict[str, str] = {}
        parent = None
        for level in ("epic", "feature", "testgroup", "case", "step"):
            params: dict[str, Any] = {"level": level, "title": f"{level} via mcp",
                                      "session": sid}
            if parent:
                params["parent"] = parent
            parent = ids[level] = (await acall("task.create", params))["id"]
        await acall("case.begin", {"id": ids["case"], "session": sid})
        await acall("lock.acquire", {"paths": ["src/web/"], "session": sid,
                                     "task": ids["case"]})
        await acall("step.check", {"id": ids["step"], "session": sid})
        flow_commit(Path(opened["path"]))
        await acall("case.complete", {"id": ids["case"], "next": "nothing left",
                                      "session": sid})
        results: dict[str, Any] = {"opened": opened, "ids": ids,
                   "queued": await acall("merge.request", {"session": sid})}
        check_flow(results)
        nxt = await acall("resume.next", {"session": sid})
        assert nxt["session"] == sid

    with_client(repo, body)


def test_every_request_read_before_stdin_ends_gets_its_reply(repo: Path) -> None:
    """A client that writes its calls and closes stdin at once still hears about each:
    the mutations run, and none is left without a reply."""
    import subprocess

    n = 6
    msgs: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "eof-test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    msgs += [{"jsonrpc": "2.0", "id": i, "method": "tools/call",
              "params": {"name": "session_open",
                         "arguments": {"owner": f"eof-{i}", "bind": False}}}
             for i in range(1, n + 1)]
    proc = subprocess.run([ORCH, "mcp"], cwd=repo, capture_output=True, text=True,
                          input="".join(json.dumps(m) + "\n" for m in msgs), timeout=120)
    assert proc.returncode == 0, proc.stderr
    replies = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert sorted(replies) == list(range(n + 1)), proc.stdout
    owners = set()
    for i in range(1, n + 1):
        result = replies[i].get("result")
        assert result and not result.get("isError"), replies[i]
        owners.add(json.loads(result["content"][0]["text"])["owner"])
    assert owners == {f"eof-{i}" for i in range(1, n + 1)}
