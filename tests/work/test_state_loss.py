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
