"""Methods for the merge queue: request, review, context, queue, land, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from orch_core.api.methods.common import SESSION, as_session, need_session
from orch_core.api.registry import method, s_bool, s_int, s_str
from orch_core.merge import lander, queue
from orch_core.merge import predict as merge
from orch_core.state.context import Context

if TYPE_CHECKING:
    from orch_core.api.results import QueueEntryJson, QueueListing

ENTRY_ID = s_str("Queue entry id, e.g. 'Q-3' (from merge.request or merge.main.queue).",
                 minLength=1)


@method("merge.request", "Queue a branch for main (default: the branch checked out in "
        "the session's worktree). The "
        "result has the entry 'id'; another session must approve it with merge.review "
        "before merge.main.land tests and lands it. Re-requesting a queued branch updates "
        "its tip and resets the review. 'warning' names paths the branch changes that "
        "another session holds locked: the lander refuses it while they are held.",
        params={"branch": s_str("Local branch to queue; default: the branch checked out "
                                "in the session's worktree."),
                "priority": s_int("Higher lands first (default 0); ties: first come."),
                "session": SESSION},
        errors=("unknown_branch", "bad_branch", "nothing_to_land", "landing", "no_session",
                "no_base", "bad_config"),
        mutates=True)
def merge_request(ctx: Context, branch: str | None = None, priority: int | None = None,
                  session: str | None = None) -> QueueEntryJson:
    out = merge.request(ctx, need_session(ctx, session), branch, priority)
    from orch_core.team import reviewer  # [team] reviewer_cmd: a reviewer window per entry

    dispatched = reviewer.dispatch(ctx, out)
    if dispatched is not None:
        out["reviewer_dispatch"] = dispatched
    return cast("QueueEntryJson", out)


@method("merge.review", "Approve or reject a queued entry. The reviewer must be a different "
        "session from the author (self-review is refused).",
        params={"id": ENTRY_ID,
                "approve": s_bool("true to approve, false to reject."),
                "reason": s_str("Why (shown to the author on rejection)."),
                "session": SESSION},
        required=("id", "approve"),
        errors=("unknown_entry", "self_review", "bad_state", "no_session"), mutates=True)
def merge_review(ctx: Context, id: str, approve: bool, reason: str | None = None,
                 session: str | None = None) -> dict[str, Any]:
    return merge.review(ctx, need_session(ctx, session), id, approve, reason)


@method("merge.review_context", "Everything a reviewer needs for one entry and nothing more: "
        "diff stat and diff against the merge base, the cases and checkpoint notes its "
        "commits carry, predicted conflicts and rule findings on added lines.",
        params={"id": ENTRY_ID}, required=("id",), errors=("unknown_entry", "no_base"))
def merge_review_context(ctx: Context, id: str) -> dict[str, Any]:
    return merge.review_context(ctx, id)


@method("merge.main.queue", "The queue for main in landing order: state, position, "
        "predicted conflicts (with main and with approved entries ahead), the merge lock, "
        "and the most recent finished entries.",
        params={"finished": s_int("How many finished entries to include (default 10).",
                                  minimum=0)})
def merge_main_queue(ctx: Context, finished: int = 10) -> QueueListing:
    return cast("QueueListing", merge.listing(ctx, include_finished=finished))


@method("merge.main.land", "Land the next approved entry: take the global merge lock, build "
        "the exact merge on main's tip, refuse it if it changes a path another session "
        "than the author holds locked or carries a malformed policy, run the rules and "
        "checks of the policy committed on main on it in a temporary "
        "worktree, then move main by compare-and-swap (rebuilding if main moved). "
        "'landed' false means the entry failed or conflicted; 'reason' and 'log_tail' say "
        "why, and the author sees it in resume.next.",
        params={"session": SESSION},
        errors=("nothing_approved", "merge_locked", "merge_lock_lost",
                "protected_worktree_dirty", "move_failed", "no_base", "bad_config"),
        mutates=True)
def merge_main_land(ctx: Context, session: str | None = None) -> dict[str, Any]:
    return lander.land(ctx, as_session(ctx, session, required=False))


@method("merge.cancel", "Take an entry out of the queue (the author, or anyone with force).",
        params={"id": ENTRY_ID, "force": s_bool("Cancel an entry of another session."),
                "session": SESSION},
        required=("id",), errors=("unknown_entry", "not_author", "bad_state", "landing"),
        mutates=True)
def merge_cancel(ctx: Context, id: str, force: bool = False,
                 session: str | None = None) -> dict[str, Any]:
    return merge.cancel(ctx, as_session(ctx, session, required=not force), id, force)


@method("merge.failures", "Queue entries of a session that need its fix: failed landings, "
        "conflicts with main, rejections, each with the reason and the next action.",
        params={"session": SESSION}, errors=("no_session",))
def merge_failures(ctx: Context, session: str | None = None) -> dict[str, Any]:
    sess = need_session(ctx, session)
    return {"session": sess.id, "failures": queue.failures_for_session(ctx, sess.id)}
