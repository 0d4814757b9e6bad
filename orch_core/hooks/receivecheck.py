"""What the server hook checks (hooks/receive.py): lock-table and queue successors,
protected branches, and the lock rule on pushed commits; each refusal one line."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from orch_core import clock
from orch_core.git import objects as gitobjects
from orch_core.git import remote as gitremote
from orch_core.git import serverside
from orch_core.git.repo import ZERO_OID, Repo
from orch_core.hooks.receivelocks import FIX_LOCK, check_locks
from orch_core.hooks.receivequeue import check_queue, queue_at
from orch_core.locks.storage import TableUnreadable, read_table
from orch_core.locks.table import Lock, LockIndex

LOCKS = "refs/orch/locks"
QUEUE = "refs/orch/queue"
NOTES = "refs/notes/orch"
PROBE = "orch-probe"
SESSION_OPTION = "orch-session="
# Variables a git server sets to the user it authenticated (Gitea/Forgejo, GitLab,
# gitolite, Apache/nginx smart HTTP); git daemon and plain ssh set none.
AUTH_VARS = ("GITEA_PUSHER_NAME", "GL_USERNAME", "GITOLITE_USER", "REMOTE_USER")


@dataclass(frozen=True)
class Update:
    old: str
    new: str
    ref: str


def push_options(env: dict[str, str]) -> list[str]:
    try:
        count = int(env.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        count = 0
    return [env.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(count)]


def authenticated_user(env: dict[str, str]) -> str | None:
    for var in AUTH_VARS:
        if env.get(var):
            return env[var]
    return None


def read_updates(text: str) -> list[Update]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append(Update(*parts))
    return out


def pre_receive(repo: Repo, updates: list[Update], env: dict[str, str],
                now: float | None = None) -> list[str]:
    """The refusals for this push (empty: accept it)."""
    when = time.time() if now is None else now
    opts = push_options(env)
    if PROBE in opts:
        return [PROBE_ANSWER]
    by_ref = {u.ref: u for u in updates}
    out: list[str] = non_commits(repo, updates)
    if out:
        return out
    claimed = next((o[len(SESSION_OPTION):] for o in opts if o.startswith(SESSION_OPTION)), None)
    user = authenticated_user(env)
    queue_up = by_ref.get(QUEUE)
    if queue_up is not None:
        out += check_queue(repo, queue_up.old, queue_up.new, user,
                           {u.ref: u.new for u in updates})
        if out:
            return out
    locks_up = by_ref.get(LOCKS)
    if locks_up is not None:
        out += check_locks(repo, locks_up.old, locks_up.new, when, claimed, user,
                           landed_authors(repo, queue_up))
    table_tip = locks_up.new if locks_up is not None else gitremote.read_ref(repo, LOCKS)
    protected = protected_refs(repo)
    notes_up = by_ref.get(NOTES)
    notes_tip = notes_up.new if notes_up is not None else gitremote.read_ref(repo, NOTES)
    for u in updates:
        if u.ref in protected:
            out += check_protected(repo, u, queue_up, when)
        elif u.ref.startswith("refs/heads/") and u.new != ZERO_OID:
            out += check_branch(repo, u, table_tip, notes_tip, claimed,
                                user, when)
    return out


def non_commits(repo: Repo, updates: list[Update]) -> list[str]:
    """orch's refs hold commits only: a tag or tree there breaks every clone's
    lock and queue command (``orch-hooks server repair`` mends an old one)."""
    ours = [u for u in updates if u.new != ZERO_OID
            and (u.ref.startswith("refs/orch/") or u.ref == NOTES)]
    kinds = serverside.object_types(repo, [u.new for u in ours])
    return [f"{u.ref}: {u.new[:12]} is a {kinds.get(u.new)}, not a commit; orch refs hold "
            "commits only (orch-hooks commands write them)"
            for u in ours if kinds.get(u.new) != "commit"]


def landed_authors(repo: Repo, queue_up: Update | None) -> set[str]:
    """Sessions whose branch the queue records as landed (the lander releases their
    locks), at the queue this push leaves behind."""
    from orch_core.merge import queue as q

    tip = queue_up.new if queue_up is not None else gitremote.read_ref(repo, QUEUE)
    try:
        state = _queue_at(repo, tip or ZERO_OID)
    except Exception:
        return set()
    return {e.author for e in state.entries if e.state == q.LANDED}


def post_receive(repo: Repo, updates: list[Update]) -> None:
    """Rewrite the server's lock index after the lock table moved (the shim reads it)."""
    if any(u.ref == LOCKS for u in updates):
        write_index(repo)
    write_protected(repo)


PROBE_ANSWER = "server hook installed (probe: nothing was written)"


def protected_refs(repo: Repo) -> set[str]:
    """The protected branches: the policy committed on the server's main (default main)."""
    from orch_core.state import config

    refs = {"refs/heads/main"}
    _exists, raw = gitobjects.file_at(repo, "refs/heads/main", config.FILENAME)
    if raw is not None:
        try:
            refs |= set(config.parse(raw.decode("utf-8"), Path("main:.orch.toml")).protected_refs)
        except (UnicodeDecodeError, ValueError):
            pass  # a malformed policy protects at least main
    return refs


