"""The Python side of pre-commit, pre-rebase, post-commit and post-rewrite."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orch_core.errors import OrchError
from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context

if TYPE_CHECKING:
    pass

from orch_core.hooks.common import context, foreign_session, say, session_id


def pre_commit(args: list[str]) -> int:
    from orch_core.hooks import policy
    from orch_core.locks import service as locks
    from orch_core.locks.table import LockIndex

    ctx = context()
    refusal = _protected_head(ctx, "commit")
    if refusal:
        for line in refusal:
            say(line)
        return 1
    policy.write_cache(ctx)
    why = foreign_session(ctx)
    if why:
        say(f"orch-hooks: commit refused: ORCH_SESSION names another owner's session: {why}")
        say("  a commit made as it would use its locks and carry its name; unset "
            "ORCH_SESSION here, or commit in that session's own worktree")
        return 1
    staged = gitworktree.staged_paths(ctx.repo)
    if not staged:
        return 0
    sid, real = session_id(ctx)
    snap = locks.snapshot(ctx)
    policy.refresh_index(ctx, snap.tip, snap.locks)
    for w in snap.warnings:
        say(f"orch-hooks: warning: {w}")
    now = ctx.now()
    index = snap.index(ctx.ignore_case)
    found = index.check(staged, sid, now)
    if found:
        say("orch-hooks: commit refused: staged paths are locked by another session")
        for line in locks.conflict_lines(found, now):
            say(line)
        say("  what to do: unstage them (`git restore --staged PATH`), wait for the "
             f"release, or ask the holder ({locks.ask_hint(found)});")
        say("  see `orch-hooks lock list`; a holder that is gone can be overridden with "
             "`orch-hooks lock release --force LOCK_ID` (journaled)")
        _fetched_age(ctx)
        return 1
    from orch_core.merge import gate

    if gate.require_lock(ctx):
        mine = LockIndex([lk for lk in snap.locks if lk.session == sid and lk.live(now)],
                         ctx.ignore_case)
        uncovered = [p for p in staged if not mine.blockers(p, "exclusive", "\0nobody", now)]
        if uncovered:
            say("orch-hooks: commit refused: policy require_lock (.orch.toml, here or "
                "committed on a protected branch) needs a lock "
                 "held by your session on every staged path; not covered:")
            for p in uncovered[:20]:
                say(f"  {p}")
            who = real or "(no session: run `orch-hooks session open`)"
            say(f"  session: {who}; take them with `orch-hooks lock acquire PATH...`")
            return 1
    return 0


def _protected_head(ctx: Context, what: str, branch_ref: str | None = None) -> list[str]:
    """Refusal lines when ``what`` would move a protected branch (HEAD's by default)."""
    from orch_core.git import refs as gitrefs
    from orch_core.git import undo
    from orch_core.merge import gate

    ref = branch_ref or undo.head_ref(ctx.repo)
    if ref is None or ref not in gate.protected_refs(ctx):
        return []
    if gitrefs.read_ref_file(ctx.repo.common_dir, ref) is None:
        return []  # bootstrap: the protected branch does not exist yet
    lines = gate.refusal_lines(ctx, what, ref, gate.ZERO)
    if what == "commit":
        lines.append("  git changed nothing; your changes are still staged: "
                     "`git switch -c my-work && git commit`")
    else:
        lines.append("  git changed nothing; to follow the upstream: `git pull --ff-only`; "
                     "to rebase your own work, put it on a branch first: `git switch -c my-work`")
    return lines


def pre_rebase(args: list[str]) -> int:

    ctx = context()
    ref = f"refs/heads/{args[1].removeprefix('refs/heads/')}" if len(args) > 1 else None
    refusal = _protected_head(ctx, "rebase", ref)
    if not refusal:
        return 0
    target = ref or "HEAD"
    # A rebase that only fast-forwards (e.g. `git pull --rebase` with nothing of its
    # own) is judged by reference-transaction like any other update of the branch.
    if args and githistory.is_ancestor(ctx.repo, target, args[0]):
        return 0
    for line in refusal:
        say(line)
    return 1


def post_commit(args: list[str]) -> int:
    from orch_core.work import sessions, stamp

    ctx = context()
    try:
        _sid, real = session_id(ctx)
        sess = sessions.find(ctx, real) if real else None
        owner = sess.owner if sess else gitrepo.user_name(ctx.repo)
        if sess is not None:
            stamp.refresh(ctx, sess.id)
        stamp.stamp_head(ctx, sess.id if sess else None, owner)
    except OrchError as e:
        say(f"orch-hooks: warning: checkpoint note not written: {e.message}")
    return 0


def post_rewrite(args: list[str]) -> int:
    """Carry the notes of rewritten commits (stdin: "OLD NEW" lines) to their copies,
    under the notes writer lock; git does not copy refs/notes/orch itself. After an
    amend outside a rebase, post-commit has already stamped the new commit."""
    import sys

    from orch_core.work import stamp

    mapping = sys.stdin.read()
    if not args or args[0] not in ("amend", "rebase") or not mapping.strip():
        return 0
    ctx = context()
    in_rebase = any((ctx.repo.git_dir / n).is_dir() for n in ("rebase-merge", "rebase-apply"))
    if args[0] == "amend" and not in_rebase:
        return 0
    try:
        stamp.copy_notes(ctx, args[0], mapping)
    except OrchError as e:
        say(f"orch-hooks: warning: checkpoint notes not copied: {e.message}")
    return 0


def _fetched_age(ctx: Context) -> None:
    """Remote mode: say how old the table this refusal was decided on is (the commit
    path never touches the network; `orch-hooks remote fetch` brings it up to date)."""
    from orch_core.git import remote as gitremote

    marker = ctx.repo.orch_dir / "remote-mode"
    try:
        name = marker.read_text().strip()
    except OSError:
        return
    if not name:
        return
    when = gitremote.last_fetched(ctx.repo)
    import time

    age = "never" if when is None else f"{max(0, int(time.time() - when))} s ago"
    say(f"  (lock table last fetched from {name} {age}; `orch-hooks remote fetch` "
        "refreshes it)")
