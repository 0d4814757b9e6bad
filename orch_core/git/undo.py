"""What a refused branch update left in the index and work tree, and putting it back.

git updates the index and work tree before it updates the branch (fast-forward
merge, reset, cherry-pick, revert, am): when the reference-transaction hook
refuses the branch update, those files have already moved. These helpers find
out whether they did and move exactly those paths back (docs/ARCHITECTURE.md,
"Refusals leave nothing half-done").
"""

from __future__ import annotations

from orch_core.git.repo import Repo

# Files in the git dir that mean a command is half-way and has its own --abort/--quit.
IN_PROGRESS = {
    "MERGE_HEAD": "git merge --quit",
    "CHERRY_PICK_HEAD": "git cherry-pick --quit",
    "REVERT_HEAD": "git revert --quit",
    # A rebase refused at its last step: the branch never moved, so --abort (back to
    # the branch as it was) loses nothing; --quit would leave HEAD detached.
    "rebase-merge": "git rebase --abort",
    "rebase-apply": "git am --quit",
}


def diff_names(repo: Repo, a: str, b: str) -> list[str]:
    """Paths that differ between two commits (fixed options: no renames, no user config)."""
    proc = repo.run("diff", "--name-only", "--no-renames", "--no-ext-diff", "--no-textconv",
                    "-z", a, b, "--")
    return [p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p]


def _names(repo: Repo, *args: str) -> set[str]:
    proc = repo.run(*args, "--name-only", "--no-renames", "--no-ext-diff", "-z")
    return {p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p}


def index_matches(repo: Repo, rev: str, paths: list[str]) -> bool:
    """Does the index hold ``rev``'s version of every one of ``paths``?"""
    if not paths:
        return False
    return not _names(repo, "diff-index", "--cached", rev).intersection(paths)


def worktree_matches_index(repo: Repo, paths: list[str]) -> bool:
    """Are ``paths`` in the work tree as the index has them (nothing unstaged there)?"""
    return not _names(repo, "diff-files").intersection(paths)


def move_back(repo: Repo, frm: str, to: str, paths: list[str], *, worktree: bool) -> bool:
    """Put ``paths`` back from commit ``frm`` to commit ``to``.

    With the work tree: `git read-tree -m -u FROM TO`, a two-way merge that
    changes only the paths that differ between the two trees and refuses,
    changing nothing, when that would overwrite a local change (git-read-tree(1),
    "Two Tree Merge"). Index only: `git reset TO -- PATHS`, which never touches
    the work tree.
    """
    if worktree:
        return repo.run("read-tree", "-m", "-u", frm, to, check=False).returncode == 0
    spec = "\0".join(paths).encode(errors="surrogateescape")
    proc = repo.run("--literal-pathspecs", "reset", "-q", "--pathspec-from-file=-",
                    "--pathspec-file-nul", to, input=spec, check=False)
    return proc.returncode == 0


def in_progress(repo: Repo) -> list[str]:
    """The `--abort`/`--quit` commands of whatever is half-way in this worktree."""
    out = [cmd for name, cmd in IN_PROGRESS.items() if (repo.git_dir / name).exists()]
    if (repo.git_dir / "rebase-apply" / "rebasing").exists():  # `git rebase --apply`, not am
        out = ["git rebase --abort" if c == "git am --quit" else c for c in out]
    return out


def rebase_forgot_branch(repo: Repo) -> bool:
    """A rebase whose state no longer names the branch it started on (the apply
    backend removes head-name before it moves the branch)."""
    state = [repo.git_dir / d for d in ("rebase-merge", "rebase-apply")]
    return any(d.is_dir() and not (d / "head-name").exists() for d in state)


def upstream_ref(repo: Repo, branch: str) -> str | None:
    """The remote-tracking ref ``branch`` follows, if it follows one (never a local branch)."""
    proc = repo.run("rev-parse", "--symbolic-full-name", f"{branch}@{{upstream}}", check=False)
    ref = proc.stdout.decode(errors="replace").strip()
    return ref if proc.returncode == 0 and ref.startswith("refs/remotes/") else None


def upstream_of(repo: Repo, branch: str) -> tuple[str, str] | None:
    """(remote, ref on the remote) that ``branch`` follows, from branch.NAME.remote/merge."""
    remote = repo.run("config", "--get", f"branch.{branch}.remote", check=False)
    merge = repo.run("config", "--get", f"branch.{branch}.merge", check=False)
    r = remote.stdout.decode(errors="replace").strip()
    m = merge.stdout.decode(errors="replace").strip()
    if remote.returncode or merge.returncode or not r or r == "." or not m:
        return None
    return r, m


def head_ref(repo: Repo) -> str | None:
    """The branch this worktree has checked out (``refs/heads/...``), or None if detached."""
    proc = repo.run("symbolic-ref", "-q", "HEAD", check=False)
    ref = proc.stdout.decode(errors="replace").strip()
    return ref or None


# Where `git branch -m` parks the old name's reflog while it renames (git's files
# backend): a rename refused at its first step dies with the reflog still there.
RENAMED_LOG = "logs/refs/.tmp-renamed-log"


def restore_renamed_reflog(repo: Repo, ref: str) -> bool:
    """Put the reflog a refused rename parked aside back under ``ref``'s name."""
    import os

    parked = repo.common_dir / RENAMED_LOG
    home = repo.common_dir / "logs" / ref
    if not parked.is_file() or home.exists():
        return False
    home.parent.mkdir(parents=True, exist_ok=True)
    os.replace(parked, home)
    return True
