"""The one method registry behind the CLI, the JSON-lines server and the MCP server.

A method has a dotted name, a JSON Schema for its parameters, a summary written
for an agent, and the error codes it may return. Front ends only translate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orch_core.errors import NotFound

if TYPE_CHECKING:
    from orch_core.state.context import Context

Handler = Callable[..., Any]

# The module that registers each method family (the part of a method name before its
# first dot). A call imports only its family's module, so `lock check` does not pay
# for the merge queue; a test checks that every method lives where this table says.
FAMILIES: dict[str, str] = {
    "workspace": "orch_core.api.methods.workspace",
    "rpc": "orch_core.api.methods.workspace",
    "session": "orch_core.api.methods.locks",
    "lock": "orch_core.api.methods.locks",
    "task": "orch_core.api.methods.work",
    "plan": "orch_core.api.methods.work",
    "case": "orch_core.api.methods.work",
    "step": "orch_core.api.methods.work",
    "resume": "orch_core.api.methods.work",
    "work": "orch_core.api.methods.work",
    "mirror": "orch_core.api.methods.work",
    "journal": "orch_core.api.methods.work",
    "merge": "orch_core.api.methods.merge",
    "worktree": "orch_core.api.methods.agents",
    "scheduler": "orch_core.api.methods.agents",
}
METHOD_MODULES = tuple(dict.fromkeys(FAMILIES.values()))


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    params: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    handler: Handler
    errors: tuple[str, ...] = ()
    mutates: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": self.params,
            "required": list(self.required),
            "additionalProperties": False,
        }

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "params": self.schema,
                "errors": list(self.errors), "mutates": self.mutates}


REGISTRY: dict[str, Method] = {}
_loaded = False


def method(name: str, summary: str, *, params: dict[str, dict[str, Any]] | None = None,
           required: tuple[str, ...] = (), errors: tuple[str, ...] = (),
           mutates: bool = False) -> Callable[[Handler], Handler]:
    """Register ``fn(ctx, **params)`` under ``name``."""
    def deco(fn: Handler) -> Handler:
        if name in REGISTRY:
            raise RuntimeError(f"method {name} registered twice")
        REGISTRY[name] = Method(name, summary, params or {}, required, fn,
                                (*errors, "usage", "not_a_repo"), mutates)
        return fn
    return deco


def load() -> dict[str, Method]:
    global _loaded
    if not _loaded:
        for mod in METHOD_MODULES:
            importlib.import_module(mod)
        _loaded = True
    return REGISTRY


def get(name: str) -> Method:
    """The method called ``name``, importing only the module of its family."""
    if name not in REGISTRY:
        module = FAMILIES.get(name.partition(".")[0])
        if module is not None:
            importlib.import_module(module)
    if name not in REGISTRY:
        raise NotFound(f"unknown method {name!r}", code="unknown_method",
                       hint="call rpc.describe for the list of methods",
                       details={"methods": sorted(load())})
    return REGISTRY[name]


def call(ctx: Context, name: str, params: Any = None) -> Any:
    """Look up, check and call ``name``: the dispatcher's ``call`` (see api/dispatch.py)."""
    from orch_core.api import dispatch

    return dispatch.call(ctx, name, params)


# Small schema helpers for method modules.
def s_str(desc: str, **kw: Any) -> dict[str, Any]:
    return {"type": "string", "description": desc, **kw}


def s_int(desc: str, **kw: Any) -> dict[str, Any]:
    return {"type": "integer", "description": desc, **kw}


def s_num(desc: str, **kw: Any) -> dict[str, Any]:
    return {"type": "number", "description": desc, **kw}


def s_bool(desc: str) -> dict[str, Any]:
    return {"type": "boolean", "description": desc}


def s_strs(desc: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": desc}
