"""What every hook's Python side shares: messages to stderr, the context, the acting session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orch_core.state.context import Context

if TYPE_CHECKING:
    pass



def say(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


def context() -> Context:
    return Context(cwd=Path.cwd(), actor_hint="hook", one_shot=True)


def session_id(ctx: Context) -> tuple[str, str | None]:
    """(id used for lock decisions, real session id or None for implicit)."""
    from orch_core.work import sessions

    sid, source = sessions.resolve_id(ctx)
    if sid and source == "ORCH_SESSION" and foreign_session(ctx):
        # Another owner's session: its locks are not yours and its name does not go on
        # the checkpoint; decide as this worktree's own session (work/identity.py).
        bound = sessions.read_binding(ctx.repo.git_dir)
        sid = bound if bound and sessions.find(ctx, bound) else None
    if sid:
        return sid, sid
    return "implicit:" + str(ctx.repo.toplevel), None


def foreign_session(ctx: Context) -> str | None:
    """Why ORCH_SESSION names a session of another owner than you here, or None."""
    from orch_core.work import identity, sessions

    sid = ctx.env.get("ORCH_SESSION", "").strip()
    sess = sessions.find(ctx, sid) if sid else None
    return identity.foreign(ctx, sess) if sess is not None else None
