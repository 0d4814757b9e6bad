"""After the gate refuses a branch update: put back what the git command changed.

git moves the index and work tree before the branch (fast-forward merge,
reset, cherry-pick, revert, am), so a refusal in reference-transaction would
leave those changes behind. Here the refused command is identified from the
process that ran the hook, and:

- a commit changed no file: its content stays staged, and the advice moves it
  to a branch (`git switch -c my-work && git commit`);
- any other command that moved the index to the refused commit gets exactly
  the paths it changed moved back (`git read-tree -m -u NEW OLD`, which
  refuses rather than overwrite a local change); unrelated local changes are
  untouched;
- when the command cannot be identified nothing is touched, and the one
  command that puts the files back is printed.

Never advises `git reset --hard` (docs/ARCHITECTURE.md, "Refusals leave nothing
half-done").
"""

from __future__ import annotations

import shlex

from orch_core.git import caller, undo
from orch_core.git import repo as gitrepo
from orch_core.git.repo import Repo


def after_refusal(repo: Repo, ref: str, current: str, new: str,
                  command: str | None = None) -> list[str]:
    """Lines for the refusal message; puts back the index and work tree where safe."""
    cmd = command if command is not None else caller.subcommand(caller.git_argv())
    if undo.head_ref(repo) != ref:
        # `git checkout -B main X` / `git switch -C main X` move this worktree's files
        # to X before the branch (HEAD is still where it was): put them back to HEAD.
        head = gitrepo.rev_parse(repo, "HEAD") if cmd in ("checkout", "switch") else None
        if head is None:
            return []  # not this worktree's branch: git changed no file here
        current = head
    lines: list[str] = []
    if cmd == "commit":
        return ["  your changes are still staged: `git switch -c my-work && git commit`, "
                "then `orch-hooks merge request my-work`"]
    paths = undo.diff_names(repo, current, new)
    if paths and undo.index_matches(repo, new, paths):
        if cmd is None:
            lines.append("  git already changed the index and files; to put back exactly those "
                         f"{len(paths)} path(s): "
                         f"`git read-tree -m -u {new[:12]} {current[:12]}`")
        else:
            worktree = undo.worktree_matches_index(repo, paths)
            if undo.move_back(repo, new, current, paths, worktree=worktree):
                where = "index and files" if worktree else "index"
                lines.append(f"  put back the {where} of the {len(paths)} path(s) "
                             f"`git {cmd}` had changed; your other changes are untouched")
                if cmd == "reset":
                    lines.append("  (`git reset` also unstaged anything else you had staged; "
                                 "it is still in your files: `git add` it again)")
            else:
                lines.append("  could not put the files back without overwriting a local "
                             f"change; to do it: `git read-tree -m -u {new[:12]} "
                             f"{current[:12]}`")
    for abort in undo.in_progress(repo):
        lines.append(f"  `{abort}` ends the half-done {shlex.split(abort)[1]} "
                     "(changes no file)")
    return lines
