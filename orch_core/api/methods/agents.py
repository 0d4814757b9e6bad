"""Methods for worktrees and the worktree-or-lock scheduler."""

from __future__ import annotations

from typing import Any

from orch_core.api.methods.common import SESSION, as_session
from orch_core.api.registry import method, s_bool, s_int, s_num, s_str, s_strs
from orch_core.errors import OrchError
from orch_core.state.context import Context
from orch_core.work import identity, scheduler, sessions, stamp, worktrees
from orch_core.work import rescue as worktree_rescue


@method("worktree.create", "Get an isolated worktree on a new branch. Without 'parent': open a "
        "new session with its own session-root worktree (same as session.open with "
        "worktree=true); returns session_id, path and 'enter' (the shell command to go "
        "there). With 'parent' (a session id, path or branch of a session root): a child "
        "worktree for a sub-task, branched from that root; merge it back with "
        "worktree.merge_to_parent. intent=resume_work returns resume candidates instead of "
        "a fresh worktree when there are any.",
        params={
            "owner": s_str("Who the new session is, e.g. 'codex-1'; default: git user.name."),
            "intent": s_str("new_work or resume_work", enum=list(sessions.INTENTS)),
            "ttl": s_int("Seconds the session stays alive without a heartbeat.", minimum=1),
            "base": s_str("Start the new branch here (default: the base branch, main)."),
            "parent": s_str("Session root (session id, path or branch) to branch a child "
                            "worktree from."),
            "name": s_str("Short name for a child worktree, e.g. 'parser-tests'."),
        },
        errors=("bad_param", "bad_config", "unknown_worktree", "session_closed", "git_failed"),
        mutates=True)
def worktree_create(ctx: Context, owner: str | None = None, intent: str = "new_work",
                    ttl: int | None = None, base: str | None = None, parent: str | None = None,
                    name: str | None = None) -> dict[str, Any]:
    if parent is not None:
        return worktrees.create_child(ctx, parent, name)
    if intent == "resume_work":
        found = _candidates(ctx)
        if found:
            sess, bound = sessions.open_session(ctx, owner, intent, ttl, False)
            identity.OPENED_HERE.add(sess.id)
            stamp.refresh(ctx, sess.id)
            out = sess.to_json(ctx.now())
            out.update({"session_id": sess.id, "bound": bound, "candidates": found,
                        "export": f"export ORCH_SESSION={sess.id}",
                        "next": "pick a candidate and call resume.candidates.attach; "
                                "its worktree and locks become yours"})
            return out
    out = worktrees.create_session_root(ctx, owner, intent, ttl, base)
    identity.OPENED_HERE.add(str(out["session_id"]))
    if intent == "resume_work":
        out["candidates"] = []
    return out


def _candidates(ctx: Context) -> list[Any]:
    try:
        from orch_core.work import resume

        res = resume.candidates(ctx)
    except OrchError:
        return []
    if isinstance(res, dict):
        res = res.get("candidates", [])
    return list(res) if isinstance(res, list) else []


@method("worktree.list", "List every git worktree of the repository with its kind "
        "(main, session-root, child, other), branch, session and whether that session is "
        "alive, dead or closed.")
def worktree_list(ctx: Context) -> dict[str, Any]:
    return worktrees.listing(ctx)


@method("worktree.merge_to_parent", "Merge a child worktree's branch into its session-root "
        "branch (never into main). On conflict nothing changes and 'conflicts' lists the "
        "paths; merged=false.",
        params={"child": s_str("Child worktree path or branch; default: the current "
                               "worktree."),
                "session": SESSION},
        errors=("unknown_worktree", "dirty_parent", "protected", "git_failed"), mutates=True)
def worktree_merge_to_parent(ctx: Context, child: str | None = None,
                             session: str | None = None) -> dict[str, Any]:
    as_session(ctx, session, required=False)
    return worktrees.merge_to_parent(ctx, child)


@method("worktree.gc", "Remove worktrees of closed or dead sessions. Uncommitted changes and "
        "commits on no other branch are first saved to refs/orch/rescue/... (see "
        "worktree.rescued); with rescue=false such worktrees are left alone. Nothing is "
        "deleted unsaved.",
        params={"dry_run": s_bool("Only report what would be removed."),
                "rescue": s_bool("Save unsaved work to a rescue ref before removing "
                                 "(default true); false leaves such worktrees alone.")},
        errors=("rescue_failed", "git_failed"), mutates=True)
def worktree_gc(ctx: Context, dry_run: bool = False, rescue: bool = True) -> dict[str, Any]:
    return worktree_rescue.gc(ctx, dry_run=dry_run, rescue=rescue)


@method("worktree.rescued", "List work saved by worktree.gc under refs/orch/rescue/ with the "
        "command that restores each.")
def worktree_rescued(ctx: Context) -> dict[str, Any]:
    return worktree_rescue.rescued(ctx)


@method("scheduler.decide_worktree", "Should a planned task get its own worktree or just "
        "take locks? Scores files to change, expected duration, risk, parallel participants "
        "and overlap of its paths with other sessions' locks; returns score, decision "
        "('worktree' or 'lock') and reasons.",
        params={
            "paths": s_strs("Paths the task will change (used for overlap; default count "
                            "for files)."),
            "files": s_int("Number of files it will change (default: len(paths)).",
                           minimum=0),
            "duration": s_num("Expected duration in minutes.", minimum=0),
            "risk": s_str("low, medium or high", enum=list(scheduler.RISK_LEVELS)),
            "participants": s_int("Agents working in parallel (default: live sessions).",
                                  minimum=0),
            "session": SESSION,
        }, errors=("bad_path",))
def scheduler_decide_worktree(ctx: Context, paths: list[str] | None = None,
                              files: int | None = None, duration: float = 0.0,
                              risk: str = "low", participants: int | None = None,
                              session: str | None = None) -> dict[str, Any]:
    sess = as_session(ctx, session, required=False)
    return scheduler.decide(ctx, sess.id if sess else None, files, float(duration), risk,
                            participants, list(paths or []))
