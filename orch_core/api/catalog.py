"""Which module registers each method family, loading them on first use, and rpc.describe.

Method modules register themselves with the decorator of api/registry.py; this
module imports them (by name, only the family a call needs) and is what the
dispatcher looks methods up in.
"""

from __future__ import annotations

import importlib

from orch_core.api.registry import REGISTRY, Method, method
from orch_core.errors import NotFound

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from orch_core.state.context import Context

# The module that registers each method family (the part of a method name before its
# first dot). A call imports only its family's module, so `lock check` does not pay
# for the merge queue; a test checks that every method lives where this table says.
FAMILIES: dict[str, str] = {
    "workspace": "orch_core.api.methods.workspace",
    "rpc": "orch_core.api.catalog",
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
    "mail": "orch_core.api.methods.team",
    "events": "orch_core.api.methods.team",
    "team": "orch_core.api.methods.team",
    "status": "orch_core.api.methods.team",
    "remote": "orch_core.api.methods.remote",
    "server": "orch_core.api.methods.remote",
}
METHOD_MODULES = tuple(dict.fromkeys(FAMILIES.values()))
_loaded = False


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


@method("rpc.describe", "List every method with its parameter schema and errors.")
def rpc_describe(ctx: Context) -> dict[str, Any]:
    methods = load()
    return {"methods": [m.describe() for m in sorted(methods.values(), key=lambda m: m.name)]}
