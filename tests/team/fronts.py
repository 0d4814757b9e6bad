"""One call, three front ends: the console script, `orch-hooks serve` (JSON lines) and
`orch-hooks mcp` (the MCP SDK's stdio client), each a real process."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from orch_core.servers import mcp as mcp_server
from testing.repos import ORCH, orch
from tests.servers.test_server import Served

FRONTS = ("cli", "jsonl", "mcp")


def _cli_args(method: str, p: dict[str, Any]) -> list[str]:
    """The command line a user types for ``method`` (the methods these tests use)."""
    def flag(name: str, key: str) -> list[str]:
        return [name] if p.get(key) else []

    if method == "merge.request":
        return ["merge", "request", *([p["branch"]] if p.get("branch") else [])]
    if method == "merge.review":
        return ["merge", "review", p["id"], "--approve" if p["approve"] else "--reject"]
    if method == "merge.main.land":
        return ["merge", "land"]
    if method == "merge.main.queue":
        return ["merge", "queue"]
    if method == "merge.review_context":
        return ["merge", "context", p["id"]]
    if method == "mirror.refresh":
        return ["mirror", "refresh"]
    if method == "mirror.request":
        return ["mirror", "request", *(["--reason", p["reason"]] if p.get("reason") else [])]
    if method == "case.begin":
        return ["case", "begin", p["id"], *flag("--force", "force"),
                *(["--contract", p["contract"]] if p.get("contract") else [])]
    if method == "task.set_status":
        return ["task", "set-status", p["id"], p["status"], *flag("--force", "force")]
    if method == "resume.next":
        return ["resume", "next"]
    raise AssertionError(f"no command line for {method}")


class Front:
    """Calls methods through one front end; ``call`` answers (ok, result or error)."""

    def __init__(self, kind: str, repo: Path) -> None:
        self.kind = kind
        self.repo = repo
        self._served: Served | None = None
        self._mcp: _McpThread | None = None

    def call(self, method: str, params: dict[str, Any], session: str | None = None,
             ) -> tuple[bool, dict[str, Any]]:
        if self.kind == "cli":
            proc = orch(self.repo, *_cli_args(method, params), "--json", session=session)
            out: dict[str, Any] = json.loads(proc.stdout)
            assert (proc.returncode == 0) == ("error" not in out), (proc.returncode, out)
            if proc.returncode:
                return False, out["error"]
            return True, out
        full = dict(params)
        if session is not None:
            full["session"] = session
        if self.kind == "jsonl":
            if self._served is None:
                self._served = Served(self.repo, {"ORCH_SESSION": ""})
            return _answer(self._served.call(method, full))
        if self._mcp is None:
            self._mcp = _McpThread(self.repo)
        return self._mcp.call(mcp_server.tool_name(method), full)

    def raw(self, method: str, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """The parameters as given (JSON lines and MCP only: the seeds' names)."""
        assert self.kind != "cli"
        if self.kind == "jsonl":
            if self._served is None:
                self._served = Served(self.repo, {"ORCH_SESSION": ""})
            return _answer(self._served.call(method, params))
        if self._mcp is None:
            self._mcp = _McpThread(self.repo)
        return self._mcp.call(mcp_server.tool_name(method), params)

    def close(self) -> None:
        if self._served is not None:
            self._served.close()
        if self._mcp is not None:
            self._mcp.close()


def _answer(resp: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    if "error" in resp:
        return False, dict(resp["error"])
    result = resp["result"]
    return True, result if isinstance(result, dict) else {"result": result}


class _McpThread:
    """An MCP client session kept open in a thread, driven synchronously."""

    def __init__(self, repo: Path) -> None:
        self.requests: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.answers: queue.Queue[tuple[bool, dict[str, Any]] | BaseException] = queue.Queue()
        self.thread = threading.Thread(target=anyio.run, args=(self._main, repo), daemon=True)
        self.thread.start()

    async def _main(self, repo: Path) -> None:
        params = StdioServerParameters(command=ORCH, args=["mcp"], cwd=str(repo))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            while True:
                item = await anyio.to_thread.run_sync(self.requests.get)
                if item is None:
                    return
                try:
                    res = await s.call_tool(item[0], item[1])
                    text = res.content[0].text  # type: ignore[union-attr]
                    data = json.loads(text)
                    self.answers.put((not res.is_error,
                                      data["error"] if res.is_error else data))
                except BaseException as e:  # handed to the test thread
                    self.answers.put(e)

    def call(self, tool: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        self.requests.put((tool, args))
        got = self.answers.get(timeout=120)
        if isinstance(got, BaseException):
            raise got
        return got

    def close(self) -> None:
        self.requests.put(None)
        self.thread.join(timeout=30)
