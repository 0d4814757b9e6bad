"""A reviewer for each new merge request: ``[team] reviewer_cmd`` in a tmux window.

Called after `merge request` (api/methods/merge.py). Once per queue entry: an
entry that already had a reviewer spawned, or is no longer waiting for review,
gets none. The window runs the command with ORCH_REVIEW_ID set to the entry id
and ORCH_SESSION to the reviewer's own session (never the author's).
"""

from __future__ import annotations

from typing import Any

from orch_core.errors import OrchError
from orch_core.state.context import Context
from orch_core.team import spawn

ROLE = "reviewer"


def dispatch(ctx: Context, entry: dict[str, Any]) -> dict[str, Any] | None:
    """Spawn the reviewer of ``entry`` (a merge.request result); None when not configured."""
    command = str(ctx.config.get("team", "reviewer_cmd") or "").strip()
    if not command:
        return None
    entry_id = str(entry.get("id", ""))
    if entry.get("state") != "queued":
        return {"dispatched": False, "reason": f"{entry_id} is {entry.get('state')}"}
    try:
        got = spawn.spawn(ctx, f"reviewer-{entry_id}", command, role=ROLE,
                          review_id=entry_id, wait=False)
    except OrchError as e:
        return {"dispatched": False, "reason": e.message, "code": e.code, "hint": e.hint}
    return {"dispatched": True, "name": got["name"], "session_id": got["session_id"],
            "window": got["window"]}
