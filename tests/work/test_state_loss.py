"""After state.db is lost, a new database never replaces the work journal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orch_core.work import journal
from testing.repos import git, open_session, orch, orch_json


def _delete_db(repo: Path) -> None:
    db = repo / ".git" / "orch" / "state.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)


def test_a_recreated_database_does_not_replace_the_journal(repo: Path) -> None:
    sid = open_session(repo, "alice")
    for n in range(3):
        orch(repo, "task", "create", "--level", "epic", "--title", f"epic {n}", session=sid,
             check=True)
    orch(repo, "sync", check=True)
    before = git(repo, "rev-parse", journal.REF).stdout.strip()
    _delete_db(repo)
    other = open_session(repo, "bob")
    for n in range(5):  # routine lock operations push db_version past the journal's
        orch(repo, "lock", "acquire", f"docs/f{n}.md", session=other, check=True)
    synced = orch(repo, "sync")
    assert synced.returncode == 1, synced.stdout + synced.stderr
    assert "rebuild --force" in synced.stderr
    assert git(repo, "rev-parse", journal.REF).stdout.strip() == before
    # The background sync of the hooks does not write it either.
    subprocess.run([sys.executable, "-m", "orch_core.hooks.main", "sync"], cwd=repo,
                   capture_output=True, check=True)
    assert git(repo, "rev-parse", journal.REF).stdout.strip() == before
    out = orch_json(repo, "rebuild", "--force")
    assert out["restored"]["tasks"] == 3
    # A database rebuilt from the journal syncs again.
    orch(repo, "task", "create", "--level", "epic", "--title", "after", session=sid,
         check=True)
    orch(repo, "sync", check=True)
    after = git(repo, "rev-parse", journal.REF).stdout.strip()
    assert git(repo, "rev-parse", f"{after}^").stdout.strip() == before


def _gc_worktree(repo: Path) -> tuple[str, Path]:
    out = orch_json(repo, "session", "open", "--owner", "z", "--worktree")
    return str(out["session_id"]), Path(out["path"])


def test_gc_keeps_a_worktree_a_session_took_over_with_resume_attach(repo: Path) -> None:
    old, path = _gc_worktree(repo)
    orch(path, "session", "close", check=True, env={"ORCH_SESSION": old})
    new = open_session(repo, "taker")
    orch(path, "resume", "attach", old, session=new, check=True)
    (path / "wip.txt").write_text("the live session's work\n")
    gc = orch_json(repo, "worktree", "gc")
    assert gc["removed"] == []
    assert (path / "wip.txt").read_text() == "the live session's work\n"


def test_gc_never_deletes_ignored_files_unsaved(repo: Path) -> None:
    sid, path = _gc_worktree(repo)
    (path / ".gitignore").write_text(".env\n")
    git(path, "add", ".gitignore")
    git(path, "commit", "-q", "-m", "ignore .env", env={"ORCH_SESSION": sid})
    (path / ".env").write_text("SECRET=only copy\n")
    orch(path, "session", "close", check=True, env={"ORCH_SESSION": sid})
    gc = orch_json(repo, "worktree", "gc")
    assert gc["removed"] == []
    assert [k["path"] for k in gc["kept"]] == [str(path)]
    assert "ignored" in gc["kept"][0]["why"] and ".env" in gc["kept"][0]["why"]
    assert (path / ".env").read_text() == "SECRET=only copy\n"


def test_empty_database_warning_only_when_state_was_lost(repo: Path, bare_remote: Path) -> None:
    """The first push syncs the journal of a still-empty database: that is not lost
    state. Deleting a database that held state is, and is said once per command."""
    warning = "the state database is empty"
    git(repo, "switch", "-q", "-c", "work")
    assert git(repo, "push", "-q", "origin", "work").returncode == 0
    assert git(repo, "rev-parse", "-q", "--verify", journal.REF, check=False).returncode == 0
    for args in (["lock", "list"], ["session", "list"], ["doctor"]):
        assert warning not in orch(repo, *args).stderr, args
    open_session(repo, "alice")
    orch(repo, "sync", check=True)
    _delete_db(repo)
    assert warning in orch(repo, "lock", "list").stderr
