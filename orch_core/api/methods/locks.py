"""Methods for sessions and locks."""

from __future__ import annotations

from pathlib import Path

from orch_core.api.methods.common import SESSION, as_session, need_session
from orch_core.api.registry import method, s_bool, s_int, s_str, s_strs
from orch_core.errors import OrchError
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import sessions

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, cast

    from orch_core.api.results import (
        LockAcquired,
        LockCheck,
        LockListing,
        LockReleased,
        LockRenewed,
        SessionClosed,
        SessionJson,
        SessionListing,
        SessionOpened,
    )
else:
    def cast(_type: object, value: object) -> object:
        """``typing.cast`` at run time: the value itself."""
        return value

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
            "fingerprint": s_str("An opaque id of the agent's terminal or process, kept in "
                                 "the journal with the opening (proves nothing)."),
        }, errors=("bad_param",), mutates=True)
def session_open(ctx: Context, owner: str | None = None, intent: str = "new_work",
                 ttl: int | None = None, bind: bool | None = None,
                 worktree: bool = False, fingerprint: str | None = None) -> SessionOpened:
    from orch_core.work import stamp

    extra: dict[str, Any] = {}
    if worktree:
        from orch_core.api.methods import agents

        return cast("SessionOpened", agents.worktree_create(
            ctx, owner=owner, intent=intent, ttl=ttl))
    from orch_core.work import identity

    sess, bound = sessions.open_session(ctx, owner, intent, ttl, bind, fingerprint=fingerprint)
    identity.OPENED_HERE.add(sess.id)
    stamp.refresh(ctx, sess.id)
    if intent == "resume_work":
        from orch_core.work import resume

        extra["candidates"] = resume.candidates(ctx)
    out = sess.to_json(ctx.now())
    out.update({"session_id": sess.id, "bound": bound,
                "export": f"export ORCH_SESSION={sess.id}"})
    out.update(extra)
    return cast("SessionOpened", out)


@method("session.list", "List the sessions of this clone with liveness.",
        params={"all": s_bool("Include closed sessions.")})
def session_list(ctx: Context, all: bool = False) -> SessionListing:
    now = ctx.now()
    rows = [s.to_json(now) for s in sessions.all_sessions(ctx) if all or s.status == "open"]
    current, _ = sessions.resolve_id(ctx)
    return cast("SessionListing", {"sessions": rows, "current": current})


@method("session.heartbeat", "Keep the session alive (push its heartbeat forward).",
        params={"session": SESSION}, errors=("no_session", "unknown_session"), mutates=True)
def session_heartbeat(ctx: Context, session: str | None = None) -> SessionJson:
    sess = sessions.heartbeat(ctx, need_session(ctx, session))
    return cast("SessionJson", sess.to_json(ctx.now()))


@method("session.close", "Close the session: release all its locks and unbind its worktree.",
        params={"session": SESSION}, errors=("no_session", "unknown_session"), mutates=True)
def session_close(ctx: Context, session: str | None = None) -> SessionClosed:
    from orch_core.work import journal, stamp

    sess = need_session(ctx, session)
    released = locks.release_where(ctx, sess.id, f"session {sess.id} closed",
                                   lambda lk: lk.session == sess.id)
    closed = sessions.close(ctx, sess)
    stamp.refresh(ctx, sess.id)
    warnings: list[str] = []
    try:
        journal.sync(ctx)
    except OrchError as e:
        # The session is closed already: report the journal, do not fail the close.
        warnings.append(f"work journal not synced: {e.message} ({e.hint})")
    out = closed.to_json(ctx.now())
    out["released"] = released.get("released", [])
    if warnings:
        out["warnings"] = warnings
    return cast("SessionClosed", out)


@method("lock.acquire", "Take locks before editing. A path ending in '/' locks everything "
        "under it. All paths or none; a conflict names the holder, its task and expiry.",
        params={
            "paths": s_strs("Repo-relative paths; 'src/api/' is a prefix lock."),
            "shared": s_bool("Shared (read) lock: compatible with other shared locks."),
            "ttl": s_int("Lease length in seconds (renew with lock.heartbeat).", minimum=1),
            "task": s_str("Task or case id this lock is for."),
            "release_on_land": s_bool("Release when the session's branch lands on main."),
            "offline": s_bool("Remote mode only: take the lease in this clone when the "
                              "remote is unreachable, marked offline (reconciled later)."),
            "session": SESSION,
        }, required=("paths",),
        errors=("lock_conflict", "bad_path", "no_session", "remote_unreachable",
                "remote_refused"),
        mutates=True)
def lock_acquire(ctx: Context, paths: list[str], shared: bool = False, ttl: int | None = None,
                 task: str | None = None, release_on_land: bool = False,
                 offline: bool = False, session: str | None = None) -> LockAcquired:
    _stamps()
    sess = need_session(ctx, session)
    if sess.dead(ctx.now()):
        # Its locks would count for nothing (they are freed with the session).
        sessions.raise_dead(sess)
    return cast("LockAcquired", locks.acquire(ctx, sess, paths,
                                            shared=shared, ttl=ttl, task=task,
                                            release_on_land=release_on_land,
                                            offline=offline))


@method("lock.release", "Release locks by path or lock id. Only the holder may release, "
        "unless force=true (recorded in the audit log).",
        params={"targets": s_strs("Paths or lock ids (L-...)."),
                "force": s_bool("Release locks held by other sessions."),
                "session": SESSION},
        required=("targets",), errors=("not_holder", "unknown_lock"), mutates=True)
def lock_release(ctx: Context, targets: list[str], force: bool = False,
                 session: str | None = None) -> LockReleased:
    _stamps()
    sess = as_session(ctx, session, required=not force, force=force)
    return cast("LockReleased", locks.release(ctx, sess, targets, force=force))


@method("lock.heartbeat", "Renew every lease the session holds (and its session heartbeat).",
        params={"session": SESSION}, errors=("no_session",), mutates=True)
def lock_heartbeat(ctx: Context, session: str | None = None) -> LockRenewed:
    _stamps()
    sess = need_session(ctx, session)
    sessions.heartbeat(ctx, sess)
    return cast("LockRenewed", locks.heartbeat(ctx, sess))


@method("lock.list", "List live locks (all=true adds expired leases not yet reaped).",
        params={"all": s_bool("Include expired leases.")})
def lock_list(ctx: Context, all: bool = False) -> LockListing:
    return cast("LockListing", locks.listing(ctx, include_expired=all))


@method("lock.check", "Would changing these paths be refused? ok=false lists the holders.",
        params={"paths": s_strs("Repo-relative paths to check."), "session": SESSION},
        required=("paths",), errors=("bad_path",))
def lock_check(ctx: Context, paths: list[str], session: str | None = None) -> LockCheck:
    sess = as_session(ctx, session, required=False)
    return cast("LockCheck", locks.check(ctx, sess.id if sess else _implicit(ctx), paths))


def _stamps() -> None:
    """Load work/stamp.py before a lock write: importing it registers the refresh of
    the checkpoint payload of every session a write touches (locks/storage.py
    SESSION_CHANGED). Here rather than at the top: `lock check` writes nothing."""
    from orch_core.work import stamp  # noqa: F401


def _implicit(ctx: Context) -> str:
    return "implicit:" + str(Path(ctx.repo.toplevel))


