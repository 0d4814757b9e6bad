"""Methods for the workspace, sessions and locks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orch_core.api.registry import REGISTRY, method, s_bool, s_int, s_str, s_strs
from orch_core.errors import OrchError, UsageError
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import sessions

SESSION = s_str("Session id to act as; default: ORCH_SESSION or the worktree's session.")


def as_session(ctx: Context, session: str | None, required: bool = True,
               ) -> sessions.Session | None:
    """The acting session: the explicit parameter wins over the context."""
    if session is not None:
        if not session.strip():
            raise UsageError("empty session id", code="invalid_params")
        ctx = dataclasses.replace(ctx, session_override=session)
    return sessions.current(ctx, required=required)


def need_session(ctx: Context, session: str | None) -> sessions.Session:
    sess = as_session(ctx, session, required=True)
    assert sess is not None
    return sess


@method("workspace.init", "Install the orch hooks in this repository and create its state "
        "store. Idempotent; keeps and chains hooks that were already there.",
        params={"force": s_bool("Rewrite shims even if they look current."),
                "shared_hooks": s_bool("Allow a hooks dir shared by other repositories "
                                       "(a global or system core.hooksPath).")},
        errors=("shared_hooks", "hook_conflict"), mutates=True)
def workspace_init(ctx: Context, force: bool = False,
                   shared_hooks: bool = False) -> dict[str, Any]:
    from orch_core.hooks import installer

    return installer.install(ctx, force=force, shared_hooks=shared_hooks)


@method("session.open", "Open a session (an agent or a human identity) and bind it to the "
        "current worktree if that worktree has no live session. Returns session_id; pass it "
        "as ORCH_SESSION or the 'session' parameter afterwards.",
        params={
            "owner": s_str("Who this is, e.g. 'codex-1' or 'alice'; default: git user.name."),
            "intent": s_str("new_work or resume_work", enum=list(sessions.INTENTS)),
            "ttl": s_int("Seconds the session stays alive without a heartbeat.", minimum=1),
            "bind": s_bool("Bind to the current worktree (default: when it has no live "
                           "session)."),
            "worktree": s_bool("Create a session-root worktree on a new branch for it."),
        }, errors=("bad_param",), mutates=True)
def session_open(ctx: Context, owner: str | None = None, intent: str = "new_work",
                 ttl: int | None = None, bind: bool | None = None,
                 worktree: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if worktree and "worktree.create" in REGISTRY:
        return dict(REGISTRY["worktree.create"].handler(ctx, owner=owner, intent=intent,
                                                        ttl=ttl))
    sess, bound = sessions.open_session(ctx, owner, intent, ttl, bind)
    if intent == "resume_work" and "resume.candidates.list" in REGISTRY:
        extra["candidates"] = REGISTRY["resume.candidates.list"].handler(ctx)
    out = sess.to_json(ctx.now())
    out.update({"session_id": sess.id, "bound": bound,
                "export": f"export ORCH_SESSION={sess.id}"})
    out.update(extra)
    return out


@method("session.list", "List the sessions of this clone with liveness.",
        params={"all": s_bool("Include closed sessions.")})
def session_list(ctx: Context, all: bool = False) -> dict[str, Any]:
    now = ctx.now()
    rows = [s.to_json(now) for s in sessions.all_sessions(ctx) if all or s.status == "open"]
    current, _ = sessions.resolve_id(ctx)
    return {"sessions": rows, "current": current}


@method("session.heartbeat", "Keep the session alive (push its heartbeat forward).",
        params={"session": SESSION}, errors=("no_session", "unknown_session"), mutates=True)
def session_heartbeat(ctx: Context, session: str | None = None) -> dict[str, Any]:
    sess = sessions.heartbeat(ctx, need_session(ctx, session))
    return sess.to_json(ctx.now())


@method("session.close", "Close the session: release all its locks and unbind its worktree.",
        params={"session": SESSION}, errors=("no_session", "unknown_session"), mutates=True)
def session_close(ctx: Context, session: str | None = None) -> dict[str, Any]:
    sess = need_session(ctx, session)
    released = locks.release_where(ctx, sess.id, f"session {sess.id} closed",
                                   lambda lk: lk.session == sess.id)
    closed = sessions.close(ctx, sess)
    warnings: list[str] = []
    if "journal.sync" in REGISTRY:
        try:
            REGISTRY["journal.sync"].handler(ctx)
        except OrchError as e:
            # The session is closed already: report the journal, do not fail the close.
            warnings.append(f"work journal not synced: {e.message} ({e.hint})")
    out = closed.to_json(ctx.now())
    out["released"] = released.get("released", [])
    if warnings:
        out["warnings"] = warnings
    return out


@method("lock.acquire", "Take locks before editing. A path ending in '/' locks everything "
        "under it. All paths or none; a conflict names the holder, its task and expiry.",
        params={
            "paths": s_strs("Repo-relative paths; 'src/api/' is a prefix lock."),
            "shared": s_bool("Shared (read) lock: compatible with other shared locks."),
            "ttl": s_int("Lease length in seconds (renew with lock.heartbeat).", minimum=1),
            "task": s_str("Task or case id this lock is for."),
            "release_on_land": s_bool("Release when the session's branch lands on main."),
            "session": SESSION,
        }, required=("paths",), errors=("lock_conflict", "bad_path", "no_session"),
        mutates=True)
def lock_acquire(ctx: Context, paths: list[str], shared: bool = False, ttl: int | None = None,
                 task: str | None = None, release_on_land: bool = False,
                 session: str | None = None) -> dict[str, Any]:
    if ttl is not None and ttl <= 0:
        raise UsageError("ttl must be a positive number of seconds", code="bad_param")
    return locks.acquire(ctx, need_session(ctx, session), paths, shared=shared, ttl=ttl,
                         task=task, release_on_land=release_on_land)


@method("lock.release", "Release locks by path or lock id. Only the holder may release, "
        "unless force=true (recorded in the audit log).",
        params={"targets": s_strs("Paths or lock ids (L-...)."),
                "force": s_bool("Release locks held by other sessions."),
                "session": SESSION},
        required=("targets",), errors=("not_holder", "unknown_lock"), mutates=True)
def lock_release(ctx: Context, targets: list[str], force: bool = False,
                 session: str | None = None) -> dict[str, Any]:
    sess = as_session(ctx, session, required=not force)
    return locks.release(ctx, sess, targets, force=force)


@method("lock.heartbeat", "Renew every lease the session holds (and its session heartbeat).",
        params={"session": SESSION}, errors=("no_session",), mutates=True)
def lock_heartbeat(ctx: Context, session: str | None = None) -> dict[str, Any]:
    sess = need_session(ctx, session)
    sessions.heartbeat(ctx, sess)
    return locks.heartbeat(ctx, sess)


@method("lock.list", "List live locks (all=true adds expired leases not yet reaped).",
        params={"all": s_bool("Include expired leases.")})
def lock_list(ctx: Context, all: bool = False) -> dict[str, Any]:
    return locks.listing(ctx, include_expired=all)


@method("lock.check", "Would changing these paths be refused? ok=false lists the holders.",
        params={"paths": s_strs("Repo-relative paths to check."), "session": SESSION},
        required=("paths",), errors=("bad_path",))
def lock_check(ctx: Context, paths: list[str], session: str | None = None) -> dict[str, Any]:
    sess = as_session(ctx, session, required=False)
    return locks.check(ctx, sess.id if sess else _implicit(ctx), paths)


def _implicit(ctx: Context) -> str:
    return "implicit:" + str(Path(ctx.repo.toplevel))


@method("rpc.describe", "List every method with its parameter schema and errors.")
def rpc_describe(ctx: Context) -> dict[str, Any]:
    return {"methods": [m.describe() for m in sorted(REGISTRY.values(), key=lambda m: m.name)]}
