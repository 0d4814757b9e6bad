"""A lock table git can no longer read is an error everywhere, never "no locks";
doctor reports it and `doctor --fix` rebuilds it from the ref's history."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from orch_core.locks import service as locks
from testing.repos import add_worktree, git, open_session, orch, orch_json


def _object_file(repo: Path, oid: str) -> Path:
    return repo / ".git" / "objects" / oid[:2] / oid[2:]


def _lose_tip(repo: Path) -> tuple[str, str]:
    """Move the ref to a new commit of the same table, then delete that commit's
    object (what `git gc --prune=now` racing a lock writer leaves behind)."""
    old = git(repo, "rev-parse", locks.REF).stdout.strip()
    tree = git(repo, "rev-parse", f"{old}^{{tree}}").stdout.strip()
    new = git(repo, "commit-tree", tree, "-p", old, "-m", "written, then pruned").stdout.strip()
    git(repo, "update-ref", locks.REF, new, old)
    _object_file(repo, new).unlink()
    return old, new


def _setup(repo: Path) -> tuple[str, str, Path]:
    a = open_session(repo, "alice")
    orch(repo, "lock", "acquire", "src/api/", session=a, check=True)
    wt = add_worktree(repo, "bob-wt", "bob")
    b = open_session(wt, "bob")
    return a, b, wt


def _forge_empty_table(repo: Path, parent: str, ref: str = locks.REF) -> str:
    """A hand-made commit of an empty lock table on ``parent``, put at ``ref``."""
    empty = git(repo, "mktree", input="").stdout.strip()
    forged = git(repo, "commit-tree", empty, "-p", parent, "-m", "no locks").stdout.strip()
    git(repo, "update-ref", ref, forged)
    return forged


def test_a_missing_table_commit_is_an_error_not_an_empty_table(repo: Path) -> None:
    a, b, wt = _setup(repo)
    _old, new = _lose_tip(repo)
    listed = orch(repo, "lock", "list")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert "unreadable" in listed.stderr and new[:12] in listed.stderr
    got = orch(repo, "lock", "acquire", "docs/", session=a)
    assert got.returncode == 1, got.stderr
    assert "Traceback" not in got.stderr and "unreadable" in got.stderr
    # The hook refuses a commit on the locked path, and a commit on any other path:
    # the table cannot say who holds what.
    (wt / "src" / "api").mkdir(parents=True, exist_ok=True)
    (wt / "src" / "api" / "x.py").write_text("x = 1\n")
    git(wt, "add", "-A")
    commit = git(wt, "commit", "-q", "-m", "on a locked path", check=False,
                 env={"ORCH_SESSION": b})
    assert commit.returncode != 0
    assert "unreadable" in commit.stderr
    # No index the shell could trust was left behind.
    idx = repo / ".git" / "orch" / "locks.idx"
    assert not idx.exists() or new not in idx.read_text()


def test_doctor_reports_and_fix_rebuilds_from_history(repo: Path) -> None:
    a, _b, _wt = _setup(repo)
    old, new = _lose_tip(repo)
    # The cache no longer matches: doctor must go to git.
    db = repo / ".git" / "orch" / "state.db"
    import sqlite3
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='none' WHERE key='locks_tip'")
    report = orch(repo, "doctor", "--json")
    assert report.returncode == 1, report.stdout + report.stderr
    data = json.loads(report.stdout)
    assert data["healthy"] is False
    bad = [f for f in data["findings"] if f["check"] == "lock table readable"]
    assert bad and not bad[0]["ok"] and new[:12] in bad[0]["detail"]
    fixed = orch_json(repo, "doctor", "--fix")
    assert any(f["check"] == "lock table readable" and f["fixed"] for f in fixed["findings"])
    tip = git(repo, "rev-parse", locks.REF).stdout.strip()
    assert git(repo, "rev-parse", f"{tip}^").stdout.strip() == old
    listed = orch_json(repo, "lock", "list")
    assert [lk["path"] for lk in listed["locks"]] == ["src/api/"]
    assert listed["locks"][0]["session"] == a
    assert orch_json(repo, "doctor")["healthy"] is True


def test_the_ref_pointing_at_a_blob_is_reported(repo: Path) -> None:
    _setup(repo)
    blob = git(repo, "hash-object", "-w", "--stdin", input="not a table\n").stdout.strip()
    (repo / ".git" / "refs" / "orch" / "locks").write_text(blob + "\n")
    listed = orch(repo, "lock", "list")
    assert listed.returncode == 1 and "blob" in listed.stderr, listed.stderr
    report = orch(repo, "doctor", "--json")
    data = json.loads(report.stdout)
    assert any(f["check"] == "lock table readable" and not f["ok"] and "blob" in f["detail"]
               for f in data["findings"])
    orch(repo, "doctor", "--fix", check=True)
    assert orch_json(repo, "doctor")["healthy"] is True
    assert [lk["path"] for lk in orch_json(repo, "lock", "list")["locks"]] == ["src/api/"]
    assert os.path.exists(repo / ".git" / "orch" / "locks.idx")


def test_a_ref_file_holding_garbage_is_not_an_empty_table(repo: Path) -> None:
    a, _b, _wt = _setup(repo)
    ref = repo / ".git" / "refs" / "orch" / "locks"
    ref.write_text("garbage\n")
    listed = orch(repo, "lock", "list")
    assert listed.returncode == 1 and "unreadable" in listed.stderr, listed.stderr
    assert orch(repo, "lock", "acquire", "docs/", session=a).returncode == 1
    assert orch_json(repo, "doctor", "--fix")["healthy"] is True
    assert [lk["path"] for lk in orch_json(repo, "lock", "list")["locks"]] == ["src/api/"]


def test_a_deleted_lock_ref_is_an_error_not_an_empty_table(repo: Path) -> None:
    """`git update-ref -d refs/orch/locks` is damage: this clone's state read a table
    there, so every path answers "missing", never "no locks", until it is put back."""
    a, b, wt = _setup(repo)
    tip = git(repo, "rev-parse", locks.REF).stdout.strip()
    git(repo, "update-ref", "-d", locks.REF)
    listed = orch(repo, "lock", "list", "--json")
    assert listed.returncode == 1 and "lock_table_missing" in listed.stdout + listed.stderr
    (wt / "src" / "api" / "users.py").write_text("bob was here\n")
    git(wt, "add", "src/api/users.py")
    commit = git(wt, "commit", "-q", "-m", "into alice's lock", check=False)
    assert commit.returncode == 1 and "missing" in commit.stderr, commit.stderr
    # --no-verify: the branch lock rule of reference-transaction refuses too.
    forced = git(wt, "commit", "-q", "--no-verify", "-m", "into alice's lock", check=False)
    assert forced.returncode != 0, forced.stderr
    assert git(wt, "diff", "--cached", "--name-only").stdout.split() == ["src/api/users.py"]
    took = orch(wt, "lock", "acquire", "src/api/", session=b)
    assert took.returncode == 1
    git(repo, "update-ref", locks.REF, tip)  # the hint's command
    listed = orch_json(repo, "lock", "list")
    assert [lk["session"] for lk in listed["locks"]] == [a]


def test_a_hand_made_lock_commit_is_not_believed(repo: Path) -> None:
    """A table commit no orch-hooks writer made (here: an empty table on top of alice's)
    is refused everywhere; doctor names it and `--fix` puts back the table orch wrote."""
    a, b, wt = _setup(repo)
    _forge_empty_table(repo, locks.REF)
    listed = orch(wt, "lock", "list", "--json")
    assert listed.returncode == 1 and "lock_table_untrusted" in listed.stdout + listed.stderr
    (wt / "src" / "api" / "users.py").write_text("bob was here\n")
    git(wt, "add", "src/api/users.py")
    commit = git(wt, "commit", "-q", "-m", "into alice's lock", check=False)
    assert commit.returncode == 1 and "not trusted" in commit.stderr, commit.stderr
    took = orch(wt, "lock", "acquire", "src/api/", session=b)
    assert took.returncode == 1 and "not trusted" in took.stdout + took.stderr
    doctor = orch(repo, "doctor", "--json")
    assert doctor.returncode == 1 and "written by orch-hooks" in doctor.stdout
    orch(repo, "doctor", "--fix", check=True)
    listed = orch_json(wt, "lock", "list")
    assert [lk["session"] for lk in listed["locks"]] == [a]
    again = git(wt, "commit", "-q", "-m", "into alice's lock", check=False)
    assert again.returncode == 1 and "alice" in again.stderr, again.stderr


def test_the_lock_writers_own_commits_stay_trusted(repo: Path) -> None:
    a, b, wt = _setup(repo)
    for _ in range(3):
        orch(wt, "lock", "acquire", "docs/", session=b, check=True)
        orch(wt, "lock", "release", "docs/", session=b, check=True)
    assert orch(repo, "doctor").returncode == 0
    assert [lk["session"] for lk in orch_json(wt, "lock", "list")["locks"]] == [a]


def test_moving_the_lock_ref_back_to_an_older_table_is_not_believed(repo: Path) -> None:
    """Every old table commit was written by orch, but pointing the ref back at one
    from before alice's lock would drop it: a tip that does not descend from the table
    this clone last read is refused like a hand-made one."""
    a = open_session(repo, "alice")
    orch(repo, "lock", "acquire", "README.md", session=a, check=True)
    orch(repo, "lock", "release", "README.md", session=a, check=True)
    orch(repo, "lock", "acquire", "docs/", session=a, check=True)
    before = git(repo, "rev-parse", locks.REF).stdout.strip()  # alice holds docs/ only
    orch(repo, "lock", "acquire", "src/api/", session=a, check=True)
    orch(repo, "lock", "release", "docs/", session=a, check=True)
    wt = add_worktree(repo, "bob-wt", "bob")
    b = open_session(wt, "bob")
    assert orch(wt, "lock", "acquire", "src/api/", session=b).returncode == 1
    git(repo, "update-ref", locks.REF, before)
    took = orch(wt, "lock", "acquire", "src/api/", session=b)
    assert took.returncode == 1 and "older table" in took.stdout + took.stderr, took
    doctor = orch(repo, "doctor", "--json")
    assert doctor.returncode == 1 and "older table" in doctor.stdout
    orch(repo, "doctor", "--fix", check=True)
    held = [(lk["session"], lk["path"]) for lk in orch_json(wt, "lock", "list")["locks"]]
    assert held == [(a, "src/api/")], held


@pytest.mark.parametrize("via", ["mail", "queue"])
def test_a_table_laundered_through_another_orch_writer_is_not_believed(
        repo: Path, via: str) -> None:
    """A hand-made commit put under refs/orch/mail (or queue), so that orch's mail (or
    queue) writer builds on it and names the result in its own event, is still not a
    lock table orch wrote."""
    _a, b, wt = _setup(repo)
    tip = git(repo, "rev-parse", locks.REF).stdout.strip()
    forged = _forge_empty_table(repo, tip, f"refs/orch/{via}")
    if via == "mail":
        orch(wt, "mail", "send", "--to", "alice", "--subject", "hi", session=b)
    else:
        git(wt, "switch", "-q", "-c", "laundry")
        (wt / "docs" / "l.md").write_text("l\n")
        git(wt, "add", "docs/l.md")
        git(wt, "commit", "-q", "-m", "l")
        orch(wt, "merge", "request", session=b)
    laundered = git(repo, "rev-parse", f"refs/orch/{via}").stdout.strip()
    assert laundered != forged
    git(repo, "update-ref", locks.REF, laundered)
    listed = orch(wt, "lock", "list", "--json")
    assert listed.returncode == 1 and "lock_table_untrusted" in listed.stdout + listed.stderr


def test_a_hand_written_remote_record_does_not_make_a_hand_made_table_believed(
        repo: Path) -> None:
    """`git config orch.remote NAME` puts the clone in remote mode, where the remote's
    tables count; a hand-made commit the remote never held is still not believed."""
    _a, _b, wt = _setup(repo)
    _forge_empty_table(repo, locks.REF)
    git(repo, "config", "orch.remote", "origin")
    (wt / "src" / "api" / "users.py").write_text("bob was here\n")
    git(wt, "add", "src/api/users.py")
    commit = git(wt, "commit", "-q", "-m", "into alice's lock", check=False)
    assert commit.returncode == 1 and "not trusted" in commit.stderr, commit.stderr
