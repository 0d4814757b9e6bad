"""The merge queue in ``refs/orch/queue``: entries and the merge-lock lease, written by CAS.

The ref holds one file, ``queue.json``; every change is one commit on it, so
``git log refs/orch/queue`` is the audit log. SQLite caches the entries in the
``queue`` table with the tip they were read from (meta ``queue_tip``); a reader
that finds the ref moved reloads first.

Only the standard library and light orch_core modules are imported at module
level: the reference-transaction gate reads the lease through this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from orch_core import clock
from orch_core.errors import NotFound, UsageError
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git.repo import Oid
from orch_core.state.context import Context

REF = "refs/orch/queue"
FILE = "queue.json"
KEEP_FINISHED = 200

QUEUED, APPROVED, LANDING, LANDED = "queued", "approved", "landing", "landed"
REJECTED, FAILED, CONFLICTED, CANCELED = "rejected", "failed", "conflicted", "canceled"
STATES = (QUEUED, APPROVED, LANDING, LANDED, REJECTED, FAILED, CONFLICTED, CANCELED)
ACTIVE = (QUEUED, APPROVED, LANDING, CONFLICTED)
# What the author must act on (the fix loop of `resume next`).
NEEDS_AUTHOR = (FAILED, CONFLICTED, REJECTED)


@dataclass(frozen=True)
class Entry:
    id: str
    seq: int
    branch: str
    tip: str
    author: str
    owner: str
    priority: int
    state: str
    created_at: float
    updated_at: float
    reviewer: str | None = None
    review_reason: str | None = None
    cases: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    log: str | None = None
    log_path: str | None = None
    landing_result: str | None = None
    landed_as: str | None = None
    landed_on: str | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)  # merge/approval.py

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def hash_token(token: str) -> str:
    """What the queue stores of a lander's token: its SHA-256, never the token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def proc_start(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or ""."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Lease:
    """The global merge lock: only its holder lands, only until it expires.

    ``token`` is :func:`hash_token` of the lander's secret (the secret itself
    lives only in the lander's memory and in the environment of the git command
    that moves main); ``pid``, ``host`` and ``started`` (:func:`proc_start`) name
    the live lander process the gate asks for.
    """

    token: str
    holder: str
    pid: int
    host: str
    entry: str
    acquired_at: float
    expires_at: float
    target: str | None = None  # the tested merge the holder is about to move main to
    started: str = ""

    def held_with(self, token: str) -> bool:
        """Is ``token`` (the clear secret) the one this lease was taken with?"""
        return bool(token) and self.token == hash_token(token)

    def live(self, now: float) -> bool:
        if self.expires_at <= now:
            return False
        # A lander killed on this host frees the lock at once; elsewhere, at expiry.
        if self.host == socket.gethostname() and self.pid > 0:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            if self.started and proc_start(self.pid) not in ("", self.started):
                return False  # the pid was reused by another process
        return True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueState:
    seq: int = 0
    entries: tuple[Entry, ...] = ()
    lease: Lease | None = None
    predicted_at: str | None = None  # main tip the conflict predictions were made against

    def get(self, entry_id: str) -> Entry:
        for e in self.entries:
            if e.id == entry_id:
                return e
        raise NotFound(f"unknown queue entry {entry_id!r}", code="unknown_entry",
                       hint="`orch-hooks merge queue` lists the entries")

    def ordered(self) -> list[Entry]:
        """Active entries in landing order: higher priority first, then first come."""
        return sorted((e for e in self.entries if e.active), key=lambda e: (-e.priority, e.seq))

    @property
    def shape(self) -> list[tuple[str, str, str, int]]:  # what predictions depend on
        return [(e.id, e.state, e.tip, e.priority) for e in self.ordered()]

    def position(self, entry_id: str) -> int | None:
        for i, e in enumerate(self.ordered(), 1):
            if e.id == entry_id:
                return i
        return None

    def with_entry(self, entry: Entry) -> QueueState:
        entries = tuple(entry if e.id == entry.id else e for e in self.entries)
        if all(e.id != entry.id for e in self.entries):
            entries = (*entries, entry)
        return replace(self, entries=entries)

    def serialise(self) -> bytes:
        finished = [e for e in self.entries if not e.active]
        keep = {e.id for e in finished[-KEEP_FINISHED:]} | {e.id for e in self.entries if e.active}
        data = {"v": 1, "seq": self.seq, "predicted_at": self.predicted_at,
                "lease": self.lease.to_json() if self.lease else None,
                "entries": [e.to_json() for e in self.entries if e.id in keep]}
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def parse(blob: bytes | None) -> QueueState:
    if not blob:
        return QueueState()
    try:
        data = json.loads(blob)
        lease = data.get("lease")
        return QueueState(
            seq=int(data.get("seq", 0)),
            entries=tuple(Entry.from_json(e) for e in data.get("entries", [])),
            lease=Lease(**lease) if isinstance(lease, dict) else None,
            predicted_at=data.get("predicted_at"),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise UsageError(f"{REF} holds a malformed {FILE}: {e}", code="bad_queue",
                         hint=f"inspect it with `git show {REF}:{FILE}`; "
                              f"`git update-ref {REF} {REF}~1` restores the previous state") from e


def read_lease(ctx: Context) -> tuple[str | None, Lease | None]:
    """The lease at the ref tip, read with one `git cat-file` (the gate's path)."""
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, REF)
    if tip is None:
        return None, None
    return tip, parse(gitobjects.cat_blob(ctx.repo, f"{tip}:{FILE}")).lease


