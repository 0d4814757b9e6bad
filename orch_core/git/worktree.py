"""Worktrees: list, add, remove, dirty checks, snapshots, merges in a work tree."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from orch_core.errors import GitFailed
from orch_core.git.refs import worktree_branch as worktree_branch  # lives beside HEAD reads
from orch_core.git.repo import NO_HOOKS, Oid, Repo, git_in, no_git_env, run


@dataclass(frozen=True)
class WorktreeEntry:
    """One entry of `git worktree list --porcelain`."""

    path: Path
    head: Oid | None
    branch: str | None  # short name, None when detached
    locked: bool
    prunable: bool


def worktree_list(repo: Repo) -> list[WorktreeEntry]:
    proc = git_in(repo.toplevel, "worktree", "list", "--porcelain", "-z")
    out: list[WorktreeEntry] = []
    for block in proc.stdout.decode(errors="surrogateescape").split("\x00\x00"):
        fields = [f for f in block.split("\x00") if f]
        if not fields or not fields[0].startswith("worktree "):
            continue
        info: dict[str, str] = {}
        for f in fields:
            key, _, value = f.partition(" ")
            info[key] = value
        if "bare" in info:
            continue
        branch = info.get("branch")
        out.append(WorktreeEntry(
            path=Path(info["worktree"]),
            head=Oid(info["HEAD"]) if info.get("HEAD") else None,
            branch=branch.removeprefix("refs/heads/") if branch else None,
            locked="locked" in info,
            prunable="prunable" in info,
        ))
    return out


def worktree_add(repo: Repo, path: Path, branch: str, base: str) -> None:
    """A new worktree at ``path`` on a new branch ``branch`` starting at ``base``."""
    git_in(repo.toplevel, "worktree", "add", "-q", "-b", branch, str(path), base)


def worktree_remove(repo: Repo, path: Path) -> None:
    # --force: the caller has already saved whatever was uncommitted (see work/rescue.py).
    git_in(repo.toplevel, "worktree", "remove", "--force", str(path))


def worktree_move(repo: Repo, src: Path, dst: Path) -> None:
    git_in(repo.toplevel, "worktree", "move", str(src), str(dst))


def worktree_head(path: Path) -> Oid | None:
    proc = git_in(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    return Oid(proc.stdout.decode().strip()) if proc.returncode == 0 else None


def worktree_prune(repo: Repo) -> None:
    git_in(repo.toplevel, "worktree", "prune")


def worktree_dirty(path: Path, untracked: bool = True) -> list[str]:
    """Uncommitted changes, untracked files included unless told otherwise (ignored
    files never are)."""
    proc = git_in(path, "status", "--porcelain=v1", "-z",
                   "--untracked-files=" + ("all" if untracked else "no"))
    out: list[str] = []
    entries = iter(proc.stdout.decode(errors="surrogateescape").split("\x00"))
    for e in entries:
        if len(e) > 3:
            out.append(e[3:])
            if e[0] in "RC":
                next(entries, None)  # the rename/copy source follows as its own entry
    return out


def worktree_ignored(path: Path) -> list[str] | None:
    """Files git ignores in the worktree (what `git worktree remove --force` deletes
    with no commit holding them); None when git status fails."""
    proc = git_in(path, "status", "--porcelain=v1", "-z", "--ignored=matching",
                  "--untracked-files=all", check=False)
    if proc.returncode != 0:
        return None
    return [e[3:] for e in proc.stdout.decode(errors="surrogateescape").split("\x00")
            if e.startswith("!! ")]


def staged_paths(repo: Repo) -> list[str]:
    """Paths the index changes against HEAD (both sides of a rename)."""
    proc = repo.run("diff", "--cached", "--name-only", "--no-renames", "--no-ext-diff", "-z")
    return [p for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p]


def snapshot_worktree(path: Path, git_dir: Path, message: str) -> Oid:
    """A commit on top of HEAD holding the worktree exactly as it is (tracked and
    untracked files), written through a temporary index so the real one is untouched."""
    tmp_index = git_dir / f"orch-rescue-index.{os.getpid()}"
    env = no_git_env()
    env["GIT_INDEX_FILE"] = str(tmp_index)
    try:
        real = git_dir / "index"
        if real.exists():
            tmp_index.write_bytes(real.read_bytes())
        git_in(path, "add", "-A", "--", ".", env=env)
        tree = git_in(path, "write-tree", env=env).stdout.decode().strip()
        head = git_in(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        parents = ["-p", head.stdout.decode().strip()] if head.returncode == 0 else []
        proc = git_in(path, "commit-tree", tree, *parents, input=message.encode(), env=env)
        return Oid(proc.stdout.decode().strip())
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_index.unlink()


def checked_out(path: Path) -> str | None:
    """The full ref of the branch checked out at ``path`` (None: detached HEAD)."""
    proc = git_in(path, "symbolic-ref", "-q", "HEAD", check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode(errors="surrogateescape").strip() or None


def merge_branch(path: Path, branch: str, message: str) -> tuple[bool, list[str], str]:
    """Merge ``branch`` into the branch checked out at ``path``.

    On conflict the merge is aborted (the worktree is left as it was) and the
    conflicting paths are returned: (merged, conflicts, new HEAD or "").
    """
    proc = git_in(path, "merge", "--no-ff", "--no-edit", "-m", message, branch, check=False)
    if proc.returncode == 0:
        head = git_in(path, "rev-parse", "HEAD").stdout.decode().strip()
        return True, [], head
    unmerged = git_in(path, "diff", "--name-only", "--diff-filter=U", "-z", check=False)
    conflicts = [p for p in unmerged.stdout.decode(errors="surrogateescape").split("\x00") if p]
    git_in(path, "merge", "--abort", check=False)
    if not conflicts:
        err = (proc.stderr or proc.stdout).decode(errors="replace").strip()
        raise GitFailed(f"git merge {branch} failed: {err}",
                        hint="resolve the problem in that worktree and retry")
    return False, conflicts, ""


def land_worktree_add(repo: Repo, path: Path, commit: str) -> None:
    repo.run(*NO_HOOKS, "worktree", "add", "--detach", "-q", str(path), commit)


def land_worktree_remove(repo: Repo, path: Path) -> None:
    repo.run(*NO_HOOKS, "worktree", "remove", "--force", "--force", str(path), check=False)
    repo.run("worktree", "prune", check=False)


def land_worktrees_prune(repo: Repo, root: Path, keep: str) -> None:
    """Remove every landing worktree under ``root`` but ``keep`` (left by older runs)."""
    import shutil

    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.name != keep and child.is_dir():
            land_worktree_remove(repo, child)
            shutil.rmtree(child, ignore_errors=True)


def worktree_heads(repo: Repo) -> list[dict[str, str]]:
    """`git worktree list --porcelain` as dicts with worktree, HEAD and branch."""
    out: list[dict[str, str]] = []
    proc = repo.run("worktree", "list", "--porcelain", "-z")
    cur: dict[str, str] = {}
    for field_ in proc.stdout.decode(errors="surrogateescape").split("\0"):
        if not field_:
            if cur:
                out.append(cur)
            cur = {}
            continue
        key, _, value = field_.partition(" ")
        cur[key] = value
    if cur:
        out.append(cur)
    return out


def dirty(cwd: Path) -> list[str]:
    """Tracked changes (staged or not) in the worktree at ``cwd``.

    ``--no-optional-locks``: a plain `git status` rewrites the index (taking
    index.lock) to refresh stat data, which made the lander's own `git merge
    --ff-only` in that worktree fail when another process looked at the same time.
    """
    proc = run(["git", "--no-optional-locks", "status", "--porcelain", "-z",
                "--untracked-files=no"], cwd=cwd, env=no_git_env())
    return [p[3:] for p in proc.stdout.decode(errors="surrogateescape").split("\0") if p[3:]]
