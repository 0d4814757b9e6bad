"""Methods for the workspace: install, doctor, uninstall, and the method list."""

from __future__ import annotations

from typing import Any

from orch_core.api.registry import method, s_bool, s_str
from orch_core.state.context import Context


@method("workspace.init", "Install the orch hooks in this repository and create its state "
        "store. Idempotent; keeps and chains hooks that were already there.",
        params={"force": s_bool("Rewrite shims even if they look current."),
                "shared_hooks": s_bool("Allow a hooks dir shared by other repositories "
                                       "(a global or system core.hooksPath)."),
                "remote": s_str("Remote mode: share the lock table, queue and notes "
                                "through this git remote ([remote] name in .orch.toml).")},
        errors=("shared_hooks", "hook_conflict", "no_remote", "remote_unreachable",
                "remote_read_only"),
        mutates=True)
def workspace_init(ctx: Context, force: bool = False, shared_hooks: bool = False,
                   remote: str | None = None) -> dict[str, Any]:
    from orch_core.hooks import installer
    from orch_core.remote import mode

    remote_info: dict[str, Any] = {}
    if remote is not None:
        from orch_core.remote import probe

        probe.need_write_access(ctx, remote)
        remote_info["remote_policy_written"] = mode.write_policy(ctx, remote)
    out = installer.install(ctx, force=force, shared_hooks=shared_hooks)
    if remote is not None:
        mode.record(ctx, remote, None)
    name = mode.remote_name(ctx)
    if name is not None:
        from orch_core.errors import OrchError
        from orch_core.locks import remotesync
        from orch_core.work import stamp  # noqa: F401  (a reconcile refreshes payloads)

        remote_info["remote"] = name
        try:
            remote_info["remote_status"] = remotesync.adopt(ctx)
        except OrchError as e:
            remote_info["warnings"] = [f"remote {name}: {e.message} ({e.hint})"]
    return {**out, **remote_info}


@method("workspace.doctor", "Check the hooks, caches, stale git lock files, checkpoint "
        "notes, the database and leases; fix=true repairs what is safe to repair. "
        "'healthy' false lists what is wrong in 'findings'.",
        params={"fix": s_bool("Repair what is safe to repair.")}, mutates=True)
def workspace_doctor(ctx: Context, fix: bool = False) -> dict[str, Any]:
    from orch_core.hooks import doctor

    return doctor.doctor(ctx, fix=fix)


@method("workspace.uninstall", "Remove the orch hooks and put back the hooks that were "
        "there before them. Lists what stays (refs, notes, state, the landing worktree); "
        "purge=true removes those too, first saving unsaved work to a bundle or rescue ref.",
        params={"purge": s_bool("Also remove refs/orch/*, the notes and the orch state, "
                                "after saving anything unsaved.")},
        mutates=True)
def workspace_uninstall(ctx: Context, purge: bool = False) -> dict[str, Any]:
    from orch_core.hooks import installer

    return installer.uninstall(ctx, purge=purge)
