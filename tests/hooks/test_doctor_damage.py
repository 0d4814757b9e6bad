"""doctor on damaged state: each damage reported by name, never a crash or a false
"healthy"; --fix repairs what can be repaired."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from orch_core.locks import service as locks
from orch_core.locks.table import blob_name
from testing.repos import git, mark_lock_commit_written, open_session, orch, orch_json


def _doctor(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = orch(repo, "doctor", "--json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return proc.returncode, report


def _bad(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["check"] == name and not f["ok"]]
    assert found, report
    first: dict[str, Any] = found[0]
    return first


def test_empty_and_garbled_lock_index(repo: Path) -> None:
    sid = open_session(repo, "a")
    orch(repo, "lock", "acquire", "src/", session=sid, check=True)
    idx = repo / ".git" / "orch" / "locks.idx"
    for text in ("", "garbage\n", "tip\n"):
        idx.write_text(text)
        rc, report = _doctor(repo)
        assert rc == 1 and report["healthy"] is False
        rc, report = _doctor(repo, "--fix")
        assert report["healthy"] is True, report
        assert orch_json(repo, "doctor")["healthy"] is True
        assert idx.read_text().startswith("tip\t")


def test_garbage_state_db_is_a_clear_error_and_fix_rebuilds(repo: Path) -> None:
    sid = open_session(repo, "a")
    orch(repo, "task", "create", "--level", "epic", "--title", "keep me", session=sid,
         check=True)
    orch(repo, "sync", check=True)
    db = repo / ".git" / "orch" / "state.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    for args in (("lock", "list"), ("session", "list"), ("doctor",)):
        proc = orch(repo, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and str(db) in proc.stderr
        assert "rebuild --force" in proc.stderr
    _rc, report = _doctor(repo, "--fix")
    assert _bad(report, "state database")["fixed"] is True
    tasks = orch_json(repo, "task", "list")
    assert "keep me" in json.dumps(tasks)


def test_malformed_lock_table_lines(repo: Path) -> None:
    sid = open_session(repo, "a")
    orch(repo, "lock", "acquire", "src/", session=sid, check=True)
    tip = git(repo, "rev-parse", locks.REF).stdout.strip()
    name = blob_name(sid)
    good = git(repo, "show", f"{tip}:{name}").stdout
    blob = git(repo, "hash-object", "-w", "--stdin",
               input=good + "{not json\n" + '{"id": "L-x"}\n').stdout.strip()
    tree = git(repo, "mktree", input=f"100644 blob {blob}\t{name}\n").stdout.strip()
    new = git(repo, "commit-tree", tree, "-p", tip, "-m", "hand-edited").stdout.strip()
    # A table an earlier writer left with bad lines (a commit made by hand is not
    # believed at all: tests/locks/test_damaged_table.py).
    mark_lock_commit_written(repo, new)
    git(repo, "update-ref", locks.REF, new, tip)
    rc, report = _doctor(repo)
    assert rc == 1 and "malformed" in _bad(report, "lock table lines")["detail"]
    rc, report = _doctor(repo, "--fix")
    assert _bad(report, "lock table lines")["fixed"] is True
    assert orch_json(repo, "doctor")["healthy"] is True
    assert [lk["path"] for lk in orch_json(repo, "lock", "list")["locks"]] == ["src/"]


def test_main_checked_out_in_a_deleted_worktree(repo: Path, tmp_path: Path) -> None:
    git(repo, "switch", "-q", "-c", "elsewhere")
    wt = tmp_path / "main-wt"
    git(repo, "worktree", "add", "-q", str(wt), "main")
    shutil.rmtree(wt)
    rc, report = _doctor(repo)
    assert rc == 1 and str(wt) in _bad(report, "worktree of main")["detail"]
    rc, report = _doctor(repo, "--fix")
    assert _bad(report, "worktree of main")["fixed"] is True
    git(repo, "switch", "-q", "main")


def test_an_edited_lock_index_is_named_and_fix_rewrites_it(repo: Path) -> None:
    """Every expiry of locks.idx set to 1000 turns every lock off for the hooks of
    this clone: doctor compares the index with the lock table and says which lock."""
    wa = repo.parent / "wt-a"
    git(repo, "worktree", "add", "-q", "-b", "wt-a", str(wa))
    wb = repo.parent / "wt-b"
    git(repo, "worktree", "add", "-q", "-b", "wt-b", str(wb))
    a = open_session(wa, "agent-a")
    open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "src/api/", session=a, check=True)
    idx = repo / ".git" / "orch" / "locks.idx"
    good = idx.read_text()
    edited = "".join(
        line.rpartition("\t")[0] + "\t1000\n" if not line.startswith(("tip\t", "end\t"))
        else line for line in good.splitlines(keepends=True))
    assert edited != good
    idx.write_text(edited)
    rc, report = _doctor(repo)
    assert rc == 1 and report["healthy"] is False
    detail = _bad(report, "hook fast-path index")["detail"]
    assert "src/api/" in detail and a in detail and "expiry 1000" in detail, detail
    proc = orch(repo, "doctor")
    assert "[ok] hook fast-path index" not in proc.stdout and "src/api/" in proc.stdout
    rc, report = _doctor(repo, "--fix")
    assert report["healthy"] is True, report
    assert orch_json(repo, "doctor")["healthy"] is True
    # After the fix the lock counts again for the hooks.
    (wb / "src/api/users.py").write_text("x\n")
    git(wb, "add", "src/api/users.py")
    proc = git(wb, "commit", "-q", "-m", "b", check=False)
    assert proc.returncode != 0 and a in proc.stderr
