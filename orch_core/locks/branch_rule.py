"""The lock rule for a branch update, whatever command made it.

An update of a branch from OLD to NEW is refused when the branch's own change
against its base (`git diff BASE...NEW`) touches a path locked by another live
session that `BASE...OLD` did not already touch. That covers commit,
cherry-pick, revert, am, merge, rebase and reset, and never refuses what
merging the base into a branch brings in (docs/ARCHITECTURE.md, "The lock rule
on every way a commit reaches a branch"). The lander applies the same rule to a
queued branch, on behalf of the entry's author.
"""

from __future__ import annotations

from orch_core.git import history as githistory
from orch_core.git.repo import ZERO_OID
from orch_core.locks import service as locks
from orch_core.locks.table import Lock
from orch_core.state.context import Context


def new_paths(ctx: Context, base: str, old: str, new: str) -> set[str]:
    """Paths the branch's change at NEW touches that its change at OLD did not.

    A new branch at a commit some branch already holds (`git switch -c`,
    `git branch`, `git worktree add -b`) is a new name for work that was checked
    when it was made: it brings nothing.
    """
    if old == ZERO_OID and githistory.on_a_branch(ctx.repo, new):
        return set()
    if old != ZERO_OID and githistory.merge_base(ctx.repo, base, new) is None:
        # No base to measure against (a base branch that does not exist, or unrelated
        # history): everything the update changes counts.
        return set(githistory.changed_between(ctx.repo, old, new) or [])
    paths = githistory.own_change(ctx.repo, base, new)
    if old != ZERO_OID and paths:
        paths -= githistory.own_change(ctx.repo, base, old)
    return paths


def update_conflicts(ctx: Context, session: str, base: str, old: str,
                     new: str) -> dict[str, list[Lock]]:
    """Paths of the update locked by a live session other than ``session``."""
    snap = locks.snapshot(ctx)
    now = ctx.now()
    if not any(lk.session != session and snap.counts(lk, now) for lk in snap.locks):
        return {}
    paths = new_paths(ctx, base, old, new)
    if not paths:
        return {}
    return snap.index(ctx.ignore_case).check(sorted(paths), session, now)


def refusal_lines(what: str, found: dict[str, list[Lock]], now: float) -> list[str]:
    lines = [f"orch-hooks: {what} refused: it changes paths locked by another session"]
    lines += locks.conflict_lines(found, now)
    lines.append("  what to do: leave those paths out of this branch, wait for the release, "
                 f"or ask the holder ({locks.ask_hint(found)}); see `orch-hooks lock list`")
    return lines
