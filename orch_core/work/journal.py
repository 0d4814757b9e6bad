"""The journal of work state in ``refs/orch/work``, and ``rebuild`` from git alone.

At sync points (push, ``orch-hooks sync``, session close) the tables that only
SQLite holds are exported as one snapshot commit on the ref, by compare-and-
swap. Locks and the queue live in their own refs and checkpoints in notes, so
``rebuild`` needs nothing but git: it recreates ``state.db`` from the last
readable snapshot, and the caches reload from their refs on first use. A
corrupt line or snapshot is reported and skipped, never fatal. Changes made
after the last sync are not in the journal; rebuild says so when newer notes
show them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from orch_core import jsonlines
from orch_core.errors import NotFound, OrchError, Refused
from orch_core.git import history as githistory
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.state import store
from orch_core.state.context import Context
from orch_core.work import checkpoints

REF = "refs/orch/work"
FORMAT = 1
# Tables whose truth is SQLite; add yours here if it must survive a lost database.
JOURNAL_TABLES = ("sessions", "tasks", "deps", "worktrees")
ORDER = {"tasks": "seq", "sessions": "created_at, id", "deps": "blocker, blocked",
         "worktrees": "created_at, path"}
EVENT_CHUNK = 1000


def _dump(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n"
                   for r in rows).encode()


def export(conn: sqlite3.Connection, db_id: str = "") -> tuple[int, dict[str, bytes]]:
    """One consistent read of the journaled tables: (db_version, files)."""
    conn.execute("BEGIN")
    try:
        version = int(conn.execute(
            "SELECT value FROM meta WHERE key='db_version'").fetchone()[0])
        files: dict[str, bytes] = {}
        for table in JOURNAL_TABLES:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY {ORDER[table]}").fetchall()
            files[f"{table}.jsonl"] = _dump([dict(r) for r in rows])
        chunks: dict[int, list[dict[str, Any]]] = {}
        for r in conn.execute("SELECT * FROM events ORDER BY db_version"):
            chunks.setdefault(int(r["db_version"]) // EVENT_CHUNK, []).append(dict(r))
        for n, rows in chunks.items():
            # Closed chunks never change, so git stores them once.
            files[f"events-{n:06d}.jsonl"] = _dump(rows)
    finally:
        conn.execute("COMMIT")
    meta: dict[str, Any] = {"format": FORMAT, "db_version": version,
                            "schema": store.SCHEMA_VERSION}
    if db_id:
        meta["db_id"] = db_id
    files["meta.json"] = json.dumps(meta, sort_keys=True).encode()
    return version, files


def _journal_meta(ctx: Context, tip: gitrepo.Oid) -> dict[str, Any]:
    try:
        meta = json.loads(ctx.odb.read_file(tip, "meta.json") or b"{}")
    except (KeyError, ValueError, TypeError, AssertionError, OrchError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _journal_version(ctx: Context, tip: gitrepo.Oid) -> int | None:
    try:
        return int(_journal_meta(ctx, tip)["db_version"])
    except (KeyError, ValueError, TypeError):
        return None


DB_ID = "db_id"


def db_id(st: store.Store) -> str:
    """The identity of this database's lineage, written into every journal snapshot.

    A database rebuilt from the journal takes the journal's; a new one (state.db
    lost and recreated) gets a fresh one, so it never passes for the journal's.
    """
    found = st.meta(DB_ID)
    if found:
        return found
    with st.cache_write() as conn:
        found = st.meta(DB_ID) or secrets.token_hex(8)
        st.set_meta(conn, DB_ID, found)
    return found


def _descends(ctx: Context, st: store.Store, tip: gitrepo.Oid, meta: dict[str, Any]) -> bool:
    """Was this database built from (or exported to) the journal at ``tip``?"""
    held = meta.get(DB_ID)
    if isinstance(held, str) and held:
        return held == st.meta(DB_ID)
    # A journal written before snapshots named their database: this database must
    # have written or been rebuilt from ``tip`` or one of its ancestors.
    mine = st.meta("journal_tip")
    if not mine or mine == "none":
        return False
    return mine == tip or githistory.is_ancestor(ctx.repo, mine, tip)


SYNCED_FILE = "journal.version"


def _mark_synced(repo: gitrepo.Repo, version: int) -> None:
    """Tell the post-commit shim which db_version the journal holds (no SQLite in sh)."""
    path = repo.orch_dir / SYNCED_FILE
    tmp = path.with_name(f"{SYNCED_FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(f"{version}\n")
        os.replace(tmp, path)
    except OSError:
        pass


def sync(ctx: Context) -> dict[str, Any]:
    """Export the work state to ``refs/orch/work`` unless it already holds this version."""
    repo = ctx.repo
    st = ctx.store
    version = st.db_version()
    tip = gitrefs.read_ref_file(repo.common_dir, REF)
    if tip and st.meta("journal_tip") == tip and st.meta("journal_version") == str(version):
        _mark_synced(repo, version)
        return {"synced": False, "ref": REF, "tip": tip, "db_version": version}
    odb = ctx.odb

    me = db_id(st)

    def attempt(tip: gitrepo.Oid | None) -> gitrefs.Proposal[dict[str, Any]]:
        meta = _journal_meta(ctx, tip) if tip else {}
        if tip and not _descends(ctx, st, tip, meta):
            # state.db was lost and recreated (or replaced): exporting it would
            # replace the journal, the only copy of the work state, with it.
            raise Refused(
                f"the state database was not built from the work journal {REF} holds "
                f"(at {tip[:12]}); refusing to replace the journal with it",
                code="journal_foreign",
                hint="if state.db was lost or replaced, run `orch-hooks rebuild --force` "
                     "(the current file is kept aside)")
        version, files = export(st.conn, me)
        held = _journal_version(ctx, tip) if tip else None
        if held is not None and held > version:
            # A lost or replaced state.db starts again at 0: exporting it would
            # make `rebuild` restore the near-empty state instead of the journal.
            raise Refused(
                f"{REF} holds db_version {held} but the state database is at {version}; "
                "refusing to replace newer work state",
                code="journal_ahead",
                hint="if state.db was lost or replaced, run `orch-hooks rebuild --force` "
                     "(the current file is kept aside)")
        if tip and held == version:
            new = tip
        else:
            new = odb.write_snapshot(files, tip, f"work state at db_version {version}",
                                     when=ctx.now())

        def done(new: gitrepo.Oid) -> dict[str, Any]:
            with st.cache_write() as conn:
                st.set_meta(conn, "journal_tip", new)
                st.set_meta(conn, "journal_version", str(version))
            _mark_synced(repo, version)
            return {"synced": new != tip, "ref": REF, "tip": new, "db_version": version}

        return gitrefs.Proposal({}, new, f"orch: journal v{version}", done)

    return gitrefs.update(repo, odb, REF, attempt, writer="work",
                          gave_up=f"{REF} kept moving; journal not written",
                          hint="retry `orch-hooks sync`")


def _parse_lines(name: str, raw: bytes, warnings: list[str]) -> list[dict[str, Any]]:
    out, found = jsonlines.objects(raw.decode(errors="replace").splitlines(),
                                   f"journal {name}", "; skipped")
    warnings.extend(found)
    return out


def _read_journal(ctx: Context, warnings: list[str],
                  ) -> tuple[gitrepo.Oid, int, dict[str, bytes]]:
    """The newest snapshot whose meta.json reads; older ones stand in for a corrupt tip."""
    odb = ctx.odb
    commit = odb.tip(REF)
    if commit is None:
        raise NotFound(f"no journal: {REF} does not exist", code="no_journal",
                       hint="nothing was ever synced; `orch-hooks sync` writes it")
    while commit is not None:
        try:
            files = odb.files(commit)
            meta = json.loads(files["meta.json"])
            return commit, int(meta["db_version"]), files
        except Exception as e:  # any unreadable snapshot is skipped, never fatal
            warnings.append(f"journal snapshot {commit[:12]} unreadable "
                            f"({type(e).__name__}: {e}); trying its parent")
            try:
                commit = odb.parent(commit)
            except Exception:
                commit = None
    raise NotFound(f"no readable snapshot in {REF}", code="no_journal",
                   hint="the journal is damaged beyond use; start a new state with "
                        "`orch-hooks install`")


def _load(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]],
          warnings: list[str]) -> int:
    cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    done = 0
    for n, row in enumerate(rows, 1):
        keys = [k for k in row if k in cols]
        try:
            conn.execute(f"INSERT INTO {table}({', '.join(keys)}) VALUES "
                         f"({', '.join('?' * len(keys))})", [row[k] for k in keys])
            done += 1
        except (sqlite3.Error, TypeError, ValueError) as e:
            warnings.append(f"journal {table} row {n}: {e}; skipped")
    return done


def _move_aside(path: str) -> str | None:
    """Keep the old database under a new name without ever leaving ``path`` absent.

    The main file is hard-linked aside (``path`` stays in place until the new
    file replaces it), then its WAL and shared-memory files move aside: a
    rebuild killed at any point leaves the old database (at worst without its
    last uncheckpointed transactions, which the copy aside keeps) or the new one.
    """
    if not os.path.exists(path):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = f"{path}.before-rebuild-{stamp}-{os.getpid()}"
    try:
        os.link(path, aside)
    except OSError:
        shutil.copy2(path, aside)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    return aside


def _existing_version(path: str) -> int | None:
    """db_version of an existing database, or None when it is absent or unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='db_version'").fetchone()
            return int(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        return None


def _remove_dead_temporaries(path: str) -> None:
    """Half-built databases of rebuilds that were killed (their process is gone)."""
    folder = Path(path).parent
    prefix = Path(path).name + ".rebuild-"
    for p in folder.glob(prefix + "*"):
        pid = p.name[len(prefix):].split("-")[0]  # <pid>, <pid>-wal, <pid>-shm
        if pid.isdigit() and not store.pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def rebuild(ctx: Context, force: bool = False) -> dict[str, Any]:
    """Recreate state.db from refs/orch/work (+ refs and notes, read lazily)."""
    repo = ctx.repo
    path = str(store.db_path(repo.orch_dir))
    ctx.close()
    existing = _existing_version(path)
    if existing and not force:
        raise Refused(f"{path} exists and holds state (db_version {existing})",
                      code="db_exists",
                      hint="rebuild replaces it: pass --force (the old file is kept aside)")
    warnings: list[str] = []
    counts: dict[str, int] = {}
    with gitrefs.writer_lock(repo, "work"):
        commit, version, files = _read_journal(ctx, warnings)
        tmp = f"{path}.rebuild-{os.getpid()}"
        _remove_dead_temporaries(path)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp + suffix)
        fresh = store.Store(Path(tmp))
        try:
            with fresh.cache_write() as conn:
                for table in JOURNAL_TABLES:
                    rows = _parse_lines(f"{table}.jsonl", files.get(f"{table}.jsonl", b""),
                                        warnings)
                    counts[table] = _load(conn, table, rows, warnings)
                events: list[dict[str, Any]] = []
                for name in sorted(n for n in files if n.startswith("events-")):
                    events.extend(_parse_lines(name, files[name], warnings))
                counts["events"] = _load(conn, "events", events, warnings)
                fresh.set_meta(conn, "db_version", str(version))
                fresh.set_meta(conn, "journal_tip", commit)
                fresh.set_meta(conn, "journal_version", str(version))
                # The queue history standing when the database was rebuilt is trusted:
                # its events may be missing from a journal that is behind (merge/queue.py
                # `written_by_orch`).
                qtip = gitrefs.read_ref_file(repo.common_dir, "refs/orch/queue")
                if qtip:
                    fresh.set_meta(conn, "queue_trusted_tip", qtip)
                # So is the lock table's (locks/storage.py `written_by_orch`).
                ltip = gitrefs.read_ref_file(repo.common_dir, "refs/orch/locks")
                if ltip:
                    fresh.set_meta(conn, "locks_trusted_tip", ltip)
                lineage = _journal_meta(ctx, commit).get(DB_ID)
                fresh.set_meta(conn, DB_ID, lineage if isinstance(lineage, str) and lineage
                               else secrets.token_hex(8))
            fresh.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            fresh.close()
        aside = _move_aside(path)
        os.replace(tmp, path)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp + suffix)
    note_warnings = checkpoints.ensure_index(ctx)
    newest = checkpoints.max_db_version(ctx)
    if newest > version:
        warnings.append(f"commits were stamped at db_version {newest}, after the journal's "
                        f"{version}: changes since the last sync are not restored")
    return {"db": path, "journal": commit, "db_version": version, "restored": counts,
            "moved_aside": aside, "warnings": warnings + note_warnings}
