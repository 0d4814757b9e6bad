"""What install and uninstall ask git: the hooks dir's scope, the default branch, the
notes rewrite settings, orch's refs and worktrees, and rescue bundles."""

from __future__ import annotations

from pathlib import Path

from orch_core.git.repo import Repo


def config_scope(repo: Repo, key: str) -> str | None:
    """The scope (system, global, local, worktree, command) that sets ``key``, or None."""
    proc = repo.run("config", "--show-scope", "--get", key, check=False)
    if proc.returncode != 0:
        return None
    scope, _tab, _value = proc.stdout.decode(errors="replace").strip().partition("\t")
    return scope or None


def git_copies_notes(repo: Repo, ref: str) -> list[str]:
    """The ``notes.rewriteRef`` values ("value (scope)") that make git's own amend or
    rebase copy the notes of ``ref``; empty when none matches or git's copying is off
    for both commands (``notes.rewrite.amend``/``rebase`` false)."""
    import fnmatch

    switches = [repo.run("config", "--type=bool", "--get", f"notes.rewrite.{cmd}",
                         check=False).stdout.decode().strip() for cmd in ("amend", "rebase")]
    if all(s == "false" for s in switches):
        return []
    proc = repo.run("config", "--show-scope", "--get-all", "notes.rewriteRef", check=False)
    out: list[str] = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        scope, _tab, value = line.partition("\t")
        if value and fnmatch.fnmatchcase(ref, value.strip()):
            out.append(f"{value.strip()} ({scope})")
    return out


def local_config_get(repo: Repo, key: str) -> str | None:
    proc = repo.run("config", "--local", "--get", key, check=False)
    return proc.stdout.decode(errors="replace").strip() if proc.returncode == 0 else None


def local_config_set(repo: Repo, key: str, value: str) -> None:
    repo.run("config", "--local", key, value)


def local_config_unset(repo: Repo, key: str) -> None:
    repo.run("config", "--local", "--unset", key, check=False)


def default_branch(repo: Repo) -> tuple[str, str]:
    """The repository's real default branch and where that came from: the upstream's
    HEAD (``refs/remotes/<remote>/HEAD``, origin first), else ``init.defaultBranch``,
    else the branch checked out."""
    remotes = [r for r in repo.git("remote").split() if r]
    remotes.sort(key=lambda r: r != "origin")
    for remote in remotes:
        proc = repo.run("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", check=False)
        target = proc.stdout.decode(errors="replace").strip()
        prefix = f"refs/remotes/{remote}/"
        if proc.returncode == 0 and target.startswith(prefix):
            return target[len(prefix):], f"{remote}/HEAD"
    proc = repo.run("config", "--get", "init.defaultBranch", check=False)
    name = proc.stdout.decode(errors="replace").strip()
    if proc.returncode == 0 and name:
        return name, "init.defaultBranch"
    proc = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    name = proc.stdout.decode(errors="replace").strip()
    if proc.returncode == 0 and name:
        return name, "the branch checked out"
    return "main", "git's default"


def refs_under(repo: Repo, *prefixes: str) -> list[tuple[str, str]]:
    """(ref, oid) of every ref under the prefixes (``refs/orch/``, ``refs/notes/orch``)."""
    proc = repo.run("for-each-ref", "--format=%(refname) %(objectname)", *prefixes,
                    check=False)
    out: list[tuple[str, str]] = []
    for line in proc.stdout.decode(errors="surrogateescape").splitlines():
        ref, _sp, oid = line.partition(" ")
        if ref and oid:
            out.append((ref, oid))
    return out


def delete_refs(repo: Repo, refs: list[str]) -> None:
    if refs:
        text = "".join(f"delete {r}\n" for r in refs)
        repo.run("update-ref", "--stdin", input=text.encode())


def unmerged_branches(repo: Repo, branches: list[str], into: list[str]) -> list[str]:
    """Of ``branches`` (short names), those whose tip is not reachable from ``into``."""
    out: list[str] = []
    for b in branches:
        tip = repo.run("rev-parse", "--verify", "--quiet", f"refs/heads/{b}^{{commit}}",
                       check=False)
        if tip.returncode != 0:
            continue
        oid = tip.stdout.decode().strip()
        reachable = False
        for ref in into:
            proc = repo.run("merge-base", "--is-ancestor", oid, ref, check=False)
            if proc.returncode == 0:
                reachable = True
                break
        if not reachable:
            out.append(b)
    return out


def create_bundle(repo: Repo, path: Path, refs: list[str]) -> None:
    repo.run("bundle", "create", "-q", str(path), *refs)


def stash_create(worktree: Path) -> str | None:
    """A commit holding the worktree's uncommitted changes (tracked and untracked),
    without touching the worktree; None when there is nothing to save."""
    from orch_core.git.repo import git_in

    git_in(worktree, "add", "-A", "--intent-to-add", check=False)
    proc = git_in(worktree, "stash", "create", "orch-hooks uninstall --purge", check=False)
    oid = proc.stdout.decode().strip()
    return oid or None


def update_ref(repo: Repo, ref: str, oid: str, message: str) -> None:
    repo.run("update-ref", "-m", message, ref, oid)


def create_empty_notes_ref(repo: Repo, ref: str) -> bool:
    """Create ``ref`` as an empty notes commit if it does not exist (True if created).

    With notes.rewriteRef naming a notes ref that does not exist yet, every rebase
    prints "warning: notes ref ... is invalid"; an empty notes tree is valid.
    The update only creates (old value: none), so a concurrent writer wins.
    """
    if repo.run("rev-parse", "-q", "--verify", ref, check=False).returncode == 0:
        return False
    tree = repo.run("mktree", input=b"").stdout.decode().strip()
    commit = repo.run("-c", "commit.gpgSign=false", "commit-tree", tree, "-m",
                      "orch-hooks: checkpoint notes").stdout.decode().strip()
    proc = repo.run("-c", "core.hooksPath=/dev/null", "update-ref", "-m",
                    "orch-hooks install", ref, commit, "", check=False)
    return proc.returncode == 0

