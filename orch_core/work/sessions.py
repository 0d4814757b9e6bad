"""Sessions: who is acting (agent or human), where, and whether still alive."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from orch_core import clock
from orch_core.errors import NotFound, Refused, UsageError
from orch_core.git import repo as gitrepo
from orch_core.records import Frozen
from orch_core.state.context import Context

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INTENTS = ("new_work", "resume_work")
BINDING_FILE = "orch-session"


class Session(Frozen):
    """One session's row (a frozen record: orch_core/records.py)."""

    FIELDS = ("id", "owner", "intent", "worktree", "branch", "status", "created_at",
              "heartbeat_at", "ttl", "current_case", "acked_version", "release_on_land",
              "grace")
    id: str
    owner: str
    intent: str
    worktree: str | None
    branch: str | None
    status: str
    created_at: float
    heartbeat_at: float
    ttl: float
    current_case: str | None
    acked_version: int
    release_on_land: bool
    grace: float

    def __init__(self, id: str, owner: str, intent: str, worktree: str | None,
                 branch: str | None, status: str, created_at: float, heartbeat_at: float,
                 ttl: float, current_case: str | None, acked_version: int,
                 release_on_land: bool, grace: float = 60.0) -> None:
        self._set(id=id, owner=owner, intent=intent, worktree=worktree, branch=branch,
                  status=status, created_at=created_at, heartbeat_at=heartbeat_at, ttl=ttl,
                  current_case=current_case, acked_version=acked_version,
                  release_on_land=release_on_land, grace=grace)

    def alive(self, now: float) -> bool:
        return self.status == "open" and self.heartbeat_at + self.ttl > now

    def holds(self, now: float) -> bool:
        """Open and not dead (alive, or interrupted within its grace): its locks
        count and its case stays its own (docs/ARCHITECTURE.md, "Case rules")."""
        return self.status == "open" and self.deadline > now

    @property
    def deadline(self) -> float:
        """When an open session is dead: heartbeat + ttl + grace (docs/ARCHITECTURE.md,
        "Dead sessions"); its locks stop counting and its case is offered again."""
        return self.heartbeat_at + self.ttl + self.grace

    def dead(self, now: float) -> bool:
        return self.status == "open" and self.deadline <= now

    def to_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {f: getattr(self, f) for f in self.FIELDS}
        out["alive"] = self.alive(now)
        out["dead"] = self.dead(now)
        out["heartbeat_expires"] = clock.iso(self.heartbeat_at + self.ttl)
        out["dead_at"] = clock.iso(self.deadline)
        return out

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Session:
        return cls(
            id=row["id"], owner=row["owner"], intent=row["intent"], worktree=row["worktree"],
            branch=row["branch"], status=row["status"], created_at=row["created_at"],
            heartbeat_at=row["heartbeat_at"], ttl=row["ttl"], current_case=row["current_case"],
            acked_version=row["acked_version"], release_on_land=bool(row["release_on_land"]),
            grace=float(row["grace"]),
        )


def new_id() -> str:
    import secrets  # here, not at the top: most commands open no session

    return "s-" + secrets.token_hex(4)


def get(ctx: Context, sid: str) -> Session:
    row = ctx.store.conn.execute("SELECT * FROM sessions WHERE id=?", (sid,)).fetchone()
    if row is None:
        raise NotFound(f"unknown session {sid!r}",
                       hint="`orch-hooks session list` shows the sessions of this clone",
                       code="unknown_session")
    return Session.from_row(row)


def find(ctx: Context, sid: str) -> Session | None:
    row = ctx.store.conn.execute("SELECT * FROM sessions WHERE id=?", (sid,)).fetchone()
    return None if row is None else Session.from_row(row)


def all_sessions(ctx: Context) -> list[Session]:
    rows = ctx.store.conn.execute("SELECT * FROM sessions ORDER BY created_at").fetchall()
    return [Session.from_row(r) for r in rows]


def binding_path(git_dir: Path) -> Path:
    return git_dir / BINDING_FILE


def read_binding(git_dir: Path) -> str | None:
    try:
        sid = binding_path(git_dir).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return sid or None


def write_binding(git_dir: Path, sid: str | None) -> None:
    path = binding_path(git_dir)
    if sid is None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return
    tmp = path.with_name(f"{BINDING_FILE}.{os.getpid()}.tmp")
    tmp.write_text(sid + "\n")
    os.replace(tmp, path)


def resolve_id(ctx: Context) -> tuple[str | None, str]:
    """The session id in effect and where it came from."""
    if ctx.session_override:
        return ctx.session_override, "--session"
    env = ctx.env.get("ORCH_SESSION", "").strip()
    if env:
        return env, "ORCH_SESSION"
    bound = read_binding(ctx.repo.git_dir)
    if bound:
        return bound, "worktree binding"
    return None, ""


