"""The SQLite state store: schema, versions, events, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from orch_core.state import store as store_mod
from orch_core.state.store import MIGRATIONS, SCHEMA_VERSION, Store


def test_fresh_store_is_wal_and_current(tmp_path: Path) -> None:
    s = Store(tmp_path / "orch" / "state.db")
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert s.db_version() == 0
    assert s.integrity() == "ok"
    s.close()


def test_write_bumps_version_and_appends_one_event(tmp_path: Path) -> None:
    s = Store(tmp_path / "state.db")
    with s.write("tester", "thing.done", {"n": 1}) as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('x', '1')")
    with pytest.raises(RuntimeError), s.write("tester", "thing.failed") as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('y', '1')")
        raise RuntimeError("abort")
    assert s.db_version() == 1
    assert s.meta("y") is None
    rows = store_mod.events(s)
    assert [(r["db_version"], r["actor"], r["kind"], r["data"]) for r in rows] == [
        (1, "tester", "thing.done", {"n": 1})]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        s.conn.execute("UPDATE events SET actor='x'")
    s.close()


def test_migration_from_older_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    extra = "ALTER TABLE meta ADD COLUMN note TEXT;"
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    s = Store(path)
    assert s.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    cols = [r[1] for r in s.conn.execute("PRAGMA table_info(meta)")]
    assert "note" in cols
    s.close()


def _writer(path: str, n: int) -> None:
    s = Store(Path(path))
    for i in range(n):
        with s.write("proc", "tick", {"i": i}) as conn:
            conn.execute("SELECT 1")
    s.close()


def test_concurrent_processes_keep_versions_contiguous(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), 40)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = Store(path)
    versions = [r[0] for r in s.conn.execute("SELECT db_version FROM events ORDER BY seq")]
    assert versions == list(range(1, 241))
    assert s.db_version() == 240
    s.close()
