"""A commit is a sync point of the work-state journal, without Python on the commit path."""

from __future__ import annotations

import json
import time
from pathlib import Path

from testing.repos import add_worktree, commit_file, git, orch, orch_json


def _journal_version(repo: Path) -> int:
    proc = git(repo, "cat-file", "blob", "refs/orch/work:meta.json", check=False)
    if proc.returncode != 0:
        return 0
    return int(json.loads(proc.stdout)["db_version"])


def test_commit_exports_newer_session_state_in_the_background(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a")
    sid = orch_json(wt, "session", "open", "--owner", "agent-a")["session_id"]
    orch(wt, "sync", check=True)
    synced = _journal_version(repo)
    epic = orch_json(wt, "task", "create", "--level", "epic", "--title", "E")["id"]
    orch(wt, "lock", "acquire", "docs/", "--task", epic, session=sid, check=True)
    assert _journal_version(repo) == synced  # nothing exported yet
    assert commit_file(wt, "docs/a.md", "a\n", "a").returncode == 0
    deadline = time.monotonic() + 20
    while _journal_version(repo) <= synced and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _journal_version(repo) > synced
    # The background sync moves the ref first and then records the version it
    # exported, so the mark may trail the ref by a moment; it must catch up.
    mark = repo / ".git" / "orch" / "journal.version"
    while mark.read_text().strip() != str(_journal_version(repo)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mark.read_text().strip() == str(_journal_version(repo))


def test_commit_with_nothing_new_starts_no_sync(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a")
    orch_json(wt, "session", "open", "--owner", "agent-a")
    orch(wt, "sync", check=True)
    tip = git(repo, "rev-parse", "refs/orch/work").stdout
    mark = repo / ".git" / "orch" / "journal.version"
    before = mark.stat().st_mtime_ns
    assert commit_file(wt, "docs/b.md", "b\n", "b").returncode == 0
    time.sleep(1.0)
    assert git(repo, "rev-parse", "refs/orch/work").stdout == tip
    assert mark.stat().st_mtime_ns == before
