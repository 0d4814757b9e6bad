"""Objects: blobs, trees and commits read and written (pygit2 or cat-file)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from orch_core.git.repo import (
    EARLY_BATCH,
    ORCH_EMAIL,
    ORCH_NAME,
    Oid,
    Repo,
    finish_early,
    git_in,
)

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import pygit2


def write_snapshot(pg: pygit2.Repository, files: Mapping[str, bytes], parent: Oid | None,
                   message: str, when: float | None = None) -> Oid:
    """Write a commit whose tree holds ``files`` (flat names) on top of ``parent``."""
    import pygit2

    tb = pg.TreeBuilder()
    for name in sorted(files):
        tb.insert(name, pg.create_blob(files[name]), pygit2.GIT_FILEMODE_BLOB)
    tree = tb.write()
    ts = int(when if when is not None else time.time())
    sig = pygit2.Signature(ORCH_NAME, ORCH_EMAIL, ts, 0)
    parents = [parent] if parent else []
    return Oid(str(pg.create_commit(None, sig, sig, message, tree, parents)))


def read_snapshot_file(pg: pygit2.Repository, commit: Oid, name: str) -> bytes | None:
    import pygit2

    obj = pg[commit]
    assert isinstance(obj, pygit2.Commit)
    try:
        entry = obj.tree[name]
    except KeyError:
        return None
    blob = pg[entry.id]
    assert isinstance(blob, pygit2.Blob)
    return bytes(blob.data)


def flat_tree(repo: Repo, commit: str, check: bool = True) -> dict[str, tuple[str, str, str]]:
    """The top-level entries of ``commit``'s tree by name: (mode, type, oid).

    One `git ls-tree -z`; with ``check`` false an unknown commit reads as empty.
    """
    proc = repo.run("ls-tree", "-z", "--full-tree", commit, "--", check=check)
    out: dict[str, tuple[str, str, str]] = {}
    if proc.returncode != 0:
        return out
    for rec in proc.stdout.decode(errors="surrogateescape").split("\0"):
        meta, _tab, name = rec.partition("\t")
        parts = meta.split()
        if len(parts) == 3:
            out[name] = (parts[0], parts[1], parts[2])
    return out


def object_type(repo: Repo, rev: str) -> str | None:
    """`git cat-file -t`: commit, tree, blob or tag; None when it is missing."""
    proc = repo.run("cat-file", "-t", rev, check=False)
    return proc.stdout.decode(errors="replace").strip() or None if proc.returncode == 0 else None


def cat_blob(repo: Repo, rev_path: str) -> bytes | None:
    proc = repo.run("cat-file", "blob", rev_path, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout


def note_text(repo: Repo, notes_ref: str, commit: str) -> str | None:
    """The note ``notes_ref`` holds for ``commit`` (None: no note)."""
    proc = repo.run("notes", f"--ref={notes_ref}", "show", commit, check=False)
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None


def note_add(repo: Repo, notes_ref: str, commit: str, text: str) -> None:
    """Set (replace) the note of ``commit`` in ``notes_ref``."""
    repo.run("notes", f"--ref={notes_ref}", "add", "-f", "-F", "-", commit,
             input=text.encode())


def notes_copy_for_rewrite(repo: Repo, notes_ref: str, command: str, mapping: str) -> None:
    """Copy each old commit's note in ``notes_ref`` to its rewritten copy, as git does
    for ``command`` (amend, rebase): ``mapping`` is post-rewrite's "OLD NEW" lines; a
    target's note is replaced (a squash keeps the newest). One ref update, made
    without checking the old value: the caller holds the notes writer lock."""
    import os

    env = {**os.environ, "GIT_NOTES_REWRITE_REF": notes_ref,
           "GIT_NOTES_REWRITE_MODE": "overwrite"}
    repo.run("-c", "core.hooksPath=/dev/null", "-c", f"notes.rewrite.{command}=true",
             "notes", "copy", f"--for-rewrite={command}", "--stdin",
             input=mapping.encode(), env=env)


def file_at(repo: Repo, rev: str, path: str) -> tuple[bool, bytes | None]:
    """(does ``rev`` name a commit, the blob at ``rev:path`` or None)."""
    exists = repo.run("rev-parse", "-q", "--verify", f"{rev}^{{commit}}", check=False)
    if exists.returncode != 0:
        return False, None
    return True, cat_blob(repo, f"{rev}:{path}")


def notes_list(repo: Repo, notes_ref: str) -> list[tuple[Oid, Oid]]:
    """(note blob, annotated commit) pairs of a notes ref; empty if it does not exist."""
    proc = repo.run("notes", f"--ref={notes_ref}", "list", check=False)
    if proc.returncode != 0:
        return []
    out: list[tuple[Oid, Oid]] = []
    for line in proc.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((Oid(parts[0]), Oid(parts[1])))
    return out


def cat_objects(repo: Repo, oids: Sequence[str]) -> dict[str, bytes | None]:
    """Contents of many objects through one `git cat-file --batch` (None: missing)."""
    return {k: (v[1] if v else None) for k, v in cat_objects_named(repo, oids).items()}


def cat_objects_named(repo: Repo, specs: Sequence[str],
                      ) -> dict[str, tuple[str, bytes] | None]:
    """(object name, contents) of each revision spec (``TIP:path`` too) through one
    `git cat-file --batch` (None: missing)."""
    if not specs:
        return {}
    request = "".join(f"{o}\n" for o in specs).encode()
    early = EARLY_BATCH.pop(repo, None)  # started beside the discovery (git/repo.py)
    if early is not None:
        proc = finish_early(early, request)
    else:
        proc = repo.run("cat-file", "--batch", input=request)
    data = proc.stdout
    out: dict[str, tuple[str, bytes] | None] = {}
    pos = 0
    for spec in specs:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].decode(errors="replace").split()
        pos = nl + 1
        if len(header) < 3 or header[1] == "missing":
            out[spec] = None
            continue
        size = int(header[2])
        out[spec] = (header[0], data[pos:pos + size])
        pos += size + 1
    return out


def commit_time(raw: bytes) -> float:
    """Committer time of a raw commit object (0 if it cannot be read)."""
    for line in raw.split(b"\n\n", 1)[0].splitlines():
        if line.startswith(b"committer "):
            try:
                return float(line.rsplit(b" ", 2)[1])
            except (IndexError, ValueError):
                return 0.0
    return 0.0


def snapshot_files(pg: pygit2.Repository, commit: Oid) -> dict[str, bytes]:
    """Every flat file of a snapshot commit (see write_snapshot)."""
    import pygit2

    obj = pg[commit]
    assert isinstance(obj, pygit2.Commit)
    out: dict[str, bytes] = {}
    for entry in obj.tree:
        blob = pg[entry.id]
        if isinstance(blob, pygit2.Blob):
            out[str(entry.name)] = bytes(blob.data)
    return out


def commit_parent(pg: pygit2.Repository, commit: Oid) -> Oid | None:
    import pygit2

    obj = pg[commit]
    assert isinstance(obj, pygit2.Commit)
    return Oid(str(obj.parent_ids[0])) if obj.parent_ids else None


def tree_of(repo: Repo, rev: str) -> Oid | None:
    proc = git_in(repo.toplevel, "rev-parse", "-q", "--verify", rev + "^{tree}", check=False)
    return Oid(proc.stdout.decode().strip()) if proc.returncode == 0 else None


def merge_in_memory(pg: pygit2.Repository, ours: str, theirs: str,
                    ) -> tuple[list[str], pygit2.Index]:
    """Merge two commits without touching a working tree: (conflicting paths, index)."""
    import pygit2

    index = pg.merge_commits(pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs))
    files: list[str] = []
    if index.conflicts is not None:
        for anc, our, their in index.conflicts:
            path = (our or their or anc).path
            if path not in files:
                files.append(path)
    return files, index


def commit_merge(pg: pygit2.Repository, index: pygit2.Index, parents: Sequence[str],
                 message: str, when: float | None = None) -> Oid:
    """Write the merged index as a commit with ``parents`` (no ref is moved)."""
    import pygit2

    tree = index.write_tree(pg)
    ts = int(when if when is not None else time.time())
    sig = pygit2.Signature(ORCH_NAME, ORCH_EMAIL, ts, 0)
    return Oid(str(pg.create_commit(None, sig, sig, message, tree,
                                    [pygit2.Oid(hex=p) for p in parents])))


def write_tree_update(pg: pygit2.Repository, parent: Oid | None,
                      changes: Mapping[str, bytes | None], message: str,
                      when: float | None = None) -> Oid:
    """A commit on ``parent`` whose flat tree is the parent's with ``changes`` applied.

    ``bytes`` writes that entry, ``None`` removes it (absent is fine). Every other
    entry is reused as it is, so the cost follows the change, not the tree.
    """
    import pygit2

    base = None
    if parent:
        obj = pg[parent]
        assert isinstance(obj, pygit2.Commit)
        base = obj.tree
    tb = pg.TreeBuilder(base) if base is not None else pg.TreeBuilder()
    for name in sorted(changes):
        data = changes[name]
        if data is None:
            if tb.get(name) is not None:
                tb.remove(name)
        else:
            tb.insert(name, pg.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
    tree = tb.write()
    ts = int(when if when is not None else time.time())
    sig = pygit2.Signature(ORCH_NAME, ORCH_EMAIL, ts, 0)
    return Oid(str(pg.create_commit(None, sig, sig, message, tree, [parent] if parent else [])))
