"""The server side of remote mode: what a pre-receive hook (and ``server repair``)
asks git about objects and refs of a bare repository (docs/ARCHITECTURE.md,
"The server hook")."""

from __future__ import annotations

from collections.abc import Sequence

from orch_core.git.remote import _server_git
from orch_core.git.repo import ZERO_OID, Oid, Repo


def object_types(repo: Repo, oids: Sequence[str]) -> dict[str, str]:
    """Each object's type as the server sees it ("missing" when it has none)."""
    if not oids:
        return {}
    proc = _server_git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                       input="".join(f"{o}\n" for o in oids).encode(), check=False)
    out = {o: "missing" for o in oids}
    for line in proc.stdout.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in out:
            out[parts[0]] = parts[1]
    return out


def peeled_commit(repo: Repo, oid: str) -> Oid | None:
    """The commit an object (a tag, perhaps nested) points at; None: none."""
    proc = _server_git(repo, "rev-parse", "-q", "--verify", f"{oid}^{{commit}}", check=False)
    out = proc.stdout.decode().strip()
    return Oid(out) if proc.returncode == 0 and out else None


def messages(repo: Repo, old: str, new: str) -> list[str]:
    """The messages of the commits from ``old`` (exclusive) to ``new``."""
    rng = [new] if old == ZERO_OID else [new, f"^{old}"]
    proc = _server_git(repo, "log", "--format=%B%x00", *rng, check=False)
    return [m for m in proc.stdout.decode(errors="replace").split("\x00") if m.strip()]


def is_ancestor(repo: Repo, old: str, new: str) -> bool:
    return _server_git(repo, "merge-base", "--is-ancestor", old, new).returncode == 0


def parents_of(repo: Repo, commit: str) -> list[str] | None:
    """A commit's parents as the server sees them; None: not a commit there."""
    proc = _server_git(repo, "rev-list", "--parents", "-n", "1", f"{commit}^{{commit}}",
                       "--")
    parts = proc.stdout.decode().split()
    if proc.returncode != 0 or not parts or parts[0] != commit:
        return None
    return parts[1:]


def changed_since_fork(repo: Repo, base: str, tip: str) -> list[str]:
    """The paths ``tip`` changes since it forked from ``base`` (``git diff base...tip``)."""
    proc = _server_git(repo, "-c", "core.quotePath=false", "diff", "--no-renames",
                       "--name-only", "-z", f"{base}...{tip}", "--")
    return [p for p in proc.stdout.decode(errors="surrogateescape").split("\x00") if p]


def refs_under(repo: Repo, prefixes: Sequence[str]) -> dict[str, str]:
    proc = _server_git(repo, "for-each-ref", "--format=%(objectname) %(refname)", *prefixes)
    out: dict[str, str] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        oid, _, name = line.partition(" ")
        if name:
            out[name] = oid
    return out


def move_ref(repo: Repo, ref: str, new: str, old: str) -> bool:
    """``git update-ref REF NEW OLD`` (no hooks run); False when it did not move."""
    return _server_git(repo, "update-ref", "-m", "orch-hooks repair", ref, new,
                       old).returncode == 0
