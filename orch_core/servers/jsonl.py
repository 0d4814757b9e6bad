"""`orch-hooks serve`: the method registry over JSON lines on stdin/stdout.

One request per line, ``{"id": ..., "method": ..., "params": {...}}``; exactly
one response per line, ``{"id": ..., "result": ...}`` or ``{"id": ...,
"error": {"code", "message", "hint", "retryable", "details"}}``. Errors carry
the method's schema (or the request schema, or the list of methods) so an
agent can correct the call. stdout carries responses only: fd 1 is pointed at
stderr while serving, so a stray print or a child process cannot corrupt the
stream, and fd 0 at /dev/null so children cannot eat requests.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from orch_core.api import dispatch
from orch_core.api import dispatch as api
from orch_core.errors import OrchError
from orch_core.state.context import Context

REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer", "number", "null"],
               "description": "Echoed in the response."},
        "method": {"type": "string", "description": "A method name; see rpc.describe."},
        "params": {"type": "object", "description": "The method's parameters."},
    },
    "required": ["method"],
    "additionalProperties": False,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _error(rid: Any, code: str, message: str, hint: str,
           details: dict[str, Any] | None = None, retryable: bool = False) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message, "hint": hint,
                           "retryable": retryable}
    if details:
        err["details"] = details
    return {"id": rid, "error": err}


def _bad_request(rid: Any, message: str, code: str = "invalid_request") -> dict[str, Any]:
    return _error(rid, code, message,
                  'send one JSON object per line: {"id": 1, "method": "rpc.describe", '
                  '"params": {}}', {"request_schema": REQUEST_SCHEMA})


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float)
                             and not isinstance(value, bool))


def reopen_if_replaced(ctx: Context) -> None:
    """A long-running server notices that state.db was replaced under it (`rebuild
    --force` moves the old file aside) and opens the new one, so it never writes to
    the file set aside. One stat per request."""
    try:
        if ctx.store.replaced():
            ctx.close()
            ctx.cache.clear()  # tables and indexes remembered from the old database
    except OrchError:
        pass  # a damaged database: the request itself reports it


def handle_line(ctx: Context, raw: bytes | str) -> dict[str, Any]:
    """Answer one request line; never raises for anything the client sends."""
    reopen_if_replaced(ctx)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        req = json.loads(text, parse_constant=_reject_constant)
        # Lone surrogates ("\ud800") parse but cannot be stored or printed.
        json.dumps(req, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError) as e:
        return _bad_request(None, f"not a JSON request: {e}", code="parse_error")
    except RecursionError:
        return _bad_request(None, "request nested too deeply", code="parse_error")
    if not isinstance(req, dict):
        return _bad_request(None, f"a request must be a JSON object, got {type(req).__name__}")
    rid = req.get("id")
    if not _valid_id(rid):
        return _bad_request(None, "id must be a string, a number or null")
    extra = sorted(set(req) - {"id", "method", "params", "jsonrpc"})
    if extra:
        return _bad_request(rid, f"unknown request field(s): {', '.join(extra)}")
    name = req.get("method")
    if not isinstance(name, str) or not name:
        return _bad_request(rid, "missing or non-string 'method'")
    methods = api.load()
    m = methods.get(name)
    if m is None:
        return _error(rid, "unknown_method", f"unknown method {name!r}",
                      "call rpc.describe for every method and its schema",
                      {"methods": sorted(methods)})
    ok, payload = dispatch.answer(ctx, m, req.get("params"), "serve")
    return {"id": rid, "result" if ok else "error": payload}


def encode(resp: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(resp, default=str, allow_nan=False, separators=(",", ":"))
    except ValueError as e:
        text = json.dumps(_error(resp.get("id"), "internal", f"unencodable result: {e}",
                                 "this is a bug"))
    return text.encode("ascii") + b"\n"


def run(ctx: Context, lines: Iterable[bytes], out: IO[bytes]) -> int:
    for raw in lines:
        out.write(encode(handle_line(ctx, raw.rstrip(b"\r\n"))))
        out.flush()
    return 0


def serve(ctx: Context) -> int:
    """Serve the process's stdin/stdout until end of input; exit code 0."""
    sys.stdout.flush()
    wire_out = os.fdopen(os.dup(1), "wb")
    wire_in = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    try:
        return run(ctx, wire_in, wire_out)
    except BrokenPipeError:
        return 0
    finally:
        ctx.close()
