"""Object stores for the orch refs: in process (pygit2) or git plumbing processes.

Both write the same objects: a commit's tree is flat (one blob per name), its
author and committer are ``orch-hooks <orch-hooks@localhost>`` at the given
second in UTC, its message is stored as given; so a table written by one is
read and replayed by the other, and the same inputs give the same commit id.

:class:`InProcess` suits a long-running process that already paid for the
pygit2 import (about 100 ms); :class:`Plumbing` suits a one-shot command, where a
handful of `git` processes (ls-tree, hash-object, mktree, commit-tree,
update-ref) cost less than that import. See docs/ARCHITECTURE.md (performance).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from orch_core.errors import GitFailed
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git.repo import NO_HOOKS, ORCH_EMAIL, ORCH_NAME, ZERO_OID, Oid, Repo, no_git_env

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    import pygit2

    class Odb(gitrefs.RefStore, Protocol):
        """What the CAS writers of refs/orch/* need from git."""

        def read_file(self, commit: Oid, name: str) -> bytes | None: ...

        def files(self, commit: Oid) -> dict[str, bytes]: ...

        def parent(self, commit: Oid) -> Oid | None: ...

        def write_tree_update(self, parent: Oid | None, changes: Mapping[str, bytes | None],
                              message: str, when: float | None = None) -> Oid: ...

        def write_snapshot(self, files: Mapping[str, bytes], parent: Oid | None, message: str,
                           when: float | None = None) -> Oid: ...


class InProcess:
    """pygit2: no process per step (the servers' path)."""

    def __init__(self, pg: pygit2.Repository) -> None:
        self.pg = pg

    def tip(self, ref: str) -> Oid | None:
        return gitrefs.ref_tip(self.pg, ref)

    def cas(self, ref: str, new: Oid, old: Oid | None, message: str) -> None:
        gitrefs.cas_ref(self.pg, ref, new, old, message)

    def read_file(self, commit: Oid, name: str) -> bytes | None:
        return gitobjects.read_snapshot_file(self.pg, commit, name)

    def files(self, commit: Oid) -> dict[str, bytes]:
        return gitobjects.snapshot_files(self.pg, commit)

    def parent(self, commit: Oid) -> Oid | None:
        return gitobjects.commit_parent(self.pg, commit)

    def write_tree_update(self, parent: Oid | None, changes: Mapping[str, bytes | None],
                          message: str, when: float | None = None) -> Oid:
        return gitobjects.write_tree_update(self.pg, parent, changes, message, when=when)

    def write_snapshot(self, files: Mapping[str, bytes], parent: Oid | None, message: str,
                       when: float | None = None) -> Oid:
        return gitobjects.write_snapshot(self.pg, files, parent, message, when=when)


# Entry of a flat tree as `git ls-tree` prints it: (mode, type, oid).
TreeEntry = tuple[str, str, str]

# The orch dir's file holding the tree of the last commit written by Plumbing.
LAST_TREE = "last-tree"

# Options that keep user configuration out of what orch writes: no signature on
# its commits, no hooks on its ref updates (libgit2 runs neither).
_SEALED = (*NO_HOOKS, "-c", "commit.gpgSign=false", "-c", "i18n.commitEncoding=UTF-8")


class Plumbing:
    """git plumbing processes: no pygit2 import (the one-shot commands' path)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._trees: dict[str, dict[str, TreeEntry]] = {}

    def _git(self, *args: str, input: bytes | None = None, check: bool = True,
             env: Mapping[str, str] | None = None) -> bytes:
        proc = self.repo.run(*_SEALED, *args, input=input, check=check,
                             env=no_git_env(env))
        return proc.stdout

    def tip(self, ref: str) -> Oid | None:
        return gitrefs.read_ref_file(self.repo.common_dir, ref)

    def cas(self, ref: str, new: Oid, old: Oid | None, message: str) -> None:
        proc = self.repo.run(*_SEALED, "update-ref", "-m", message, ref, new, old or ZERO_OID,
                             check=False, env=no_git_env(_identity(time.time())))
        if proc.returncode == 0:
            return
        err = proc.stderr.decode(errors="replace").strip()
        if "cannot lock ref" in err or "File exists" in err or "expected" in err:
            raise gitrefs.CasMismatch(err)
        raise GitFailed(f"`git update-ref {ref}` failed: {err}",
                        hint="git failed. Is the repository writable?")

    def tree(self, commit: Oid) -> dict[str, TreeEntry]:
        """The flat tree of ``commit`` by name (one `git ls-tree`, remembered; see
        :meth:`_recall` for the commit this clone wrote last)."""
        hit = self._trees.get(commit)
        if hit is None:
            hit = self._recall(commit)
        if hit is not None:
            return hit
        out = gitobjects.flat_tree(self.repo, commit)
        self._trees[commit] = out
        return out

    def _recall(self, commit: Oid) -> dict[str, TreeEntry] | None:
        """The flat tree of ``commit`` if it is the last commit a Plumbing of this clone
        wrote (the file LAST_TREE in the orch dir), else None.

        The next lock write builds on that commit, and a commit's tree never changes,
        so the `git ls-tree` a one-shot write would start is saved (docs/ARCHITECTURE.md,
        performance budgets). Whatever the file holds, `git mktree` still checks that
        every entry names a stored object before a commit uses it.
        """
        try:
            with open(self.repo.orch_dir / LAST_TREE, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        head, _nl, rest = data.partition(b"\n")
        trailer = b"\nend " + commit.encode() + b"\n"
        if head != commit.encode() or not rest.endswith(trailer):
            return None
        out: dict[str, TreeEntry] = {}
        for rec in rest[:-len(trailer)].decode(errors="surrogateescape").split("\0")[:-1]:
            meta, _tab, name = rec.partition("\t")
            parts = meta.split(" ")
            if len(parts) != 3 or not name:
                return None
            out[name] = (parts[0], parts[1], parts[2])
        self._trees[commit] = out
        return out

    def _remember(self, commit: Oid, listing: str) -> None:
        """Keep ``listing`` (``commit``'s tree as `git mktree -z` read it) for :meth:`_recall`."""
        orch = self.repo.orch_dir
        tmp = orch / f"{LAST_TREE}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(f"{commit}\n{listing}\nend {commit}\n".encode(errors="surrogateescape"))
            os.replace(tmp, orch / LAST_TREE)
        except OSError:  # no orch dir (yet), a read-only one: the next write runs ls-tree
            with contextlib.suppress(OSError):
                tmp.unlink()

    def read_file(self, commit: Oid, name: str) -> bytes | None:
        entry = self.tree(commit).get(name)
        if entry is None or entry[1] != "blob":
            return None
        return gitobjects.cat_objects(self.repo, [entry[2]]).get(entry[2])

    def files(self, commit: Oid) -> dict[str, bytes]:
        blobs = {n: e[2] for n, e in self.tree(commit).items() if e[1] == "blob"}
        data = gitobjects.cat_objects(self.repo, list(blobs.values()))
        return {n: data.get(oid) or b"" for n, oid in blobs.items()}

    def parent(self, commit: Oid) -> Oid | None:
        from orch_core.git import history as githistory  # here: a lock write needs none

        parents = githistory.parents_of(self.repo, commit)
        if parents is None:
            raise GitFailed(f"{commit} is not a commit here", hint="the object is missing")
        return parents[0] if parents else None

    def _blobs(self, datas: Sequence[bytes]) -> list[str]:
        """Write blobs, one process for any number of them; those already stored
        (found by their SHA-1 name in one `cat-file --batch-check`) are not rewritten."""
        if not datas:  # a write that only removes entries (a release) has no blob
            return []
        if len(datas) == 1:
            return [self._git("hash-object", "-w", "--stdin", input=datas[0]).decode().strip()]
        import hashlib  # here, not at the top: a one-lock write has one blob
        import tempfile

        names = [hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest() for d in datas]
        check = self._git("cat-file", "--batch-check", input="".join(
            f"{n}\n" for n in names).encode()).decode().splitlines()
        stored = {ln.split()[0] for ln in check if ln.split()[1:2] != ["missing"]}
        missing = [i for i, n in enumerate(names) if n not in stored]
        if not missing:
            return names
        self.repo.orch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="blobs-", dir=self.repo.orch_dir) as tmp:
            paths = []
            for i in missing:
                path = Path(tmp) / str(i)
                path.write_bytes(datas[i])
                paths.append(str(path))
            out = self._git("hash-object", "-w", "--no-filters", "--stdin-paths",
                            input="".join(f"{p}\n" for p in paths).encode())
        for i, oid in zip(missing, out.decode().split(), strict=True):
            names[i] = oid  # in a SHA-256 repository every blob lands here
        return names

    def write_tree_update(self, parent: Oid | None, changes: Mapping[str, bytes | None],
                          message: str, when: float | None = None) -> Oid:
        entries = dict(self.tree(parent)) if parent else {}
        written = sorted(n for n, d in changes.items() if d is not None)
        oids = self._blobs([changes[n] or b"" for n in written])
        for name in changes:
            entries.pop(name, None)
        entries.update({n: ("100644", "blob", oid) for n, oid in zip(written, oids, strict=True)})
        return self._commit(entries, parent, message, when)

    def write_snapshot(self, files: Mapping[str, bytes], parent: Oid | None, message: str,
                       when: float | None = None) -> Oid:
        names = sorted(files)
        oids = self._blobs([files[n] for n in names])
        entries = {n: ("100644", "blob", oid) for n, oid in zip(names, oids, strict=True)}
        return self._commit(entries, parent, message, when)

    def _commit(self, entries: Mapping[str, TreeEntry], parent: Oid | None, message: str,
                when: float | None) -> Oid:
        listing = "".join(f"{m} {t} {o}\t{n}\0" for n, (m, t, o) in sorted(entries.items()))
        tree = self._git("mktree", "-z", input=listing.encode(errors="surrogateescape"))
        tree_oid = tree.decode().strip()
        parents = ["-p", parent] if parent else []
        ts = when if when is not None else time.time()
        out = self._git("commit-tree", "--no-gpg-sign", tree_oid, *parents,
                        input=message.encode(), env=_identity(ts))
        commit = Oid(out.decode().strip())
        self._trees[commit] = dict(entries)
        self._remember(commit, listing)
        return commit


def _identity(when: float) -> dict[str, str]:
    """Author and committer as InProcess writes them (pygit2.Signature(..., ts, 0))."""
    stamp = f"@{int(when)} +0000"
    env = no_git_env()
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = ORCH_NAME
        env[f"GIT_{role}_EMAIL"] = ORCH_EMAIL
        env[f"GIT_{role}_DATE"] = stamp
    return env


def open_odb(repo: Repo, pg: Callable[[], pygit2.Repository] | None) -> Odb:
    """InProcess over ``pg()`` when given, else Plumbing."""
    if pg is not None:
        return InProcess(pg())
    return Plumbing(repo)
