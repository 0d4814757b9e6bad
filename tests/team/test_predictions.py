"""Any queue change recomputes the predictions of the entries behind it (issue: an
approval left Q-5 showing no conflict until it was requested again)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orch_core.api import dispatch as api
from orch_core.merge import queue as q
from orch_core.state.context import Context
from tests.merge.test_queue import edit_line, make_branch, new_session, request, setup_repo

USERS = "src/api/users.py"


def recorded(ctx: Context, entry: str) -> list[dict[str, object]]:
    """The predictions stored in refs/orch/queue (not recomputed by a read)."""
    return q.load(ctx)[1].get(entry).conflicts


def test_review_and_cancel_recompute_the_entries_behind(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo", checks=[])
    ctx = Context(cwd=repo, env={})
    try:
        a, b, r = new_session(ctx, "a"), new_session(ctx, "b"), new_session(ctx, "r")
        make_branch(repo, "left", {USERS: edit_line(repo, USERS, '"ada"', '"ada lovelace"')})
        make_branch(repo, "right", {USERS: edit_line(repo, USERS, '"ada"', '"countess"')})
        request(ctx, a, "left")
        request(ctx, b, "right")
        assert recorded(ctx, "Q-2") == []  # Q-1 is not approved: nothing lands before it
        api.call(ctx, "merge.review", {"id": "Q-1", "approve": True, "session": r})
        assert recorded(ctx, "Q-2") == [{"with": "Q-1", "branch": "left", "files": [USERS]}]
        api.call(ctx, "merge.cancel", {"id": "Q-1", "session": a})
        assert recorded(ctx, "Q-2") == []
    finally:
        ctx.close()


def test_other_changes_of_the_queue_make_the_next_read_predict_again(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo", checks=[])
    ctx = Context(cwd=repo, env={})
    try:
        a, r = new_session(ctx, "a"), new_session(ctx, "r")
        make_branch(repo, "one", {"docs/one.md": "one\n"})
        make_branch(repo, "two", {"docs/two.md": "two\n"})
        request(ctx, a, "one")
        request(ctx, a, "two")
        assert q.load(ctx)[1].predicted_at is not None

        def fail_it(st: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, str]]:
            # As a landing that failed would: an entry leaves the queue.
            return st.with_entry(replace(st.get("Q-1"), state=q.FAILED)), "fail Q-1", {}

        q.mutate(ctx, r, "merge.test", fail_it)
        assert q.load(ctx)[1].predicted_at is None
        api.call(ctx, "merge.main.queue", {})
        assert q.load(ctx)[1].predicted_at is not None
    finally:
        ctx.close()
