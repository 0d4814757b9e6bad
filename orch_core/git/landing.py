"""Git in the lander's own worktree, and the one move of the base branch.

The lander (merge/lander.py) builds and tests a merge in a detached worktree it
keeps between landings; these are the git steps it takes there. Commands run
with the hooks off (the commits were checked when they were made) except the
move of the base branch, which the reference-transaction gate must see.
See docs/ARCHITECTURE.md (where main moves).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orch_core.git.repo import NO_HOOKS, ORCH_EMAIL, ORCH_NAME, Oid, Repo, no_git_env, run


@dataclass(frozen=True)
class Step:
    """How one git command went: exit status and what it printed (stdout + stderr)."""

    ok: bool
    output: str


def _git(wt: Path, *args: str, extra_env: Mapping[str, str] | None = None,
         hooks: bool = False) -> tuple[int, bytes, bytes]:
    env = no_git_env()
    env.update(extra_env or {})
    proc = run(["git", *(() if hooks else NO_HOOKS), *args], cwd=wt, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def rebase_onto(wt: Path, onto: str) -> tuple[Step, list[str], Oid | None]:
    """Rebase the commit checked out at ``wt`` onto ``onto``, committed as orch-hooks.

    On failure the rebase is aborted and the conflicting paths returned:
    (the step, conflicts, the new HEAD or None).
    """
    committer = {"GIT_COMMITTER_NAME": ORCH_NAME, "GIT_COMMITTER_EMAIL": ORCH_EMAIL}
    code, out, err = _git(wt, "rebase", "-q", onto, extra_env=committer)
    step = Step(code == 0, (out + err).decode(errors="replace"))
    if code != 0:
        _c, names, _e = _git(wt, "diff", "--name-only", "-z", "--no-relative",
                               "--diff-filter=U")
        conflicts = [p for p in names.decode(errors="surrogateescape").split("\0") if p]
        _git(wt, "rebase", "--abort")
        return step, conflicts, None
    _c, head, _e = _git(wt, "rev-parse", "HEAD")
    return step, [], Oid(head.decode().strip())


def checkout_clean(wt: Path, commit: str) -> bool:
    """Put the worktree at exactly ``commit`` (detached), untracked and ignored files
    removed; False when the worktree is unusable."""
    _git(wt, "rebase", "--abort")
    code, _out, _err = _git(wt, "checkout", "-q", "-f", "--detach", commit)
    if code != 0:
        return False
    code, _out, _err = _git(wt, "clean", "-ffdxq")
    return code == 0


def lock_worktree(repo: Repo, wt: Path, reason: str) -> None:
    """`git worktree lock` (so `git worktree prune` elsewhere leaves it alone)."""
    _git(repo.toplevel, "worktree", "lock", "--reason", reason, str(wt), hooks=True)


def fast_forward(wt: Path, commit: str, extra_env: Mapping[str, str]) -> Step:
    """Fast-forward the branch checked out at ``wt`` to ``commit`` (hooks on: the gate
    checks the move; ``extra_env`` carries the lander's token)."""
    code, out, err = _git(wt, "merge", "--ff-only", "-q", commit, extra_env=extra_env,
                          hooks=True)
    return Step(code == 0, (out + err).decode(errors="replace").strip())


def move_ref(repo: Repo, ref: str, new: str, old: str, message: str,
             extra_env: Mapping[str, str]) -> Step:
    """Compare-and-swap ``ref`` from ``old`` to ``new`` with `git update-ref` (hooks on)."""
    code, out, err = _git(repo.toplevel, "update-ref", "-m", message, ref, new, old,
                          extra_env=extra_env, hooks=True)
    return Step(code == 0, (out + err).decode(errors="replace").strip())


def undo_partial_fast_forward(wt: Path, target: str) -> list[str]:
    """Reset ``wt`` when all it has uncommitted is part of a fast-forward to ``target``.

    `git merge --ff-only` rewrites the files and the index before it moves the
    ref; a process killed in between leaves the worktree dirty. Only when each
    dirty path is one the move touches and already holds exactly its content in
    ``target`` is the worktree reset (and files the move added removed): anybody
    else's edit leaves it as it is. Returns the paths put back.
    """
    def git(*args: str) -> bytes | None:
        code, out, _err = _git(wt, *args)
        return out if code == 0 else None

    status = git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    moved = git("diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-relative",
                "HEAD", target)
    if not status or moved is None:
        return []
    dirty = sorted({f[3:] for f in status.decode(errors="surrogateescape").split("\0") if f})
    if not set(dirty) <= set(moved.decode(errors="surrogateescape").split("\0")):
        return []
    listed = git("ls-tree", "-z", target, "--", *dirty) or b""
    want = {ln.split("\t", 1)[1]: ln.split()[2]
            for ln in listed.decode(errors="surrogateescape").split("\0") if "\t" in ln}
    present = [p for p in dirty if (wt / p).is_file() and not (wt / p).is_symlink()]
    hashed = git("hash-object", "--", *present) if present else b""
    have = dict(zip(present, (hashed or b"").decode().split(), strict=False))
    if any(have.get(p) != want.get(p) or ((wt / p).exists() and p not in have)
           for p in dirty):
        return []
    if git("reset", "-q", "--hard", "HEAD") is None:
        return []
    for p in dirty:
        if (wt / p).is_file() and git("ls-files", "--error-unmatch", "--", p) is None:
            (wt / p).unlink()
    return dirty
