"""What every method family needs: the acting session, from a parameter or the context."""

from __future__ import annotations

from orch_core.api.registry import s_str
from orch_core.errors import UsageError
from orch_core.state.context import Context
from orch_core.work import sessions

SESSION = s_str("Session id to act as; default: ORCH_SESSION or the worktree's session.")


def as_session(ctx: Context, session: str | None, required: bool = True,
               force: bool = False) -> sessions.Session | None:
    """The acting session: the explicit parameter wins over the context.

    A session named explicitly (the parameter, ``--session``, ``ORCH_SESSION``) must
    be yours, unless the call acts for it deliberately (``act_for``, or ``force``
    where the method has it): work/identity.py.
    """
    from orch_core.work import identity

    outer = ctx
    if session is not None:
        if not session.strip():
            raise UsageError("empty session id", code="invalid_params")
        ctx = ctx.replace(session_override=session)
    sess = sessions.current(ctx, required=required)
    if sess is not None:
        _sid, source = sessions.resolve_id(ctx)
        identity.check(outer, sess, source, force)
    return sess


def need_session(ctx: Context, session: str | None) -> sessions.Session:
    sess = as_session(ctx, session, required=True)
    assert sess is not None
    return sess
