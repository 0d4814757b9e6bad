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

    sid, _source = sessions.resolve_id(ctx)
    if sid:
        return sid, sid
    return "implicit:" + str(ctx.repo.toplevel), None
