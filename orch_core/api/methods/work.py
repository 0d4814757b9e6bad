"""Methods for work state: tasks, the plan graph, cases, resume, mirror, journal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from orch_core.api.methods.common import SESSION, as_session, need_session
from orch_core.api.registry import method, s_bool, s_int, s_str, s_strs
from orch_core.merge import queue
from orch_core.state.context import Context
from orch_core.work import cases, journal, mirror, resume, sessions, takeover, tasks

if TYPE_CHECKING:
    from orch_core.api.results import Resume, TaskDetail, TaskJson, TaskListing


def _actor(ctx: Context, session: str | None) -> str:
    sess = as_session(ctx, session, required=False)
    return sess.id if sess else ctx.actor_hint


@method("task.create", "Create a task. Levels nest epic > feature > testgroup > case > step; "
        "an epic has no parent, every other level needs a parent of the level above. "
        "Returns the task with its id.",
        params={"level": s_str("Task level.", enum=list(tasks.LEVELS)),
                "title": s_str("Short title.", minLength=1),
                "parent": s_str("Parent task id (the level directly above)."),
                "priority": s_int("Higher runs first in plan.ready (default 0)."),
                "session": SESSION},
        required=("level", "title"), errors=("bad_parent", "unknown_task"), mutates=True)
def task_create(ctx: Context, level: str, title: str, parent: str | None = None,
                priority: int = 0, session: str | None = None) -> TaskJson:
    task = tasks.create(ctx, _actor(ctx, session), level, title, parent, priority)
    return cast("TaskJson", task.to_json())


@method("task.list", "List tasks in creation order (tree=true: depth-first with depth).",
        params={"status": s_str("Only tasks with this status.", enum=list(tasks.STATUSES)),
                "tree": s_bool("Depth-first tree order with a depth field.")})
def task_list(ctx: Context, status: str | None = None, tree: bool = False) -> TaskListing:
    return cast("TaskListing", tasks.listing(ctx, status, tree))


@method("task.get", "One task with its path, children, dependencies and step counts.",
        params={"id": s_str("Task id.")}, required=("id",), errors=("unknown_task",))
def task_get(ctx: Context, id: str) -> TaskDetail:
    return cast("TaskDetail", tasks.describe(ctx, id))


@method("task.set_status", "Set a task's status (queued, running, succeeded, failed, "
        "blocked, canceled); parents follow their children.",
        params={"id": s_str("Task id."),
                "status": s_str("New status.", enum=list(tasks.STATUSES)),
                "reason": s_str("Why (kept on the task)."),
                "force": s_bool("Change a case another live session holds (journaled)."),
                "session": SESSION},
        required=("id", "status"), errors=("unknown_task", "case_held"), mutates=True)
def task_set_status(ctx: Context, id: str, status: str, reason: str | None = None,
                    force: bool = False, session: str | None = None) -> TaskJson:
    sess = as_session(ctx, session, required=False)
    task = cases.set_status(ctx, sess.id if sess else ctx.actor_hint, id, status, reason,
                            force, as_session=sess is not None)
    return cast("TaskJson", task.to_json())


@method("plan.dep.add", "Record that task 'blocker' must finish before 'blocked' is ready. "
        "A dependency that would close a cycle is refused.",
        params={"blocker": s_str("Task that must finish first."),
                "blocked": s_str("Task that waits for it."), "session": SESSION},
        required=("blocker", "blocked"), errors=("dep_cycle", "unknown_task"), mutates=True)
def plan_dep_add(ctx: Context, blocker: str, blocked: str,
                 session: str | None = None) -> dict[str, Any]:
    return tasks.dep_add(ctx, _actor(ctx, session), blocker, blocked)


@method("plan.dep.remove", "Remove a dependency.",
        params={"blocker": s_str("Task that had to finish first."),
                "blocked": s_str("Task that waited for it."), "session": SESSION},
        required=("blocker", "blocked"), errors=("unknown_dep",), mutates=True)
def plan_dep_remove(ctx: Context, blocker: str, blocked: str,
                    session: str | None = None) -> dict[str, Any]:
    return tasks.dep_remove(ctx, _actor(ctx, session), blocker, blocked)


@method("plan.ready", "Work ready to start: queued, every blocker finished, not under a "
        "blocked parent, not held by a live session; highest priority first.",
        params={"level": s_str("Level to list (default case; 'any' for all but steps).",
                               enum=[*tasks.LEVELS, "any"]),
                "limit": s_int("At most this many (default 50).", minimum=1)})
def plan_ready(ctx: Context, level: str = "case", limit: int = 50) -> dict[str, Any]:
    takeover.settle(ctx)  # a dead session's case is offered again
    return {"ready": [t.to_json() for t in tasks.ready(ctx, level, limit)]}


@method("case.begin", "Take a case: records its input contract and fixtures and optionally "
        "takes the locks it needs in the same step. Refused while another live session "
        "holds it, while a blocker is unfinished, while your session runs another case "
        "(force=true overrides these two, journaled), and without a contract when the "
        "policy sets [cases] require_contract.",
        params={"id": s_str("Case id."),
                "contract": s_str("Input contract: what the case may assume."),
                "fixtures": s_strs("Fixture paths the case uses."),
                "locks": s_strs("Paths to lock for this case (all or none)."),
                "force": s_bool("Begin despite unfinished blockers or another running case."),
                "session": SESSION},
        required=("id",), errors=("case_held", "case_closed", "lock_conflict", "no_session",
                                  "blocked_by", "case_running", "contract_required"),
        mutates=True)
def case_begin(ctx: Context, id: str, contract: str | None = None,
               fixtures: list[str] | None = None, locks: list[str] | None = None,
               force: bool = False, session: str | None = None) -> dict[str, Any]:
    from orch_core.merge import approval

    takeover.settle(ctx)  # a case a dead session held can be taken at once
    need = bool(approval.team_policy(ctx).get("cases", "require_contract"))
    return cases.begin(ctx, need_session(ctx, session), id, contract, fixtures, locks,
                       force=force, require_contract=need)


@method("step.check", "Mark a step of your case done.",
        params={"id": s_str("Step id."), "session": SESSION}, required=("id",),
        errors=("case_held", "wrong_level", "no_session"), mutates=True)
def step_check(ctx: Context, id: str, session: str | None = None) -> dict[str, Any]:
    return cases.check_step(ctx, need_session(ctx, session), id, True)


@method("step.uncheck", "Mark a step of your case not done again.",
        params={"id": s_str("Step id."), "session": SESSION}, required=("id",),
        errors=("case_held", "wrong_level", "no_session"), mutates=True)
def step_uncheck(ctx: Context, id: str, session: str | None = None) -> dict[str, Any]:
    return cases.check_step(ctx, need_session(ctx, session), id, False)


@method("case.complete", "Finish your case and say what comes next. Refused while steps "
        "are open unless force=true.",
        params={"id": s_str("Case id."), "next": s_str("What the next agent should do."),
                "force": s_bool("Complete even with open steps."), "session": SESSION},
        required=("id", "next"), errors=("steps_open", "case_held", "no_session"),
        mutates=True)
def case_complete(ctx: Context, id: str, next: str, force: bool = False,
                  session: str | None = None) -> dict[str, Any]:
    return cases.complete(ctx, need_session(ctx, session), id, next, force)


@method("case.fail", "Mark your case failed with the reason.",
        params={"id": s_str("Case id."), "reason": s_str("Why it failed."),
                "session": SESSION},
        required=("id", "reason"), errors=("case_held", "no_session"), mutates=True)
def case_fail(ctx: Context, id: str, reason: str, session: str | None = None,
              ) -> dict[str, Any]:
    return cases.fail(ctx, need_session(ctx, session), id, reason)


@method("resume.next", "After a lost context: the session's case, open and done steps, "
        "next action, last checkpoint commit, locks, worktree and branch, how far its base "
        "is behind main (stale-base warning); with no current case, the next ready case.",
        params={"session": SESSION}, errors=("no_session", "unknown_session"))
def resume_next(ctx: Context, session: str | None = None) -> Resume:
    # Reading what a closed session left behind is allowed when it is named.
    sess = sessions.get(ctx, session) if session else need_session(ctx, None)
    takeover.settle(ctx)
    out = resume.next_for(ctx, sess, queue.failures_for_session)
    _mirror_duty(ctx, sess, out)
    from orch_core.team import mail  # unread mail belongs to what comes next

    box = mail.inbox(ctx, sess, unread_only=True)
    out["mail"] = {"unread": box["unread"], "messages": box["messages"][-5:]}
    out["warnings"] = [*out["warnings"], *box["warnings"]]
    return cast("Resume", out)


def _mirror_duty(ctx: Context, sess: sessions.Session, out: dict[str, Any]) -> None:
    """The doc-mirror manager sees the refresh requests waiting for it."""
    from orch_core.merge import approval

    holders = approval.holders(ctx, approval.MIRROR)
    if not holders or sess.owner not in holders:
        return
    waiting = mirror.pending(ctx)
    out["mirror_requests"] = waiting
    if waiting and out["what"] == "idle":
        out["what"] = "mirror"
        out["next_action"] = (f"`orch-hooks mirror refresh`: {len(waiting)} refresh "
                              f"request(s), the last by {waiting[-1]['owner']}")


@method("resume.candidates.list", "Interrupted sessions (heartbeat expired) that left work "
        "in progress: their case and locks, and the command to take them over.")
def resume_candidates_list(ctx: Context) -> dict[str, Any]:
    takeover.settle(ctx)
    return resume.candidates(ctx)


@method("resume.candidates.attach", "Take over an interrupted session's case and locks "
        "(compare-and-swap on the lock table). Refused while it is alive unless force=true.",
        params={"from_session": s_str("The interrupted session to take over."),
                "force": s_bool("Take over even if it is still alive."), "session": SESSION},
        required=("from_session",), errors=("session_alive", "unknown_session", "no_session"),
        mutates=True)
def resume_candidates_attach(ctx: Context, from_session: str, force: bool = False,
                             session: str | None = None) -> Resume:
    return cast("Resume", resume.attach(ctx, need_session(ctx, session), from_session, force,
                                        queue.failures_for_session))


@method("work.current_ref", "A short block to paste into your context: what you are doing, "
        "where, what is next, and whether anything changed since your last ack.",
        params={"session": SESSION}, errors=("no_session",))
def work_current_ref(ctx: Context, session: str | None = None) -> dict[str, Any]:
    return resume.current_ref(ctx, need_session(ctx, session))


@method("work.current_ref.ack", "Record that you have read the current state "
        "(work.current_ref then reports changes after this point).",
        params={"session": SESSION}, errors=("no_session",), mutates=True)
def work_current_ref_ack(ctx: Context, session: str | None = None) -> dict[str, Any]:
    return resume.ack(ctx, need_session(ctx, session))


@method("mirror.status", "The Markdown mirror: db_version, md_version and whether it is "
        "outdated.")
def mirror_status(ctx: Context) -> dict[str, Any]:
    return mirror.status(ctx)


@method("mirror.refresh", "Write the Markdown snapshot (task tree, sessions, locks, queue). "
        "When [roles] doc-mirror-manager is set, only its owners may; others use "
        "mirror.request.",
        params={"out": s_str("Where to write it (default <git common dir>/orch/mirror.md)."),
                "session": SESSION},
        errors=("bad_path", "write_failed", "role_required"), mutates=True)
def mirror_refresh(ctx: Context, out: str | None = None,
                   session: str | None = None) -> dict[str, Any]:
    from orch_core.merge import approval

    if approval.holders(ctx, approval.MIRROR):
        approval.require_role(ctx, approval.MIRROR, need_session(ctx, session),
                              "refreshing the mirror")
    entries = queue.load(ctx)[1].ordered()
    lines = [f"- `{e.id}` branch `{e.branch}` by {e.owner} ({e.state})" for e in entries]
    return mirror.refresh(ctx, out, lines)


@method("mirror.request", "Ask the doc-mirror manager to refresh the mirror; the request "
        "shows in their resume.next until the mirror is written.",
        params={"reason": s_str("What changed, or why it is needed."), "session": SESSION},
        errors=("no_session",), mutates=True)
def mirror_request(ctx: Context, reason: str | None = None,
                   session: str | None = None) -> dict[str, Any]:
    return mirror.request(ctx, need_session(ctx, session), reason)


@method("journal.sync", "Export the work state to refs/orch/work (compare-and-swap) so "
        "`rebuild` can restore it.", mutates=True)
def journal_sync(ctx: Context) -> dict[str, Any]:
    return journal.sync(ctx)


@method("journal.rebuild", "Recreate the state database from refs/orch/work, the lock and "
        "queue refs and the checkpoint notes. Refused if a database with state exists "
        "unless force=true.",
        params={"force": s_bool("Replace an existing database (kept aside).")},
        errors=("db_exists", "no_journal"), mutates=True)
def journal_rebuild(ctx: Context, force: bool = False) -> dict[str, Any]:
    return journal.rebuild(ctx, force)
