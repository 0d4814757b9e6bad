"""Refs: the writer lock, the one compare-and-swap loop, stale `.lock` recovery."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from orch_core.errors import Busy
from orch_core.git.repo import ZERO_OID, Oid, Repo, git_in
from orch_core.records import Frozen

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Generic, Protocol, TypeVar

    import pygit2

    T = TypeVar("T")

    class RefStore(Protocol):
        """Reads a ref's tip and moves it by compare-and-swap (see git/odb.py)."""

        def tip(self, ref: str) -> Oid | None: ...

        def cas(self, ref: str, new: Oid, old: Oid | None, message: str) -> None: ...
else:
    class Generic:
        """What ``typing.Generic[T]`` is to Proposal at run time: nothing (``Proposal[X]``
        is only ever written in annotations, which are not evaluated)."""

        __slots__ = ()

        def __class_getitem__(cls, _params: object) -> type:
            return cls

    T = None

# A git `.lock` file older than this, found while we hold the orch writer lock, was
# left by a writer that died (git itself holds them for milliseconds).
STALE_GIT_LOCK_SECONDS = 5.0


def ref_tip(pg: pygit2.Repository, ref: str) -> Oid | None:
    try:
        return Oid(str(pg.references[ref].target))
    except KeyError:
        return None


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


def create_ref(repo: Repo, ref: str, new: Oid, message: str) -> None:
    """Create ``ref`` only if it does not exist yet (CAS against the null oid)."""
    git_in(repo.toplevel, "update-ref", "-m", message, ref, new, ZERO_OID)


def delete_ref(repo: Repo, ref: str, old: Oid) -> None:
    """Delete ``ref`` only if it still points at ``old``."""
    git_in(repo.toplevel, "update-ref", "-d", ref, old)


def refs_with_messages(repo: Repo, prefix: str) -> list[dict[str, str]]:
    """Refs under ``prefix`` with their commit's oid, date, subject and body."""
    fmt = "%(refname)%00%(objectname)%00%(committerdate:unix)%00%(contents:subject)%00" \
          "%(contents:body)%01"
    proc = git_in(repo.toplevel, "for-each-ref", f"--format={fmt}", prefix)
    out: list[dict[str, str]] = []
    for rec in proc.stdout.decode(errors="surrogateescape").split("\x01"):
        parts = rec.lstrip("\n").split("\x00")
        if len(parts) != 5:
            continue
        out.append({"ref": parts[0], "oid": parts[1], "date": parts[2],
                    "subject": parts[3], "body": parts[4]})
    return out


MAX_ATTEMPTS = 200

class Proposal(Frozen, Generic[T]):
    """What one attempt of :func:`update` wants.

    ``commit`` None: write nothing and return ``result``. Otherwise the ref is
    moved from the tip the attempt was built on to ``commit`` (``message`` goes to
    the reflog), and ``done(commit)``, run under the writer lock once the ref
    points there, gives the result (``result`` when there is no ``done``).
    A ``commit`` equal to that tip moves nothing but still runs ``done``.
    """

    FIELDS = ("result", "commit", "message", "done")
    result: T
    commit: Oid | None
    message: str
    done: Callable[[Oid], T] | None

    def __init__(self, result: T, commit: Oid | None = None, message: str = "",
                 done: Callable[[Oid], T] | None = None) -> None:
        # A frozen record, not a dataclass: orch_core/records.py.
        self._set(result=result, commit=commit, message=message, done=done)


def update(repo: Repo, store: RefStore, ref: str, attempt: Callable[[Oid | None], Proposal[T]],
           *, writer: str = "refs", on_recover: Callable[[], None] | None = None,
           max_attempts: int = MAX_ATTEMPTS, gave_up: str = "", hint: str = "retry") -> T:
    """The compare-and-swap loop every writer of an orch ref goes through.

    Under ``writer_lock(repo, writer)``: read the tip, let ``attempt`` build the
    new commit on it (or raise to refuse; nothing is written), compare-and-swap
    the ref from that tip; if it moved, sleep a random few milliseconds and start
    again, at most ``max_attempts`` times. A ``<ref>.lock`` left by a writer killed
    mid-update turns stale after STALE_GIT_LOCK_SECONDS and is removed (then
    ``on_recover()`` runs); until then the loop waits for it without spending
    attempts. See docs/ARCHITECTURE.md (where a lock is written).
    """
    lock_file = loose_ref_lock_path(repo, ref)
    with writer_lock(repo, writer):
        stale_wait_until = time.monotonic() + STALE_GIT_LOCK_SECONDS + 2.0
        tries = 0
        while tries < max_attempts:
            tries += 1
            if recover_stale_ref_lock(repo, ref) and on_recover is not None:
                on_recover()
            tip = store.tip(ref)
            prop = attempt(tip)
            if prop.commit is None:
                return prop.result
            if prop.commit != tip:
                try:
                    store.cas(ref, prop.commit, tip, prop.message)
                except CasMismatch:
                    if lock_file.exists() and time.monotonic() < stale_wait_until:
                        tries -= 1
                        time.sleep(0.05)
                    else:
                        import random  # only under contention

                        time.sleep(random.uniform(0.001, 0.01))
                    continue
            return prop.done(prop.commit) if prop.done is not None else prop.result
    if lock_file.exists():
        raise Busy(f"{lock_file} is held by another git process",
                   hint="retry; if no git command is running, `orch-hooks doctor --fix` "
                        "removes it once it is stale")
    raise Busy(gave_up or f"{ref} kept moving; gave up after {max_attempts} attempts",
               hint=hint)
