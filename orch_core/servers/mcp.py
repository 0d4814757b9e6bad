"""`orch-hooks mcp`: every registry method as an MCP tool over stdio.

Built on the low-level ``mcp.server.Server`` of the SDK: the tool list is read
from the registry at each ``tools/list``, so methods added by any module show
up without a change here. Tool names use ``_`` where the method name has a
dot (MCP tool names may not contain dots in every client). A failing call is
returned as a tool result with ``is_error`` set and the error object
(code, message, hint, retryable, schema) as JSON, so the model can correct
itself (an unknown tool name too).
"""

from __future__ import annotations

import json
from typing import Any

from orch_core.api import dispatch
from orch_core.api import dispatch as api
from orch_core.servers.jsonl import reopen_if_replaced
from orch_core.state.context import Context

SERVER_NAME = "orch-hooks"
INSTRUCTIONS = (
    "orch-hooks coordinates agents in one git repository. Open a session first "
    "(session_open, worktree=true gives you your own worktree) and pass its session_id as "
    "'session' to later calls. Take locks (lock_acquire) before editing files; lock_check "
    "tells you whether a path is free. After a lost context call resume_next. Queue your "
    "branch with merge_request; never push to main."
)


def tool_name(method_name: str) -> str:
    return method_name.replace(".", "_")


def tool_table() -> dict[str, api.Method]:
    """Tool name -> method; a clash between two methods' tool names is a bug."""
    table: dict[str, api.Method] = {}
    for name, m in sorted(api.load().items()):
        key = tool_name(name)
        if key in table:
            raise RuntimeError(f"tool name {key} used by {table[key].name} and {name}")
        table[key] = m
    return table


def description(m: api.Method) -> str:
    text = m.summary
    codes = [c for c in m.errors if c not in ("usage", "not_a_repo")]
    if codes:
        text += f" Errors: {', '.join(codes)}."
    if m.mutates:
        text += " Changes shared state."
    if m.aliases:
        text += " Also accepts " + ", ".join(f"{a} for {c}" for a, c in m.aliases.items()) + "."
    return text + f" (method {m.name})"


def call_tool(ctx: Context, tool: str, arguments: dict[str, Any] | None,
              ) -> tuple[bool, dict[str, Any]]:
    """Run one tool call; (ok, payload). Never raises for a bad call."""
    m = tool_table().get(tool)
    if m is None:
        return False, {"code": "unknown_method", "message": f"unknown tool {tool!r}",
                       "hint": "list the tools again", "retryable": False}
    reopen_if_replaced(ctx)
    ok, payload = dispatch.answer(ctx, m, arguments or {}, "mcp")
    if ok and not isinstance(payload, dict):
        payload = {"result": payload}
    return ok, payload


def build(ctx: Context, answered: _Answered | None = None) -> Any:
    import anyio
    import mcp.types as types
    from mcp.server import Server

    gate = anyio.Lock()  # one Context: calls run one at a time, off the event loop

    async def list_tools(_rc: Any, _params: Any) -> types.ListToolsResult:
        tools = [types.Tool(name=key, description=description(m), input_schema=m.schema)
                 for key, m in tool_table().items()]
        return types.ListToolsResult(tools=tools)

    async def handle_call(_rc: Any, params: types.CallToolRequestParams,
                          ) -> types.CallToolResult:
        if answered is not None:
            answered.running += 1
            answered.note()  # a call runs: the wait for replies has no time limit now
        try:
            async with gate:
                ok, payload = await anyio.to_thread.run_sync(
                    call_tool, ctx, params.name, params.arguments)
        finally:
            if answered is not None:
                answered.running -= 1
                answered.note()
        text = json.dumps(payload if ok else {"error": payload}, default=str, sort_keys=True)
        return types.CallToolResult(
            content=[types.TextContent(text=text)],
            structured_content=json.loads(text) if ok else None,
            is_error=not ok)

    from importlib.metadata import version

    return Server(SERVER_NAME, version=version("orch-hooks"), instructions=INSTRUCTIONS,
                  on_list_tools=list_tools,
                  on_call_tool=handle_call)


class _Answered:
    """The requests read from the client and not answered yet.

    At the end of stdin the SDK cancels the handlers still running, so a mutation
    finished in its worker thread would never be reported. The server therefore
    sees the end of input only once every request read before it has its reply.
    Not waited for: a request the client cancelled, and one the server leaves
    unanswered for ``QUIET_SECONDS`` while no tool call runs.
    """

    QUIET_SECONDS = 5.0

    def __init__(self) -> None:
        import anyio

        self.pending: set[Any] = set()
        self.running = 0
        self.changed = anyio.Event()

    def note(self) -> None:
        self.changed.set()

    async def drained(self) -> None:
        import anyio

        while self.pending:
            self.changed = anyio.Event()
            quiet = self.QUIET_SECONDS if self.running == 0 else None
            with anyio.move_on_after(quiet):
                await self.changed.wait()
                continue
            return  # nothing answered and nothing running for a while


def _relay(answered: _Answered, read_stream: Any, write_stream: Any) -> Any:
    """Wrap the stdio streams: track requests in, replies out; hold EOF back."""
    import contextlib

    import anyio
    import mcp.types as types

    @contextlib.asynccontextmanager
    async def streams() -> Any:
        to_server, server_in = anyio.create_memory_object_stream[Any](0)
        server_out, from_server = anyio.create_memory_object_stream[Any](0)

        async def pump_in() -> None:
            async with to_server:
                async for item in read_stream:
                    msg = getattr(item, "message", None)
                    if isinstance(msg, types.JSONRPCRequest):
                        answered.pending.add(msg.id)
                    elif (isinstance(msg, types.JSONRPCNotification)
                          and msg.method == "notifications/cancelled"):
                        answered.pending.discard((msg.params or {}).get("requestId"))
                        answered.note()
                    await to_server.send(item)
                await answered.drained()

        async def pump_out() -> None:
            async with from_server, write_stream:
                async for item in from_server:
                    await write_stream.send(item)
                    msg = getattr(item, "message", None)
                    if isinstance(msg, (types.JSONRPCResponse, types.JSONRPCError)):
                        answered.pending.discard(msg.id)
                        answered.note()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_in)
            tg.start_soon(pump_out)
            yield server_in, server_out

    return streams()


def serve(ctx: Context) -> int:
    import anyio
    from mcp.server.stdio import stdio_server

    answered = _Answered()
    server = build(ctx, answered)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream), \
                _relay(answered, read_stream, write_stream) as (server_in, server_out):
            await server.run(server_in, server_out, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        ctx.close()
    return 0
