"""The one method registry behind the CLI, the JSON-lines server and the MCP server.

A method has a dotted name, a JSON Schema for its parameters, a summary written
for an agent, and the error codes it may return. Front ends only translate.
"""

from __future__ import annotations

from collections.abc import Callable

from orch_core.records import Frozen

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    Handler: TypeAlias = Callable[..., Any]

# The seeds' parameter names, accepted as documented aliases (docs/ARCHITECTURE.md,
# "Parameter aliases"): alias -> (parameter, method-name prefixes it applies to,
# none = every method that has the parameter). The dispatcher resolves them, so the
# CLI-less JSON lines and MCP accept both; rpc.describe lists them per method.
ALIASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("session_id", "session", ()),
    ("owner_or_session", "owner", ()),
    ("terminal_fingerprint", "fingerprint", ()),
    ("task_id", "id", ("task.", "case.", "step.")),
    ("task_id", "task", ("lock.",)),
    ("case_id", "id", ("case.",)),
    ("case_id", "task", ("lock.",)),
    ("step_id", "id", ("step.",)),
    ("feature_id", "parent", ("task.create",)),
    ("feature_id", "id", ("task.get", "task.set_status")),
    ("parent_id", "parent", ("task.create",)),
    ("lock_id", "targets", ("lock.release",)),
    ("lock_ids", "targets", ("lock.release",)),
    ("target", "targets", ("lock.release",)),
    ("path", "paths", ("lock.", "scheduler.")),
    ("entry_id", "id", ("merge.",)),
    ("request_id", "id", ("merge.",)),
    ("source_branch", "branch", ("merge.request",)),
    ("source_worktrees", "child", ("worktree.merge_to_parent",)),
    ("source_worktree", "child", ("worktree.merge_to_parent",)),
    ("from_session_id", "from_session", ("resume.",)),
    ("blocker_id", "blocker", ("plan.dep.",)),
    ("blocked_id", "blocked", ("plan.dep.",)),
)


def aliases_for(name: str, params: dict[str, dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for alias, canon, prefixes in ALIASES:
        if canon in params and alias not in params and alias not in out \
                and (not prefixes or name.startswith(prefixes)):
            out[alias] = canon
    return out


class Method(Frozen):
    """One registered method (a frozen record: orch_core/records.py)."""

    FIELDS = ("name", "summary", "params", "required", "handler", "errors", "mutates",
              "extra", "aliases")
    name: str
    summary: str
    params: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    handler: Handler
    errors: tuple[str, ...]
    mutates: bool
    extra: dict[str, Any]
    aliases: dict[str, str]

    def __init__(self, name: str, summary: str, params: dict[str, dict[str, Any]],
                 required: tuple[str, ...], handler: Handler, errors: tuple[str, ...] = (),
                 mutates: bool = False, extra: dict[str, Any] | None = None,
                 aliases: dict[str, str] | None = None) -> None:
        self._set(name=name, summary=summary, params=params, required=required,
                  handler=handler, errors=errors, mutates=mutates,
                  extra={} if extra is None else extra,
                  aliases={} if aliases is None else aliases)

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
                "aliases": dict(self.aliases), "errors": list(self.errors),
                "mutates": self.mutates}


REGISTRY: dict[str, Method] = {}


def method(name: str, summary: str, *, params: dict[str, dict[str, Any]] | None = None,
           required: tuple[str, ...] = (), errors: tuple[str, ...] = (),
           mutates: bool = False) -> Callable[[Handler], Handler]:
    """Register ``fn(ctx, **params)`` under ``name``."""
    def deco(fn: Handler) -> Handler:
        if name in REGISTRY:
            raise RuntimeError(f"method {name} registered twice")
        schema = dict(params or {})
        handler = fn
        if "session" in schema and mutates:
            # Every method that acts as a session can act for one of another owner,
            # deliberately and journaled (work/identity.py).
            schema[ACT_FOR] = s_bool("Act for a session of another owner (named by "
                                     "'session' or ORCH_SESSION); journaled with both "
                                     "names.")
            handler = _acting_for(fn)
        REGISTRY[name] = Method(name, summary, schema, required, handler,
                                (*errors, "usage", "not_a_repo", "not_your_session"),
                                mutates, aliases=aliases_for(name, params or {}))
        return fn
    return deco


ACT_FOR = "act_for"
MUTATING = "mutating_call"


def _acting_for(fn: Handler) -> Handler:
    """``fn`` with the ``act_for`` parameter taken off and put in the call's context."""
    import functools

    @functools.wraps(fn)
    def call(ctx: Any, *args: Any, act_for: bool = False, **kw: Any) -> Any:
        saved = {k: ctx.cache.get(k) for k in (ACT_FOR, MUTATING)}
        ctx.cache[MUTATING] = True  # reads may name any session; a change is checked
        if act_for:
            ctx.cache[ACT_FOR] = True
        try:
            return fn(ctx, *args, **kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    ctx.cache.pop(k, None)
                else:
                    ctx.cache[k] = v
    return call


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
