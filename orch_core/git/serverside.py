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


def notes_blobs(repo: Repo, notes_commit: str, commits: Sequence[str]) -> dict[str, bytes]:
    """The notes ``notes_commit`` holds for ``commits`` (any fan-out), by commit."""
    proc = _server_git(repo, "ls-tree", "-r", "-z", notes_commit, check=False)
    want = set(commits)
    found: dict[str, str] = {}
    for rec in proc.stdout.decode(errors="replace").split("\x00"):
        meta, _, name = rec.partition("\t")
        parts = meta.split()
        key = name.replace("/", "")
        if len(parts) == 3 and key in want:
            found[key] = parts[2]
    proc = _server_git(repo, "cat-file", "--batch",
                  input="".join(f"{o}\n" for o in found.values()).encode(), check=False)
    out: dict[str, bytes] = {}
    data = proc.stdout
    pos = 0
    blobs: dict[str, bytes] = {}
    while pos < len(data):
        end = data.index(b"\n", pos)
        head = data[pos:end].split()
        pos = end + 1
        if len(head) < 3:
            continue
        size = int(head[2])
        blobs[head[0].decode()] = data[pos:pos + size]
        pos += size + 1
    for commit, blob in found.items():
        if blob in blobs:
            out[commit] = blobs[blob]
    return out


def new_commits(repo: Repo, new: str) -> list[tuple[Oid, list[str]]]:
    """Commits of ``new`` no ref of the repository reaches yet, with the paths each
    changed (merges: against every parent), for a pre-receive hook."""
    proc = _server_git(repo, "log", "-c", "--no-renames", "--no-ext-diff", "--no-color",
                  "--format=%x01%H", "--name-only", "-z", new, "--not", "--all", "--",
                  check=False)
    out: list[tuple[Oid, list[str]]] = []
    for chunk in proc.stdout.decode(errors="surrogateescape").split("\x01"):
        chunk = chunk.strip("\x00\n")
        if not chunk:
            continue
        oid = chunk.split("\n", 1)[0].split("\x00", 1)[0]
        paths = [p.strip("\n") for p in chunk[len(oid):].split("\x00") if p.strip("\n")]
        out.append((Oid(oid), paths))
    return out


def chain(repo: Repo, old: str, new: str) -> list[tuple[Oid, list[Oid]]] | None:
    """Commits from ``old`` (exclusive) to ``new``, oldest first, with their parents;
    None when ``new`` does not descend from ``old``."""
    if old != ZERO_OID:
        ok = _server_git(repo, "merge-base", "--is-ancestor", old, new, check=False)
        if ok.returncode != 0:
            return None
    rng = [new] if old == ZERO_OID else [new, f"^{old}"]
    proc = _server_git(repo, "rev-list", "--reverse", "--parents", *rng, check=False)
    out: list[tuple[Oid, list[Oid]]] = []
    for line in proc.stdout.decode().splitlines():
        parts = line.split()
        if parts:
            out.append((Oid(parts[0]), [Oid(p) for p in parts[1:]]))
    return out
