"""The one door to git: subprocess calls and pygit2 access live here only."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NewType

from orch_core.errors import Busy, GitFailed, UsageError

if TYPE_CHECKING:
    import pygit2

Oid = NewType("Oid", str)
RefName = NewType("RefName", str)

ZERO_OID = Oid("0" * 40)
ORCH_NAME = "orch-hooks"
ORCH_EMAIL = "orch-hooks@localhost"
# A git `.lock` file older than this, found while we hold the orch writer lock, was
# left by a writer that died (git itself holds them for milliseconds).
STALE_GIT_LOCK_SECONDS = 5.0

# Variables git exports to hooks; they must not leak into git calls aimed at
# another repository or worktree (pre-commit's `no_git_env` does the same).
_GIT_ENV_DROP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_COMMON_DIR",
)


def no_git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for key in _GIT_ENV_DROP:
        env.pop(key, None)
    return env


def run(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run git (or any command) capturing bytes; a failure becomes GitFailed."""
    try:
        proc = subprocess.run(
            list(args),
            cwd=cwd,
            input=input,
            capture_output=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise GitFailed(
            f"cannot run {args[0]!r}",
            hint="Is git installed and on PATH?",
        ) from e
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise GitFailed(
            f"`{' '.join(args[:4])}` failed: {err or 'exit ' + str(proc.returncode)}",
            hint="git failed. Is this a git repository, and is the command valid?",
        )
    return proc


def git(cwd: Path | str, *args: str, input: bytes | None = None, check: bool = True,
        env: Mapping[str, str] | None = None) -> str:
    proc = run(["git", *args], cwd=cwd, input=input, check=check, env=env)
    return proc.stdout.decode(errors="surrogateescape")


@dataclass(frozen=True)
class Repo:
    """Where a repository lives: the worktree we run in and the shared git dir."""

    toplevel: Path
    git_dir: Path
    common_dir: Path

    @property
    def orch_dir(self) -> Path:
        return self.common_dir / "orch"

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> str:
        return git(self.toplevel, *args, input=input, check=check)

    def run(self, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
        return run(["git", *args], cwd=self.toplevel, input=input, check=check, env=env,
                   timeout=timeout)


def discover(cwd: Path | str | None = None) -> Repo:
    """Find the repository containing ``cwd``; a clear error outside one."""
    where = Path(cwd or os.getcwd())
    if not where.is_dir():
        # Else subprocess fails with FileNotFoundError, reported as "cannot run 'git'".
        raise UsageError(f"{where} is not a directory", code="not_a_repo",
                         hint="check the -C DIRECTORY argument or the current directory")
    proc = run(
        ["git", "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir",
         "--git-common-dir"],
        cwd=where,
        check=False,
    )
    if proc.returncode != 0 and b"must be run in a work tree" in proc.stderr:
        raise UsageError(
            f"{where} is a bare repository or a git directory, not a work tree",
            hint="run orch-hooks in a clone with a work tree or one of its worktrees "
                 "(checks on a bare server repository are not built yet)",
            code="not_a_repo",
        )
    if proc.returncode != 0:
        raise UsageError(
            f"{where} is not inside a git repository",
            hint="cd into a git work tree (or run `git init`) and try again",
            code="not_a_repo",
        )
    lines = proc.stdout.decode().splitlines()
    if len(lines) != 3:
        raise UsageError(
            f"{where} is not inside a git work tree",
            hint="orch-hooks works in a non-bare repository or one of its worktrees",
            code="not_a_repo",
        )
    return Repo(Path(lines[0]), Path(lines[1]), Path(lines[2]))


def rev_parse(repo: Repo, rev: str) -> Oid | None:
    proc = repo.run("rev-parse", "-q", "--verify", rev + "^{commit}", check=False)
    if proc.returncode != 0:
        return None
    return Oid(proc.stdout.decode().strip())


def pygit(repo: Repo) -> pygit2.Repository:
    """Open the repository with pygit2 (imported lazily: ~80 ms)."""
    import pygit2

    return pygit2.Repository(str(repo.git_dir))


def ref_tip(pg: pygit2.Repository, ref: str) -> Oid | None:
    try:
        return Oid(str(pg.references[ref].target))
    except KeyError:
        return None


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


class CasMismatch(Exception):
    """The ref moved since it was read; the caller re-reads and retries."""


@contextlib.contextmanager
def writer_lock(repo: Repo, name: str = "refs") -> Iterator[None]:
    """Serialise orch writers of this clone; the kernel drops it if we die."""
    repo.orch_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(repo.orch_dir / f"{name}.flock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + 30.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Busy(
                        f"another orch-hooks writer holds {name}.flock for over 30 s",
                        hint="retry; if it persists, run `orch-hooks doctor`",
                    ) from None
                time.sleep(0.002)
        yield
    finally:
        os.close(fd)


def loose_ref_lock_path(repo: Repo, ref: str) -> Path:
    return repo.common_dir / (ref + ".lock")


def recover_stale_ref_lock(repo: Repo, ref: str) -> bool:
    """Remove ``<ref>.lock`` left by a dead writer. Call only under writer_lock."""
    lock = loose_ref_lock_path(repo, ref)
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    if age < STALE_GIT_LOCK_SECONDS:
        return False
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()
    return True


def cas_ref(pg: pygit2.Repository, ref: str, new: Oid, old: Oid | None, message: str) -> None:
    """Point ``ref`` at ``new`` only if it still points at ``old`` (None: absent)."""
    import pygit2

    try:
        with pg.transaction() as txn:
            txn.lock_ref(ref)
            current = ref_tip(pg, ref)
            if current != old:
                raise CasMismatch(f"{ref} is at {current}, expected {old}")
            txn.set_target(ref, pygit2.Oid(hex=new), message=message)
    except pygit2.GitError as e:
        raise CasMismatch(str(e)) from e


def head_branch(repo: Repo) -> str | None:
    proc = repo.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
    out = proc.stdout.decode().strip()
    return out or None


def config_get(repo: Repo, key: str) -> str | None:
    proc = repo.run("config", "--get", key, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip()


def ignore_case(repo: Repo) -> bool:
    return (config_get(repo, "core.ignorecase") or "").lower() == "true"


def user_name(repo: Repo) -> str:
    return config_get(repo, "user.name") or os.environ.get("USER", "unknown")


def changed_files(repo: Repo, rev_range: Sequence[str]) -> list[tuple[Oid, list[str]]]:
    """Commits in ``rev_range`` (non-merge) with the paths each one touched."""
    proc = repo.run("log", "--no-merges", "--no-renames", "--format=%x01%H", "--name-only",
                    "-z", *rev_range, "--")
    out: list[tuple[Oid, list[str]]] = []
    for chunk in proc.stdout.decode(errors="surrogateescape").split("\x01"):
        if not chunk.strip("\x00\n"):
            continue
        head, _, rest = chunk.partition("\n")
        paths = [p.strip("\n") for p in rest.split("\x00") if p.strip("\n")]
        out.append((Oid(head.strip("\x00")), paths))
    return out


def read_ref_file(common_dir: Path, ref: str) -> Oid | None:
    """Resolve a non-symbolic ref by reading the files (no process, no pygit2).

    Loose ref first, then packed-refs, as git does. Used on the hot paths.
    """
    try:
        text = (common_dir / ref).read_text().strip()
        if len(text) == 40:
            return Oid(text)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass
    try:
        with open(common_dir / "packed-refs") as fh:
            suffix = " " + ref
            for line in fh:
                line = line.rstrip("\n")
                if line.endswith(suffix) and not line.startswith(("#", "^")):
                    return Oid(line[:40])
    except FileNotFoundError:
        pass
    return None


def cat_blob(repo: Repo, rev_path: str) -> bytes | None:
    proc = repo.run("cat-file", "blob", rev_path, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout


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
    if not oids:
        return {}
    proc = repo.run("cat-file", "--batch", input="".join(f"{o}\n" for o in oids).encode())
    data = proc.stdout
    out: dict[str, bytes | None] = {}
    pos = 0
    for oid in oids:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].decode(errors="replace").split()
        pos = nl + 1
        if len(header) < 3 or header[1] == "missing":
            out[oid] = None
            continue
        size = int(header[2])
        out[oid] = data[pos:pos + size]
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


# --- worktrees: session roots, child worktrees, safe gc (orch_core.worktrees) ---

@dataclass(frozen=True)
class WorktreeEntry:
    """One entry of `git worktree list --porcelain`."""

    path: Path
    head: Oid | None
    branch: str | None  # short name, None when detached
    locked: bool
    prunable: bool


def _wt_git(cwd: Path | str, *args: str, input: bytes | None = None, check: bool = True,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """git in another worktree: never with the caller's GIT_DIR/GIT_INDEX_FILE."""
    return run(["git", *args], cwd=cwd, input=input, check=check,
               env=no_git_env(env if env is not None else None))


def worktree_list(repo: Repo) -> list[WorktreeEntry]:
    proc = _wt_git(repo.toplevel, "worktree", "list", "--porcelain", "-z")
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
    _wt_git(repo.toplevel, "worktree", "add", "-q", "-b", branch, str(path), base)


def worktree_remove(repo: Repo, path: Path) -> None:
    # --force: the caller has already saved whatever was uncommitted (see worktrees.gc).
    _wt_git(repo.toplevel, "worktree", "remove", "--force", str(path))


def worktree_move(repo: Repo, src: Path, dst: Path) -> None:
    _wt_git(repo.toplevel, "worktree", "move", str(src), str(dst))


def worktree_head(path: Path) -> Oid | None:
    proc = _wt_git(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    return Oid(proc.stdout.decode().strip()) if proc.returncode == 0 else None


def worktree_prune(repo: Repo) -> None:
    _wt_git(repo.toplevel, "worktree", "prune")


def worktree_dirty(path: Path, untracked: bool = True) -> list[str]:
    """Uncommitted changes, untracked files included unless told otherwise (ignored
    files never are)."""
    proc = _wt_git(path, "status", "--porcelain=v1", "-z",
                   "--untracked-files=" + ("all" if untracked else "no"))
    out: list[str] = []
    entries = iter(proc.stdout.decode(errors="surrogateescape").split("\x00"))
    for e in entries:
        if len(e) > 3:
            out.append(e[3:])
            if e[0] in "RC":
                next(entries, None)  # the rename/copy source follows as its own entry
    return out


def unique_commits(repo: Repo, tip: Oid, own_branch: str | None,
                   count_rescue: bool = True) -> int:
    """Commits reachable from ``tip`` and from no other branch, tag, remote (or rescue ref,
    unless ``count_rescue`` is false)."""
    args = ["rev-list", "--count", tip, "--not"]
    if own_branch:
        args.append(f"--exclude={own_branch}")
    args += ["--branches", "--tags", "--remotes"]
    if count_rescue:
        args.append("--glob=refs/orch/rescue/*")
    proc = _wt_git(repo.toplevel, *args)
    return int(proc.stdout.decode().strip() or "0")


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
        _wt_git(path, "add", "-A", "--", ".", env=env)
        tree = _wt_git(path, "write-tree", env=env).stdout.decode().strip()
        head = _wt_git(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        parents = ["-p", head.stdout.decode().strip()] if head.returncode == 0 else []
        proc = _wt_git(path, "commit-tree", tree, *parents, input=message.encode(), env=env)
        return Oid(proc.stdout.decode().strip())
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_index.unlink()


def tree_of(repo: Repo, rev: str) -> Oid | None:
    proc = _wt_git(repo.toplevel, "rev-parse", "-q", "--verify", rev + "^{tree}", check=False)
    return Oid(proc.stdout.decode().strip()) if proc.returncode == 0 else None


def create_ref(repo: Repo, ref: str, new: Oid, message: str) -> None:
    """Create ``ref`` only if it does not exist yet (CAS against the null oid)."""
    _wt_git(repo.toplevel, "update-ref", "-m", message, ref, new, ZERO_OID)


def delete_ref(repo: Repo, ref: str, old: Oid) -> None:
    """Delete ``ref`` only if it still points at ``old``."""
    _wt_git(repo.toplevel, "update-ref", "-d", ref, old)


def refs_with_messages(repo: Repo, prefix: str) -> list[dict[str, str]]:
    """Refs under ``prefix`` with their commit's oid, date, subject and body."""
    fmt = "%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents:subject)%00" \
          "%(contents:body)%01"
    proc = _wt_git(repo.toplevel, "for-each-ref", f"--format={fmt}", prefix)
    out: list[dict[str, str]] = []
    for rec in proc.stdout.decode(errors="surrogateescape").split("\x01"):
        parts = rec.lstrip("\n").split("\x00")
        if len(parts) != 5:
            continue
        out.append({"ref": parts[0], "oid": parts[1], "date": parts[2],
                    "subject": parts[3], "body": parts[4]})
    return out


def merge_branch(path: Path, branch: str, message: str) -> tuple[bool, list[str], str]:
    """Merge ``branch`` into the branch checked out at ``path``.

    On conflict the merge is aborted (the worktree is left as it was) and the
    conflicting paths are returned: (merged, conflicts, new HEAD or "").
    """
    proc = _wt_git(path, "merge", "--no-ff", "--no-edit", "-m", message, branch, check=False)
    if proc.returncode == 0:
        head = _wt_git(path, "rev-parse", "HEAD").stdout.decode().strip()
        return True, [], head
    unmerged = _wt_git(path, "diff", "--name-only", "--diff-filter=U", "-z", check=False)
    conflicts = [p for p in unmerged.stdout.decode(errors="surrogateescape").split("\x00") if p]
    _wt_git(path, "merge", "--abort", check=False)
    if not conflicts:
        err = (proc.stderr or proc.stdout).decode(errors="replace").strip()
        raise GitFailed(f"git merge {branch} failed: {err}",
                        hint="resolve the problem in that worktree and retry")
    return False, conflicts, ""


def git_dir_of(path: Path) -> Path:
    proc = _wt_git(path, "rev-parse", "--path-format=absolute", "--git-dir")
    return Path(proc.stdout.decode().strip())


# --- merge queue helpers -------------------------------------------------------------

# Git commands the lander runs in its own temporary worktree skip the hooks: the
# commits were checked when they were made, and post-checkout must not bind sessions.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def merge_base(pg: pygit2.Repository, a: str, b: str) -> Oid | None:
    import pygit2

    base = pg.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
    return Oid(str(base)) if base is not None else None


def changed_paths(pg: pygit2.Repository, a: str | None, b: str) -> set[str]:
    """Paths that differ between the trees of commits ``a`` (None: empty) and ``b``."""
    import pygit2

    new = pg[pygit2.Oid(hex=b)]
    assert isinstance(new, pygit2.Commit)
    if a is None:
        diff = new.tree.diff_to_tree(swap=True)
    else:
        old = pg[pygit2.Oid(hex=a)]
        assert isinstance(old, pygit2.Commit)
        diff = pg.diff(old.tree, new.tree)
    out: set[str] = set()
    for delta in diff.deltas:
        out.add(delta.old_file.path)
        out.add(delta.new_file.path)
    return out


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


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    proc = repo.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
    return proc.returncode == 0


def land_worktree_add(repo: Repo, path: Path, commit: str) -> None:
    repo.run(*NO_HOOKS, "worktree", "add", "--detach", "-q", str(path), commit)


def land_worktree_remove(repo: Repo, path: Path) -> None:
    repo.run(*NO_HOOKS, "worktree", "remove", "--force", "--force", str(path), check=False)
    repo.run("worktree", "prune", check=False)


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


def added_lines(repo: Repo, old: str, new: str) -> list[tuple[str, int, str]]:
    """(path, line number in ``new``, text) of every line ``new`` adds over ``old``."""
    proc = repo.run("diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", old, new)
    out: list[tuple[str, int, str]] = []
    path = ""
    line_no = 0
    for raw in proc.stdout.decode(errors="replace").splitlines():
        if raw.startswith("+++ "):
            path = raw[6:] if raw.startswith("+++ b/") else ""
        elif raw.startswith("@@"):
            plus = raw.split(" ")[2]  # +start[,count]
            line_no = int(plus[1:].split(",")[0])
        elif raw.startswith("+") and path:
            out.append((path, line_no, raw[1:]))
            line_no += 1
    return out


def notes_in_range(repo: Repo, old: str | None, new: str) -> list[tuple[Oid, str, str]]:
    """(commit, subject, orch note text) for each commit in old..new."""
    rng = [new] if old is None else [f"{old}..{new}"]
    proc = repo.run("log", "--notes=orch", "--format=%H%x00%s%x00%N%x01", *rng, "--")
    out: list[tuple[Oid, str, str]] = []
    for chunk in proc.stdout.decode(errors="replace").split("\x01"):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        oid, subject, note = [*chunk.split("\0"), "", ""][:3]
        out.append((Oid(oid), subject, note))
    return out


def branches_at(repo: Repo, oids: Sequence[str]) -> list[str]:
    """Local branches pointing at any of ``oids``."""
    names: list[str] = []
    for oid in oids:
        proc = repo.run("for-each-ref", "--format=%(refname:short)", "--points-at", oid,
                        "refs/heads", check=False)
        names += [n for n in proc.stdout.decode().split() if n not in names]
    return names


@dataclass(frozen=True)
class ReflogEntry:
    old: Oid
    new: Oid
    message: str


def reflog(repo: Repo, ref: str) -> list[ReflogEntry]:
    """Every recorded move of ``ref``, oldest first (empty when git keeps no log for it).

    Read from ``logs/<ref>`` in the common dir: unlike `git reflog`, the file
    holds the old value of each move as well as the new one.
    """
    try:
        raw = (repo.common_dir / "logs" / ref).read_bytes()
    except FileNotFoundError:
        return []
    out: list[ReflogEntry] = []
    for line in raw.decode(errors="replace").splitlines():
        head, _tab, message = line.partition("\t")
        parts = head.split(" ", 2)
        if len(parts) >= 2 and len(parts[0]) == len(parts[1]) == 40:
            out.append(ReflogEntry(Oid(parts[0]), Oid(parts[1]), message))
    return out


def parents_of(repo: Repo, commit: str) -> list[Oid] | None:
    """The parents of ``commit``, or None if it is not a commit here."""
    proc = repo.run("rev-list", "--parents", "-n", "1", commit, "--", check=False)
    if proc.returncode != 0:
        return None
    oids = proc.stdout.decode().split()
    return [Oid(o) for o in oids[1:]]


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


def on_a_branch(repo: Repo, oid: str) -> bool:
    """Is the commit reachable from any local or remote-tracking branch?"""
    proc = repo.run("for-each-ref", "--count=1", f"--contains={oid}", "--format=%(refname)",
                    "refs/heads", "refs/remotes", check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def worktree_branch(worktree: Path | str) -> str | None:
    """The branch checked out in a worktree, read from its HEAD file (no process).

    None when detached or when the layout is not the ordinary one (``.git`` dir,
    or a ``.git`` file pointing at the worktree's git dir).
    """
    dot = Path(worktree) / ".git"
    try:
        if dot.is_dir():
            git_dir = dot
        else:
            line = dot.read_text().strip()
            if not line.startswith("gitdir: "):
                return None
            git_dir = Path(line[len("gitdir: "):])
            if not git_dir.is_absolute():
                git_dir = Path(worktree) / git_dir
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    prefix = "ref: refs/heads/"
    return head[len(prefix):] if head.startswith(prefix) else None
