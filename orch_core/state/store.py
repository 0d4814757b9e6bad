"""SQLite work state in ``<git common dir>/orch/state.db``, shared by all worktrees.

WAL, ``BEGIN IMMEDIATE`` for writes, a busy timeout, ``PRAGMA user_version`` for
migrations; ``db_version`` goes up by one per state-changing transaction and
each such transaction appends exactly one row to the append-only ``events``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from orch_core import clock
from orch_core.errors import Busy, OrchError

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BUSY_TIMEOUT_MS = 15000

# Each entry moves the schema from version i to i+1. Append only; never edit.
MIGRATIONS: list[str] = [
    # 1: base schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('db_version', '0');
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        db_version INTEGER NOT NULL UNIQUE,
        ts REAL NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        intent TEXT NOT NULL,
        worktree TEXT,
        branch TEXT,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        ttl REAL NOT NULL,
        current_case TEXT,
        acked_version INTEGER NOT NULL DEFAULT 0,
        release_on_land INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_worktree ON sessions(worktree);
    CREATE TABLE locks (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        mode TEXT NOT NULL,
        session TEXT NOT NULL,
        owner TEXT NOT NULL,
        task TEXT,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        ttl REAL NOT NULL,
        release_on_land INTEGER NOT NULL DEFAULT 0,
        branch TEXT
    );
    CREATE INDEX locks_session ON locks(session);
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        level TEXT NOT NULL,
        title TEXT NOT NULL,
        parent TEXT REFERENCES tasks(id),
        priority INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'queued',
        holder TEXT,
        contract TEXT,
        fixtures TEXT NOT NULL DEFAULT '[]',
        next_action TEXT,
        reason TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX tasks_parent ON tasks(parent);
    CREATE INDEX tasks_status ON tasks(status, level);
    CREATE TABLE deps (
        blocker TEXT NOT NULL REFERENCES tasks(id),
        blocked TEXT NOT NULL REFERENCES tasks(id),
        PRIMARY KEY (blocker, blocked)
    );
    CREATE INDEX deps_blocked ON deps(blocked);
    CREATE TABLE checkpoints (
        commit_oid TEXT PRIMARY KEY,
        session TEXT,
        case_id TEXT,
        ts REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX checkpoints_session ON checkpoints(session, ts);
    CREATE TABLE worktrees (
        path TEXT PRIMARY KEY,
        session TEXT,
        branch TEXT,
        parent TEXT,
        kind TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE queue (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    """,
    # 2: a session's grace after its heartbeat lapses (docs/ARCHITECTURE.md, "Dead sessions")
    """
    ALTER TABLE sessions ADD COLUMN grace REAL NOT NULL DEFAULT 60;
    """,
    # 3: agents spawned in tmux windows (team/spawn.py); one row per spawn
    """
    CREATE TABLE team (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        session TEXT NOT NULL,
        owner TEXT NOT NULL,
        role TEXT,
        window TEXT,
        tmux TEXT NOT NULL,
        command TEXT NOT NULL,
        review_id TEXT UNIQUE,
        status TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX team_session ON team(session);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(current, SCHEMA_VERSION):
            for statement in _split(MIGRATIONS[version]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _split(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN/END)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


class Damaged(OrchError):
    """state.db is not a readable orch database (garbage, truncated, foreign)."""

    code = "state_damaged"

    def __init__(self, path: Path, cause: BaseException) -> None:
        super().__init__(
            f"the state database {path} is damaged ({cause})",
            hint="`orch-hooks rebuild --force` recreates it from git (refs/orch/work, the "
                 "lock and queue refs, the notes); the damaged file is kept aside")


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the database file: a rebuild replaces the file, so a
    long-running process can tell its connection points at a set-aside copy."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Store:
    """One connection to the clone's state database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = _connect(path)
        try:
            mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(self.conn)
            self.db_version()
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise Busy(f"state database {path} is locked", hint="retry") from e
            self.conn.close()
            raise Damaged(path, e) from e
        except (sqlite3.DatabaseError, TypeError, ValueError) as e:
            self.conn.close()
            raise Damaged(path, e) from e
        self.identity = file_identity(path)

    def close(self) -> None:
        self.conn.close()

    def replaced(self) -> bool:
        """Has the file at ``path`` been replaced (rebuild) or removed since it was opened?"""
        return file_identity(self.path) != self.identity

    def db_version(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='db_version'").fetchone()
        return int(row[0])

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @contextlib.contextmanager
    def write(self, actor: str, kind: str, data: dict[str, Any] | None = None,
              ) -> Iterator[sqlite3.Connection]:
        """A state-changing transaction: one event, db_version + 1."""
        with self._immediate() as conn:
            yield conn
            version = int(conn.execute(
                "SELECT value FROM meta WHERE key='db_version'").fetchone()[0]) + 1
            conn.execute("UPDATE meta SET value=? WHERE key='db_version'", (str(version),))
            conn.execute(
                "INSERT INTO events(db_version, ts, actor, kind, data) VALUES (?,?,?,?,?)",
                (version, clock.now(), actor, kind, json.dumps(data or {}, sort_keys=True)),
            )

    @contextlib.contextmanager
    def cache_write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that only refreshes caches of git state (no event)."""
        with self._immediate() as conn:
            yield conn

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise Busy(f"state database busy: {e}", hint="retry in a moment") from e
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def integrity(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


def db_path(orch_dir: Path) -> Path:
    return orch_dir / "state.db"


def open_store(orch_dir: Path) -> Store:
    orch_dir.mkdir(parents=True, exist_ok=True)
    return Store(db_path(orch_dir))


def events(store: Store, since: int = 0) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT db_version, ts, actor, kind, data FROM events WHERE db_version > ? "
        "ORDER BY db_version", (since,)).fetchall()
    return [
        {"db_version": r[0], "ts": r[1], "actor": r[2], "kind": r[3], "data": json.loads(r[4])}
        for r in rows
    ]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
