"""Reading the lock table at a commit through git itself (no pygit2: the hooks and the
server hook call this); an unreadable table is an error, never "no locks"."""

from __future__ import annotations

from orch_core.errors import OrchError
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.locks.table import Lock, is_table_entry, parse_tree

REF = "refs/orch/locks"


class TableUnreadable(OrchError):
    """The ref names a table that cannot be read whole: every lock is in doubt.

    Never read as "no locks" (docs/ARCHITECTURE.md: damaged state fails closed).
    """

    code = "lock_table_unreadable"

    def __init__(self, tip: str, why: str) -> None:
        super().__init__(
            f"the lock table is unreadable: {REF} points at {tip[:12]}, {why}; "
            "no lock can be trusted, so nothing that depends on them is allowed",
            hint="`orch-hooks doctor --fix` rebuilds the table from the newest readable "
                 f"state in the history of {REF}")


def read_table(repo: gitrepo.Repo, commit: str) -> tuple[list[Lock], list[str]]:
    """The table at ``commit`` through git itself (no pygit2: the hooks call this).

    Raises TableUnreadable when the commit, its tree or a table blob is missing, or
    ``commit`` is not a commit.
    """
    tree = gitobjects.flat_tree(repo, f"{commit}^{{commit}}", check=False)
    if not tree:  # an empty table, or no table at all
        why = _why_unreadable(repo, commit)
        if why:
            raise TableUnreadable(commit, why)
    entries = [(name, e[2]) for name, e in tree.items()
               if e[1] == "blob" and is_table_entry(name)]
    blobs = gitobjects.cat_objects(repo, [oid for _name, oid in entries])
    lost = [name for name, oid in entries if blobs.get(oid) is None]
    if lost:
        raise TableUnreadable(commit, f"whose blob {lost[0]} is missing")
    return parse_tree({name: blobs.get(oid) or b"" for name, oid in entries})


class TableMissing(TableUnreadable):
    """The ref is gone although this clone's state last read a table at a commit:
    deleted by hand (or by a tool), which is damage, never "no locks"."""

    code = "lock_table_missing"

    def __init__(self, last: str) -> None:
        OrchError.__init__(
            self,
            f"the lock table is missing: {REF} does not exist, but this clone's lock "
            f"table was last at {last[:12]}; no lock can be trusted, so nothing that "
            "depends on them is allowed",
            hint=f"put it back: `git update-ref {REF} {last}`, or `orch-hooks doctor --fix`")


class TableUntrusted(TableUnreadable):
    """The ref names a commit no orch-hooks writer of this clone made (``git
    commit-tree`` + ``git update-ref`` by hand): its table is not believed."""

    code = "lock_table_untrusted"

    def __init__(self, tip: str, behind: str = "") -> None:
        what = (f"an older table than the one this clone last read ({behind[:12]}): "
                "moved back by hand?" if behind else
                "a commit no orch-hooks writer of this clone made (made by hand?)")
        OrchError.__init__(
            self,
            f"the lock table is not trusted: {REF} points at {tip[:12]}, {what}; no "
            "lock can be trusted, so nothing that depends on them is allowed",
            hint="`orch-hooks doctor --fix` puts back the newest table orch-hooks wrote")


def _no_ref(repo: gitrepo.Repo) -> None:
    """No tip was read: make sure the ref is absent, not a loose file holding garbage."""
    try:
        text = (repo.common_dir / REF).read_bytes()[:80].decode(errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        raise TableUnreadable("(unreadable)", f"a file git cannot read ({e.strerror})") from e
    raise TableUnreadable(repr(text), "which is not an object name")


def _why_unreadable(repo: gitrepo.Repo, commit: str) -> str:
    """What is wrong with ``commit`` as a table commit ('' when nothing is)."""
    kind = gitobjects.object_type(repo, commit)
    if kind is None:
        return "an object missing from the repository (pruned by gc?)"
    if kind != "commit":
        return f"a {kind}, not a commit"
    if gitobjects.object_type(repo, f"{commit}^{{tree}}") != "tree":
        return "a commit whose tree is missing"
    return ""


def readable(repo: gitrepo.Repo, commit: str) -> bool:
    """Can the table at ``commit`` be read whole?"""
    try:
        read_table(repo, commit)
    except TableUnreadable:
        return False
    return True
