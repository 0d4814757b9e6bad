"""Methods for remote mode: fetch, status, doctor; and the server-side hook."""

from __future__ import annotations

from typing import Any

from orch_core.api.registry import method, s_bool, s_str
from orch_core.state.context import Context


@method("remote.fetch", "Remote mode: fetch the remote's lock table and queue (and "
        "reconcile this clone's offline leases). The commit hook checks against what "
        "was fetched last.",
        errors=("remote_unreachable", "no_remote", "not_remote_mode"), mutates=True)
def remote_fetch(ctx: Context) -> dict[str, Any]:
    from orch_core.remote import mode

    mode.need_mode(ctx)
    _stamps()
    from orch_core.locks import remotesync

    return remotesync.adopt(ctx)


@method("remote.status", "Remote mode: which remote, when its orch refs were last "
        "fetched, their tips there and here, offline leases, and the capabilities the "
        "last `remote doctor` found. Reads no network.")
def remote_status(ctx: Context) -> dict[str, Any]:
    from orch_core.locks import remotesync

    return remotesync.status(ctx)


@method("remote.doctor", "Probe the remote (under 5 s): reachable, atomic push, push "
        "options, write access to refs/orch/*, whether the orch server hook is installed, "
        "and which guarantees hold there.",
        params={"remote": s_str("The remote to probe (default: the one of remote mode).")},
        errors=("remote_unreachable", "no_remote"))
def remote_doctor(ctx: Context, remote: str | None = None) -> dict[str, Any]:
    from orch_core.remote import probe

    return probe.doctor(ctx, remote)


@method("server.install", "Install the orch server hook (pre-receive, post-receive) into "
        "a bare repository: the same lock rule and gate as the clients, applied to every "
        "push.",
        params={"path": s_str("The bare repository, e.g. /srv/git/team.git."),
                "force": s_bool("Rewrite the hooks even if they look current.")},
        required=("path",), errors=("not_bare", "hook_conflict"), mutates=True)
def server_install(ctx: Context, path: str, force: bool = False) -> dict[str, Any]:
    from orch_core.hooks import serverinstall

    return serverinstall.install(ctx.cwd, path, force=force)


@method("server.uninstall", "Remove the orch server hook from a bare repository (and put "
        "back the hooks that were there before).",
        params={"path": s_str("The bare repository.")}, required=("path",),
        errors=("not_bare",), mutates=True)
def server_uninstall(ctx: Context, path: str) -> dict[str, Any]:
    from orch_core.hooks import serverinstall

    return serverinstall.uninstall(ctx.cwd, path)


def _stamps() -> None:
    from orch_core.work import stamp  # noqa: F401  (registers the payload refresh)


@method("server.repair", "Point every orch ref of a bare repository that holds a tag or "
        "another non-commit object at the commit it points to (the server hook refuses "
        "such pushes; this mends one left from before).",
        params={"path": s_str("The bare repository.")}, required=("path",),
        errors=("not_bare",), mutates=True)
def server_repair(ctx: Context, path: str) -> dict[str, Any]:
    from orch_core.hooks import serverinstall

    return serverinstall.repair(ctx.cwd, path)
