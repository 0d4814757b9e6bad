"""Methods for the workspace: install, doctor, uninstall, and the method list."""

from __future__ import annotations

from typing import Any

from orch_core.api.registry import method, s_bool
from orch_core.state.context import Context


@method("workspace.init", "Install the orch hooks in this repository and create its state "
        "store. Idempotent; keeps and chains hooks that were already there.",
        params={"force": s_bool("Rewrite shims even if they look current.")},
        mutates=True)
def workspace_init(ctx: Context, force: bool = False) -> dict[str, Any]:
    from orch_core.hooks import installer

    return installer.install(ctx, force=force)


@method("workspace.doctor", "Check the hooks, caches, stale git lock files, checkpoint "
        "notes, the database and leases; fix=true repairs what is safe to repair. "
        "'healthy' false lists what is wrong in 'findings'.",
        params={"fix": s_bool("Repair what is safe to repair.")}, mutates=True)
def workspace_doctor(ctx: Context, fix: bool = False) -> dict[str, Any]:
    from orch_core.hooks import installer

    return installer.doctor(ctx, fix=fix)


@method("workspace.uninstall", "Remove the orch hooks and put back the hooks that were "
        "there before them. The state store is kept.", mutates=True)
def workspace_uninstall(ctx: Context) -> dict[str, Any]:
    from orch_core.hooks import installer

    return installer.uninstall(ctx)