def current(ctx: Context, required: bool = True) -> Session | None:
    sid, source = resolve_id(ctx)
    if sid is None:
        if required:
            raise UsageError(
                "no session in effect",
                hint="run `orch-hooks session open`, or pass --session ID / set ORCH_SESSION",
                code="no_session",
            )
        return None
    sess = find(ctx, sid)
    if sess is None:
        if source == "worktree binding" and not required:
            return None
        raise NotFound(f"unknown session {sid!r} (from {source})",
                       hint="`orch-hooks session list` shows the sessions of this clone",
                       code="unknown_session")
    if required and sess.status != "open":
        raise Refused(f"session {sid} is closed", code="session_closed",
                      hint="open a new session with `orch-hooks session open`")
    return sess


MAX_TTL = 10 * 365 * 86400


def open_session(ctx: Context, owner: str | None, intent: str, ttl: int | None,
                 bind: bool | None, worktree: Path | None = None,
                 branch: str | None = None, fingerprint: str | None = None,
                 ) -> tuple[Session, bool]:
    if intent not in INTENTS:
        raise UsageError(f"unknown intent {intent!r}", hint=f"use one of {', '.join(INTENTS)}",
                         code="bad_param")
    if ttl is not None and ttl <= 0:
        raise UsageError("ttl must be a positive number of seconds", code="bad_param")
    if ttl is not None and not ttl <= MAX_TTL:
        raise UsageError(f"ttl {ttl} is too long: at most {MAX_TTL} seconds (10 years)",
                         code="bad_param", hint="keep a session alive with heartbeats")
    if owner is not None and not owner.strip():
        raise UsageError("empty owner name", hint="pass --owner NAME, or leave it out to use "
                         "git user.name", code="bad_param")
    repo = ctx.repo
    owner = owner or gitrepo.user_name(repo)
    now = ctx.now()
    wt = str(worktree or repo.toplevel)
    git_dir = repo.git_dir if worktree is None else _git_dir_of(worktree)
    branch = branch if branch is not None else gitrepo.head_branch(repo)
    sid = new_id()
    life = float(ttl if ttl is not None else ctx.config.get("sessions", "ttl"))
    grace = float(ctx.config.get("sessions", "grace"))
    if bind is None:
        bound = read_binding(git_dir)
        other = find(ctx, bound) if bound else None
        bind = other is None or not other.alive(now)
    opened: dict[str, Any] = {"session": sid, "owner": owner, "intent": intent,
                              "worktree": wt}
    if fingerprint:
        opened["fingerprint"] = fingerprint
    with ctx.store.write(sid, "session.open", opened) as conn:
        conn.execute(
            "INSERT INTO sessions(id, owner, intent, worktree, branch, status, created_at,"
            " heartbeat_at, ttl, grace) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (sid, owner, intent, wt, branch, "open", now, now, life, grace),
        )
        # A new session has seen everything up to its own opening (this transaction
        # is db_version + 1): no "news" yet.
        conn.execute("UPDATE sessions SET acked_version=(SELECT CAST(value AS INTEGER) + 1 "
                     "FROM meta WHERE key='db_version') WHERE id=?", (sid,))
    if bind:
        write_binding(git_dir, sid)
    # The caller refreshes the session's stamp payload (work/stamp.py `refresh`):
    # stamp builds on this module, not the other way round.
    return get(ctx, sid), bind


def _git_dir_of(worktree: Path) -> Path:
    return gitrepo.discover(worktree).git_dir


def heartbeat(ctx: Context, sess: Session) -> Session:
    """Push the heartbeat forward; a dead session stays dead (its locks may already
    have been freed for others, by Python or by the hooks' awk)."""
    from orch_core.locks import liveness

    with liveness.deadline_change(ctx) as publish:
        now = ctx.now()
        fresh = get(ctx, sess.id)
        if fresh.dead(now):
            raise_dead(fresh)
        # The hook index learns the later deadline before the database does: the
        # awk may then think the session lives longer than it does, never shorter.
        publish({sess.id: now + fresh.ttl + fresh.grace})
        with ctx.store.write(sess.id, "session.heartbeat", {"session": sess.id}) as conn:
            conn.execute("UPDATE sessions SET heartbeat_at=? WHERE id=?", (now, sess.id))
    return get(ctx, sess.id)


def raise_dead(sess: Session) -> None:
    raise Refused(
        f"session {sess.id} ({sess.owner}) is dead: its heartbeat lapsed at "
        f"{clock.iso(sess.heartbeat_at + sess.ttl)} and its grace ended at "
        f"{clock.iso(sess.deadline)}; its locks no longer count and its case is offered "
        "again", code="session_dead",
        hint=f"open a new session and take its work with `orch-hooks resume attach {sess.id}`")


def close(ctx: Context, sess: Session) -> Session:
    with ctx.store.write(sess.id, "session.close", {"session": sess.id}) as conn:
        conn.execute("UPDATE sessions SET status='closed' WHERE id=?", (sess.id,))
    for git_dir in _bound_git_dirs(ctx, sess):
        if read_binding(git_dir) == sess.id:
            write_binding(git_dir, None)
    return get(ctx, sess.id)  # the caller refreshes the stamp payload, as for open


def _bound_git_dirs(ctx: Context, sess: Session) -> list[Path]:
    dirs = [ctx.repo.git_dir]
    if sess.worktree:
        try:
            dirs.append(_git_dir_of(Path(sess.worktree)))
        except Exception:  # the worktree may be gone already
            pass
    return dirs