# meta keys: a queue commit orch's writer made (before its CAS), and the queue tip a
# rebuilt database trusts (work/journal.py `rebuild` sets it).
WRITTEN_PREFIX = "queue_written:"
TRUSTED_TIP = "queue_trusted_tip"


def written_by_orch(ctx: Context, tip: str) -> bool:
    """Was every commit of the queue's history up to ``tip`` written by :func:`mutate`?

    Each write records one event naming the commit it made (``state.db``); a
    commit made by hand (``git commit-tree`` + ``git update-ref``) has none.
    """
    from orch_core.git import history as githistory

    history = githistory.commits_of(ctx.repo, tip)
    if not history:
        return False
    # A rebuilt database trusts the queue history it was rebuilt over (its events
    # come from a journal that may be behind the queue).
    trusted = ctx.store.meta(TRUSTED_TIP)
    if trusted and trusted in history:
        history -= githistory.commits_of(ctx.repo, trusted) or set()
    from orch_core.merge import remotequeue

    history -= remotequeue.accepted(ctx, REF, history)
    conn = ctx.store.conn
    rows = conn.execute(
        "SELECT json_extract(data, '$.tip') FROM events WHERE kind LIKE 'merge.%' "
        "AND json_extract(data, '$.tip') IS NOT NULL").fetchall()
    known = {r[0] for r in rows}
    known |= {r[0][len(WRITTEN_PREFIX):] for r in conn.execute(
        "SELECT key FROM meta WHERE key LIKE ?", (WRITTEN_PREFIX + "%",)).fetchall()}
    return history <= known


def read_state(ctx: Context) -> tuple[str | None, QueueState]:
    """The state at the ref tip read from git alone (no state database is opened)."""
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, REF)
    if tip is None:
        return None, QueueState()
    return tip, parse(gitobjects.cat_blob(ctx.repo, f"{tip}:{FILE}"))


def load(ctx: Context) -> tuple[str | None, QueueState]:
    """The state at the ref tip, from the SQLite cache when it was built from that tip."""
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, REF)
    store = ctx.store
    if tip is not None and store.meta("queue_tip") == tip:
        head = json.loads(store.meta("queue_head") or "{}")
        rows = store.conn.execute("SELECT data FROM queue").fetchall()
        entries = sorted((Entry.from_json(json.loads(r[0])) for r in rows), key=lambda e: e.seq)
        lease = head.get("lease")
        return tip, QueueState(int(head.get("seq", 0)), tuple(entries),
                               Lease(**lease) if lease else None, head.get("predicted_at"))
    state = parse(gitobjects.cat_blob(ctx.repo, f"{tip}:{FILE}") if tip else None)
    with store.cache_write() as conn:
        _cache(ctx, conn, tip, state)
    return tip, state


def _cache(ctx: Context, conn: Any, tip: str | None, state: QueueState) -> None:
    conn.execute("DELETE FROM queue")
    conn.executemany("INSERT INTO queue(id, data) VALUES (?, ?)",
                     [(e.id, json.dumps(e.to_json(), sort_keys=True)) for e in state.entries])
    head = {"seq": state.seq, "predicted_at": state.predicted_at,
            "lease": state.lease.to_json() if state.lease else None}
    ctx.store.set_meta(conn, "queue_head", json.dumps(head, sort_keys=True))
    ctx.store.set_meta(conn, "queue_tip", tip or "none")


Mutation = Callable[[QueueState, float], tuple[QueueState, str, dict[str, Any]]]


