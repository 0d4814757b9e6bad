"""Who "you" are locally, and acting for a session of another owner.

A session id is a name, not a credential: anything that can run orch-hooks in
this clone can pass any id. What stops an honest mistake (and casual misuse) is
that a session named by ``--session``, the ``session`` parameter or
``ORCH_SESSION`` must be yours. "You" is the owner of the live session bound to
the worktree the call runs in; yours are that session, any session of the same
owner, one opened in that worktree and one opened through this server process.
Changing state as any other (a read may name any session) needs ``act_for``
(``--act-for``; ``lock release --force`` counts) and is journaled as a
``session.act_for`` event naming both. A worktree bound to no live session makes
no claim, and any id is taken as given. README, "Identity": only the server-side
check makes an identity authoritative.
"""

from __future__ import annotations

import os

from orch_core.errors import Refused
from orch_core.state.context import Context
from orch_core.work import sessions

# Sessions opened through this process: a server's client (JSON lines, MCP) acts as
# the sessions it opened. A CLI process makes one call and opens at most one.
OPENED_HERE: set[str] = set()

ACT_FOR = "act_for"  # Context.cache key set for one call by the registry's wrapper


def local_owner(ctx: Context) -> tuple[str, str] | None:
    """(the owner you are here, where that came from); None when this worktree is
    bound to no live session (no local claim to compare with)."""
    bound = sessions.read_binding(ctx.repo.git_dir)
    sess = sessions.find(ctx, bound) if bound else None
    if sess is not None and sess.status == "open":
        return sess.owner, f"the owner of session {sess.id}, bound to this worktree"
    return None


def _same_place(a: str | None, b: os.PathLike[str] | str) -> bool:
    if not a:
        return False
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False


def foreign(ctx: Context, sess: sessions.Session) -> str | None:
    """Why acting as ``sess`` is acting for another owner, or None when it is yours."""
    if sess.id in OPENED_HERE:
        return None
    if sessions.read_binding(ctx.repo.git_dir) == sess.id:
        return None
    if _same_place(sess.worktree, ctx.repo.toplevel):
        return None  # opened in this very worktree
    mine = local_owner(ctx)
    if mine is None or sess.owner == mine[0]:
        return None
    owner, how = mine
    return (f"session {sess.id} belongs to {sess.owner!r}, and you are {owner!r} "
            f"({how})")


def check(ctx: Context, sess: sessions.Session, source: str, force: bool = False) -> None:
    """Refuse acting as a session of another owner unless forced; journal a forced one.

    ``source`` says where the id came from; the worktree's own binding is always
    yours.
    """
    if source == "worktree binding" or not ctx.cache.get("mutating_call"):
        return  # reads may name any session; only a change acts for one
    why = foreign(ctx, sess)
    if why is None:
        return
    if not (force or ctx.cache.get(ACT_FOR)):
        raise Refused(
            f"acting for another owner's session refused: {why}",
            code="not_your_session",
            hint="use your own session (`orch-hooks session open`), or act for it "
                 "deliberately: `orch-hooks --act-for --session ID ...` (act_for=true; "
                 "journaled with both names)")
    owner, how = local_owner(ctx) or ("?", "")
    with ctx.store.write(sess.id, "session.act_for",
                         {"session": sess.id, "owner": sess.owner, "by": owner,
                          "by_from": how, "source": source}):
        pass
