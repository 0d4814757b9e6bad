"""What every method family needs: the acting session, from a parameter or the context."""

from __future__ import annotations

import dataclasses

from orch_core.api.registry import s_str
from orch_core.errors import UsageError
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