def _table(repo: Repo, tip: str | None) -> list[Lock]:
    return read_table(repo, tip)[0] if tip and tip != ZERO_OID else []


_queue_at = queue_at


def check_protected(repo: Repo, u: Update, queue_up: Update | None, now: float) -> list[str]:
    """A protected branch moves only to a merge the queue records as landed (approved
    and tested), in the same atomic push as that record."""
    from orch_core.merge import queue as q

    if u.old == ZERO_OID and u.new != ZERO_OID and gitremote.read_ref(repo, u.ref) is None:
        return []  # the first push of the branch
    name = u.ref.removeprefix("refs/heads/")
    what = (f"{u.ref}: moves only through the merge queue (`orch-hooks merge request`, "
            "review, `orch-hooks merge land` in remote mode, which pushes the branch and "
            "the queue record together)")
    if u.new == ZERO_OID or queue_up is None:
        return [what]
    try:
        before: q.QueueState = _queue_at(repo, queue_up.old)
        after: q.QueueState = _queue_at(repo, queue_up.new)
    except Exception:
        return [what]
    landed_before = {e.id for e in before.entries if e.state == q.LANDED}
    for e in after.entries:
        if (e.state == q.LANDED and e.id not in landed_before and e.landed_as == u.new
                and e.landed_on == u.old and e.landing_result == u.new):
            return []
    return [f"{what}; this push moves {name} to {u.new[:12]}, which no queue entry "
            f"landed as from {u.old[:12]}"]


def _sessions(repo: Repo, notes_tip: str | None, commits: list[str]) -> dict[str, str]:
    from orch_core.work import stamp

    if not notes_tip or notes_tip == ZERO_OID or not commits:
        return {}
    out: dict[str, str] = {}
    for commit, blob in serverside.notes_blobs(repo, notes_tip, commits).items():
        notes, _w = stamp.parse_note(blob.decode(errors="replace"))
        for n in notes:
            if isinstance(n.get("session"), str):
                out[commit] = n["session"]
    return out


def check_branch(repo: Repo, u: Update, table_tip: str | None, notes_tip: str | None,
                 claimed: str | None, user: str | None, now: float) -> list[str]:
    """The lock rule on the commits this push brings: none may change a path locked by
    a live session other than the pusher's (from the push option, else the commit's
    checkpoint note; bound to the authenticated user when the server names one)."""
    try:
        table = [lk for lk in _table(repo, table_tip) if lk.live(now)]
    except TableUnreadable as e:
        return [f"{u.ref}: {e.message}"]
    if not table:
        return []
    index = LockIndex(table, False)
    commits = serverside.new_commits(repo, u.new)
    noted = _sessions(repo, notes_tip, [c for c, _p in commits]) if claimed is None else {}
    owners = {lk.session: lk.owner for lk in table}
    out: list[str] = []
    for commit, paths in commits:
        who = claimed or noted.get(commit) or ""
        if user is not None and who in owners and owners[who] != user:
            who = ""  # a session of another user does not vouch for this push
        for path, held in index.check(paths, who, now).items():
            lk = held[0]
            fix = FIX_LOCK if who else (
                "the push names no session (no checkpoint note on the commit): if the "
                "lock is yours, push with `-o orch-session=ID`, else " + FIX_LOCK)
            out.append(f"{u.ref}: commit {commit[:12]} changes {path}, locked by session "
                       f"{lk.session} ({lk.owner}, lock {lk.id} on {lk.path}, expires "
                       f"{clock.iso(lk.expires_at)}); {fix}")
    return out


def write_index(repo: Repo) -> None:
    """``<bare>/orch/locks.idx`` in the clients' format, for the shim's awk."""
    from orch_core.locks.export import _awk_unsafe, export_line, export_text
    from orch_core.seqfile import rewrite_in_place

    tip = gitremote.read_ref(repo, LOCKS)
    try:
        table = _table(repo, tip)
    except TableUnreadable:
        table = []
        unsafe = True
    else:
        unsafe = any(_awk_unsafe(lk.path) or _awk_unsafe(lk.session) for lk in table)
    text = export_text(tip, (export_line(lk, False) for lk in table), False, unsafe,
                       os.urandom(8).hex())
    path = repo.common_dir / "orch" / "locks.idx"
    path.parent.mkdir(parents=True, exist_ok=True)
    rewrite_in_place(path, text.encode())


def write_protected(repo: Repo) -> None:
    """``<bare>/orch/protected``: the protected refs, one a line, for the shims."""
    path = repo.common_dir / "orch" / "protected"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"protected.{os.getpid()}.tmp")
    tmp.write_text("".join(f"{r}\n" for r in sorted(protected_refs(repo))))
    tmp.replace(path)