def mutate(ctx: Context, actor: str, kind: str, fn: Mutation,
           predicts: bool = False) -> dict[str, Any]:
    """Read the tip, apply ``fn``, CAS the ref; retry if it moved (git/refs.py ``update``).

    ``fn`` raises to refuse (nothing is written) or returns the new state, the commit
    message and the result. An unchanged state writes nothing. A change of the
    active entries clears ``predicted_at`` unless ``fn`` ``predicts`` again."""
    odb = ctx.odb

    def attempt(tip: Oid | None) -> gitrefs.Proposal[dict[str, Any]]:
        state = parse(odb.read_file(tip, FILE) if tip else None)
        now = ctx.now()
        new, message, result = fn(state, now)
        if new == state:
            return gitrefs.Proposal(result)
        if not predicts and new.predicted_at is not None and new.shape != state.shape:
            new = replace(new, predicted_at=None)  # merge/predict.py `refresh` predicts
        commit = odb.write_snapshot({FILE: new.serialise()}, tip, message, when=now)
        # Recorded before the compare-and-swap: a writer killed between the ref update
        # and its event must not leave a queue commit that written_by_orch disowns.
        with ctx.store.cache_write() as conn:
            ctx.store.set_meta(conn, f"{WRITTEN_PREFIX}{commit}", "1")

        def done(commit: Oid) -> dict[str, Any]:
            event = {k: v for k, v in result.items() if k in ("id", "branch", "state", "reason")}
            event["tip"] = commit
            with ctx.store.write(actor, kind, event) as conn:
                _cache(ctx, conn, commit, new)
            return result

        return gitrefs.Proposal(result, commit, message.splitlines()[0], done)

    from orch_core.merge import remotequeue

    store = remotequeue.store(ctx, odb)
    if store is None:
        return gitrefs.update(ctx.repo, odb, REF, attempt, writer="queue")
    return store.update(REF, attempt, writer="queue", max_attempts=remotequeue.MAX_ATTEMPTS)


def describe(state: QueueState, e: Entry, now: float) -> dict[str, Any]:
    out = e.to_json()
    out["position"] = state.position(e.id)
    out["created"] = clock.iso(e.created_at)
    out["updated"] = clock.iso(e.updated_at)
    if out.get("log") and len(out["log"]) > 2000:
        out["log"] = "...\n" + out["log"][-2000:]
    return out


def describe_lease(lease: Lease | None, now: float) -> dict[str, Any] | None:
    if lease is None:
        return None
    return {"holder": lease.holder, "entry": lease.entry, "pid": lease.pid, "host": lease.host,
            "acquired": clock.iso(lease.acquired_at), "expires": clock.iso(lease.expires_at),
            "live": lease.live(now)}


def entry_for_branch(state: QueueState, branch: str) -> Entry | None:
    """The latest entry for ``branch`` (active first)."""
    matches = [e for e in state.entries if e.branch == branch]
    active = [e for e in matches if e.active]
    return active[-1] if active else matches[-1] if matches else None


def failures_for_session(ctx: Context, session_id: str) -> list[dict[str, Any]]:
    """Queue entries of this author that need a fix (the fix loop of `resume next`).

    An entry counts while it is the latest one for its branch and is failed,
    conflicted or rejected; re-requesting the branch clears it.
    """
    _tip, state = load(ctx)
    out: list[dict[str, Any]] = []
    for e in state.entries:
        if e.author != session_id or e.state not in NEEDS_AUTHOR:
            continue
        if entry_for_branch(state, e.branch) != e:
            continue
        qb = shlex.quote(e.branch)  # shown as a command: a branch name may hold `$(...)`
        if e.state == CONFLICTED:
            files = sorted({f for c in e.conflicts for f in c.get("files", [])})
            why = e.reason or f"conflicts with main in {', '.join(files)}"
            todo = (f"merge or rebase {e.branch} onto {ctx.config.base_branch}, resolve "
                    f"{', '.join(files) or 'the conflicts'}, commit, then "
                    f"`orch-hooks merge request {qb}`")
        elif e.state == REJECTED:
            why = f"rejected by {e.reviewer}: {e.review_reason or 'no reason given'}"
            todo = f"address the review on {e.branch}, then `orch-hooks merge request {qb}`"
        else:
            why = e.reason or "landing failed"
            todo = (f"fix {e.branch} (log: {e.log_path or 'see merge queue --json'}), commit, "
                    f"then `orch-hooks merge request {qb}`")
        out.append({"id": e.id, "branch": e.branch, "state": e.state, "reason": why,
                     "log_tail": (e.log or "")[-1500:], "log_path": e.log_path,
                     "updated": clock.iso(e.updated_at), "next_action": todo})
    return out
