"""The one method registry behind the CLI, the JSON-lines server and the MCP server.

A method has a dotted name, a JSON Schema for its parameters, a summary written
for an agent, and the error codes it may return. Front ends only translate.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orch_core.errors import NotFound, UsageError
from orch_core.state.context import Context

Handler = Callable[..., Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}

# Modules that register methods; imported on first use so that importing this
# module stays cheap.
METHOD_MODULES = (
    "orch_core.api.methods.workspace",
    "orch_core.api.methods.agents",
    "orch_core.api.methods.work",
    "orch_core.api.methods.merge",
)


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


def _type_ok(value: Any, spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    for k in kinds:
        if k == "null" and value is None:
            return True
        py = _TYPES.get(k)
        if py is None:
            continue
        if isinstance(value, bool) and k in ("integer", "number"):
            continue
        if isinstance(value, list) and k == "array":
            items = spec.get("items")
            return items is None or all(_type_ok(v, items) for v in value)
        if isinstance(value, py):
            return True
    return False


def validate(m: Method, params: Any) -> dict[str, Any]:
    """Check params against the schema; a UsageError carries the schema."""
    def bad(msg: str) -> UsageError:
        return UsageError(f"{m.name}: {msg}", code="invalid_params",
                          hint="see details.schema for the expected parameters",
                          details={"schema": m.schema})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise bad("params must be an object")
    for key in m.required:
        if key not in params or params[key] is None:
            raise bad(f"missing required parameter {key!r}")
    for key, value in params.items():
        spec = m.params.get(key)
        if spec is None:
            raise bad(f"unknown parameter {key!r}")
        if value is None and key not in m.required:
            continue
        if not _type_ok(value, spec):
            want = str(spec.get("type"))
            items = spec.get("items")
            if want == "array" and isinstance(items, dict) and "type" in items:
                want = f"an array of {items['type']}"
            raise bad(f"parameter {key!r} must be {want}, got {json.dumps(value)[:60]}")
        enum = spec.get("enum")
        if isinstance(enum, list) and value not in enum:
            raise bad(f"parameter {key!r} must be one of {enum}, got {value!r}")
        if spec.get("minLength") and isinstance(value, str) and len(value) < spec["minLength"]:
            raise bad(f"parameter {key!r} must not be empty")
    return {k: v for k, v in params.items() if v is not None}


def get(name: str) -> Method:
    methods = load()
    if name not in methods:
        raise NotFound(f"unknown method {name!r}", code="unknown_method",
                       hint="call rpc.describe for the list of methods")
    return methods[name]


def call(ctx: Context, name: str, params: Any = None) -> Any:
    m = get(name)
    clean = validate(m, params)
    return m.handler(ctx, **clean)


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
