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
  command that puts the files back is printed;
- `git reset --hard|--merge` and `git checkout|switch -f` overwrote uncommitted
  changes before any hook ran: the paths the command changed are moved back
  to the branch's commit as above, and the message says what git had already
  discarded and how to find staged content again (`git fsck --lost-found`); it
  never claims the other changes are untouched.

Never advises `git reset --hard` (docs/ARCHITECTURE.md, "Refusals leave nothing
half-done").
"""

from __future__ import annotations

import shlex

from orch_core.git import caller, undo
from orch_core.git import repo as gitrepo
from orch_core.git.repo import Repo


def after_refusal(repo: Repo, ref: str, current: str, new: str,
                  command: str | None = None, *, protected: bool = True) -> list[str]:
    """Lines for the refusal message; puts back the index and work tree where safe.

    ``protected``: refused because ``ref`` is a protected branch (else by the lock
    rule on an ordinary branch, where moving the commit to a branch would not help).
    """
    argv = caller.git_argv() if command is None else []
    cmd = command if command is not None else caller.subcommand(argv)
    discarded = caller.discards_changes(argv)
    if undo.head_ref(repo) != ref:
        # `git checkout -B main X` / `git switch -C main X` move this worktree's files
        # to X before the branch (HEAD is still where it was): put them back to HEAD.
        head = gitrepo.rev_parse(repo, "HEAD") if cmd in ("checkout", "switch") else None
        if head is None:
            # Not this worktree's branch: git changed no file here. A rebase finishing
            # on a detached HEAD still has its state to end.
            return _abort_lines(repo, ref)
        current = head
    lines: list[str] = []
    if cmd == "commit":
        if not protected:
            return ["  your changes are still staged; the paths named above are locked by "
                    "another session: ask its holder, wait for the release, or unstage "
                    "them (`git restore --staged -- PATH`) and commit the rest"]
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
                if discarded:
                    lines.append(f"  put back the {where} of the {len(paths)} path(s) "
                                 f"`git {cmd}` had changed to your branch's commit")
                else:
                    lines.append(f"  put back the {where} of the {len(paths)} path(s) "
                                 f"`git {cmd}` had changed; your other changes are untouched")
                if cmd == "reset" and not discarded:
                    lines.append("  (`git reset` also unstaged anything else you had staged; "
                                 "it is still in your files: `git add` it again)")
            else:
                lines.append("  could not put the files back without overwriting a local "
                             f"change; to do it: `git read-tree -m -u {new[:12]} "
                             f"{current[:12]}`")
    if discarded:
        lines += _discarded(cmd or "git", discarded)
    return lines + _abort_lines(repo, ref)


def _abort_lines(repo: Repo, ref: str) -> list[str]:
    lines: list[str] = []
    for abort in undo.in_progress(repo):
        what = shlex.split(abort)[1]
        if abort == "git rebase --abort" and undo.rebase_forgot_branch(repo):
            # `git rebase --apply` refused at its last step has already dropped the
            # branch's name from its state: --abort cannot find the way back.
            name = shlex.quote(ref.removeprefix("refs/heads/"))
            lines.append(f"  `git rebase --quit && git switch {name}` ends the half-done "
                         "rebase and returns to the branch as it was (it did not move)")
            continue
        if abort.endswith("--abort"):
            lines.append(f"  `{abort}` ends the half-done {what} and puts the branch's "
                         "files back as they were before it (the branch did not move)")
        else:
            lines.append(f"  `{abort}` ends the half-done {what} (changes no file)")
    return lines


def _discarded(cmd: str, option: str) -> list[str]:
    """What `git CMD OPTION` had already thrown away before the refusal, and how to
    find what can still be found (git runs no hook before it writes the files)."""
    lost = ("anything you had staged (`git add`) and not committed is no longer in the "
            "index" if option == "--merge" else
            "every uncommitted change to a tracked file is gone (git wrote the files "
            "before any hook could run; nothing can bring back edits never added)")
    return [f"  `git {cmd} {option}` had already overwritten your uncommitted changes "
            f"before the branch update was refused: {lost}",
            "  content you had staged is still in the object store: "
            "`git fsck --lost-found` writes each such blob to lost-found/other/ "
            "in the git directory",
            f"  next time: `git stash` first, or `git {cmd} --keep`, which refuses rather "
            "than overwrite a local change" if cmd == "reset" else
            "  next time: `git stash` first"]
