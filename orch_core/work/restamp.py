"""Branch commits missing their checkpoint note, and restamping them (`doctor --fix`).

The guarantee for a commit interrupted between `git commit` writing the branch
and the post-commit hook writing its note (a SIGKILL of the commit's process
group, a power cut): the commit stays, `orch-hooks doctor` names it, and
`doctor --fix` writes the note from the payload of the session working on that
branch, marked ``restamped_by``/``restamped_at`` because the fields are as of
the repair, not of the commit. Nothing can stamp inside git's own ref update,
so "stamped, or reported and restampable" is the strongest promise available.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context
from orch_core.work import stamp

META_INSTALLED = "stamp_installed_at"
# doctor looks at most at this many recent branch commits for a missing note.
UNSTAMPED_LIMIT = 1000


def installed_at(ctx: Context) -> float:
    """When checkpoint stamping started here (commits before it carry no note)."""
    value = ctx.store.meta(META_INSTALLED)
    if value is None:
        now = ctx.now()
        with ctx.store.cache_write() as conn:
            ctx.store.set_meta(conn, META_INSTALLED, repr(now))
        return now
    return float(value)


def unstamped(ctx: Context, limit: int = UNSTAMPED_LIMIT) -> list[tuple[str, str]]:
    """(commit, branch) of branch commits made since install that have no note.

    A commit killed between `git commit` updating the branch and the post-commit
    stamp (or made with the hooks switched off) is one of these. Merges are left
    out (`git merge` runs no post-commit hook), and so is everything already on
    the base branch (the lander's merges carry no note of their own).
    """
    base = f"refs/heads/{ctx.config.base_branch}"
    since = int(installed_at(ctx))
    exclude = base if gitrepo.rev_parse(ctx.repo, base) else None
    commits = githistory.branch_commits_since(ctx.repo, since, limit, exclude)
    if not commits:
        return []
    noted = {commit for _note, commit in gitobjects.notes_list(ctx.repo, "orch")}
    missing = [c for c in commits if c not in noted]
    if not missing:
        return []
    out: list[tuple[str, str]] = []
    for c in missing:
        names = githistory.branches_containing(ctx.repo, c)
        out.append((c, names[0] if names else ""))
    return out


def restamp(ctx: Context, commit: str, branch: str) -> dict[str, Any]:
    """Write the missing note of ``commit`` from the payload of the session that works
    on ``branch`` (the session bound to the worktree that has it checked out), marked
    ``restamped``: the fields are as of the repair, not of the commit.
    """
    from orch_core.work import sessions

    sid: str | None = None
    for wt in gitworktree.worktree_heads(ctx.repo):
        if wt.get("branch") == f"refs/heads/{branch}" and "worktree" in wt:
            binding = gitrepo.git_dir_of(Path(wt["worktree"])) / sessions.BINDING_FILE
            with contextlib.suppress(OSError):
                sid = binding.read_text().strip() or None
            break
    sess = sessions.find(ctx, sid) if sid else None
    if sess is None or sess.status != "open":
        sid = None
    owner = sess.owner if sess else githistory.committer_name(ctx.repo, commit)
    data = stamp.payload(ctx, sid, owner)
    data["base"] = githistory.merge_base(ctx.repo, commit, ctx.config.base_branch) or ""
    data["restamped_by"] = "doctor"
    data["restamped_at"] = ctx.now()
    stamp.write_note(ctx, commit, data)
    return data
