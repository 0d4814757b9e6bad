"""Which git command is running the hook we are in (read from /proc, no process started)."""

from __future__ import annotations

import os
from pathlib import Path

# git's global options that take a separate argument (git(1)).
_GLOBAL_WITH_ARG = {"-c", "-C", "--exec-path", "--git-dir", "--work-tree", "--namespace",
                    "--super-prefix", "--config-env"}


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # Field 4, after "(comm)" which may itself contain spaces or parentheses.
    rest = stat.rsplit(")", 1)[-1].split()
    return int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else 0


def _sub_index(argv: list[str]) -> int | None:
    """Index of the subcommand in a git command line (0 for ``git-NAME``)."""
    if not argv:
        return None
    name = os.path.basename(argv[0])
    if name.startswith("git-") and len(name) > 4:
        return 0
    if name != "git":
        return None
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in _GLOBAL_WITH_ARG:
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            return i
    return None


def subcommand(argv: list[str]) -> str | None:
    """``git -c x=y merge --ff-only o/main`` -> ``merge``; None if argv is not git's."""
    i = _sub_index(argv)
    if i is None:
        return None
    return os.path.basename(argv[0])[4:] if i == 0 else argv[i]


def git_argv(start: int | None = None) -> list[str]:
    """The command line of the git process whose hook we are in ([] if unknown).

    Walks up a few parents: the shim may run Python in a subshell. Linux /proc
    only; elsewhere the caller is unknown and callers fall back to the safe side.
    """
    pid = os.getppid() if start is None else start
    for _ in range(4):
        if pid <= 1:
            return []
        argv = _cmdline(pid)
        if subcommand(argv) is not None:
            return argv
        pid = _parent(pid)
    return []


def fetch_refspecs(argv: list[str]) -> tuple[str, list[tuple[str, str]]] | None:
    """``git fetch [opts] REMOTE SRC:DST...`` -> (REMOTE, [(src, dst), ...]) as full refs."""
    if subcommand(argv) != "fetch":
        return None
    # Options that take a separate value make the remote unrecognisable: the caller
    # then refuses, the safe side.
    words = argv[(_sub_index(argv) or 0) + 1:]
    if "--" in words:
        words = words[:words.index("--")] + words[words.index("--") + 1:]
    args = [w for w in words if not w.startswith("-")]
    if not args:
        return None
    specs: list[tuple[str, str]] = []
    for spec in args[1:]:
        src, sep, dst = spec.lstrip("+").partition(":")
        if sep and src and dst:
            specs.append((_full(src), _full(dst)))
    return args[0], specs


def _full(name: str) -> str:
    return name if name.startswith("refs/") else "refs/heads/" + name




def branch_rename(argv: list[str]) -> tuple[str | None, str] | None:
    """``git branch -m|-M|--move [OLD] NEW`` -> (OLD or None for the current branch,
    NEW as a full ref); None for any other command. Copies (``-c``/``-C``) delete
    nothing and are not renames."""
    if subcommand(argv) != "branch":
        return None
    words = argv[(_sub_index(argv) or 0) + 1:]
    moving = False
    names: list[str] = []
    only_names = False
    for w in words:
        if only_names or not w.startswith("-") or w == "-":
            names.append(w)
        elif w == "--":
            only_names = True
        elif w in ("--move", "-m", "-M") or (not w.startswith("--") and ("m" in w or "M" in w)):
            moving = True
    if not moving or not names or len(names) > 2:
        return None
    old = names[0] if len(names) == 2 else None
    return (_full(old) if old else None), _full(names[-1])


def discards_changes(argv: list[str]) -> str | None:
    """The option by which this git command overwrote uncommitted changes before any
    hook could run: ``git reset --hard`` (``--merge`` drops what was staged) and
    ``git checkout|switch -f``. None for every other command line.

    git writes the index and files of these commands first and updates the refs
    after, so a refusal of the ref update comes too late to keep what they
    overwrote (docs/ARCHITECTURE.md, "Refusals leave nothing half-done").
    """
    sub = subcommand(argv)
    words = argv[(_sub_index(argv) or 0) + 1:]
    if "--" in words:
        words = words[:words.index("--")]
    if sub == "reset":
        for w in words:
            if w in ("--hard", "--merge"):
                return w
        return None
    if sub in ("checkout", "switch"):
        for w in words:
            if w in ("--force", "--discard-changes") or (
                    w.startswith("-") and not w.startswith("--") and "f" in w[1:]):
                return w
    return None
