"""The Python side of post-checkout: bind a new worktree to its session, warn once."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from orch_core import clock
from orch_core.errors import OrchError
from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from orch_core.state.context import Context

if TYPE_CHECKING:
    from orch_core.work.sessions import Session

from orch_core.hooks.common import context, say


def post_checkout(args: list[str]) -> int:
    """The slow side of post-checkout (hooks/post-checkout.sh keeps the common path in
    the shell): bind a new worktree to the session that made it and show where it
    stands; the pre-commit framework route and a shim without its interpreter land here
    for every checkout, and then say what the shell would (at most one line)."""
    from orch_core.locks import service as locks
    from orch_core.work import sessions

    env = os.environ
    prev = args[0] if args else env.get("PRE_COMMIT_FROM_REF", "")
    new = args[1] if len(args) > 1 else env.get("PRE_COMMIT_TO_REF", "HEAD")
    flag = args[2] if len(args) > 2 else env.get("PRE_COMMIT_CHECKOUT_TYPE", "1")
    if flag != "1":
        return 0  # a file checkout: nothing to act on
    ctx = context()
    entered = not prev or set(prev) == {"0"}
    sid, source = sessions.resolve_id(ctx)
    bound = sessions.read_binding(ctx.repo.git_dir)
    binding = False
    if sid and source == "ORCH_SESSION" and not bound and entered:
        sess = sessions.find(ctx, sid)
        if sess is not None and sess.status == "open":
            sessions.write_binding(ctx.repo.git_dir, sid)
            with ctx.store.write(sid, "session.bind", {"session": sid,
                                                        "worktree": str(ctx.repo.toplevel)}) as c:
                c.execute("UPDATE sessions SET worktree=?, branch=? WHERE id=?",
                          (str(ctx.repo.toplevel), gitrepo.head_branch(ctx.repo), sid))
            say(f"orch-hooks: worktree {ctx.repo.toplevel} bound to session {sid}")
            binding = True
    sess = sessions.current(ctx, required=False)
    branch = gitrepo.head_branch(ctx.repo)
    if binding and sess is not None:
        _print_current_ref(ctx, sess)
    if branch is None:
        return 0  # detached (rebase, bisect, a tag): nothing to say
    if entered:
        rng = [ctx.config.base_branch, "HEAD"]
    elif prev == new:
        rng = []
    else:
        rng = [prev, new]
    said = ""
    if rng:
        changed = githistory.changed_between(ctx.repo, rng[0], rng[1]) or []
        if changed:
            snap = locks.snapshot(ctx)
            me = sess.id if sess else "implicit:" + str(ctx.repo.toplevel)
            now = clock.now()
            found = snap.index(ctx.ignore_case).check(changed, me, now)
            if found:
                paths = sorted(found)
                holder = found[paths[0]][0].session
                said = (f"{paths[0]} (held by {holder}) is locked by others" if len(paths) == 1
                        else f"{len(paths)} changed files are locked by others, e.g. "
                             f"{paths[0]} (held by {holder})")
    hint = ""
    if sess is not None and not binding and sess.acked_version < _payload_version(ctx, sess.id):
        hint = f"session {sess.id} has news since your last `orch-hooks work ack`"
    if said:
        tail = "; your session has news: `orch-hooks work current-ref`" if hint else ""
        say(f"orch-hooks: on branch {branch}: {said}{tail}; see `orch-hooks lock list`")
    elif hint:
        say(f"orch-hooks: on branch {branch}: {hint}: `orch-hooks work current-ref`")
    return 0


def _payload_version(ctx: Context, sid: str) -> int:
    """The state version in the session's note payload file (what the shell compares)."""
    from orch_core.work import stamp

    try:
        text = (stamp.stamp_dir(ctx) / f"{sid}.json").read_text()
    except OSError:
        return 0
    _head, _sep, rest = text.partition('"db_version":')
    digits = ""
    for ch in rest:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _print_current_ref(ctx: Context, sess: Session) -> None:
    try:
        from orch_core.work import resume

        text = resume.current_ref(ctx, sess).get("text")
        if text:
            say(text)
    except OrchError:
        pass
