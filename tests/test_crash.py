"""Crash recovery: a shortened crash run, and the repairs it relies on, one by one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from benchmarks import bench_crash
from orch_core.git import refs as gitrefs
from orch_core.hooks import doctor as hookdoctor
from orch_core.state.context import Context
from orch_core.work import journal, stamp
from testing.repos import add_worktree, commit_file, git, open_session, orch, orch_json
from tests.merge.test_landing import _paused_lander, approved_branch, land_cli, rev, state_of
from tests.merge.test_queue import setup_repo


def test_short_crash_run_has_zero_violations() -> None:
    out = bench_crash.main(trials=20, seed=11)
    res = out["result"]
    assert res["violations"] == [], res["violations"]
    assert res["trials"] == 20
    assert res["kind_trials"] == {"lock": 5, "commit": 5, "land": 5, "rebuild": 5}
    assert all(f["ok"] for f in out["figures"]), out["figures"]
    assert {f["name"] for f in out["figures"]} >= {"crash invariant violations"}


def _findings(report: dict[str, object], check: str) -> list[dict[str, object]]:
    found = report["findings"]
    assert isinstance(found, list)
    return [f for f in found if f["check"] == check]


def test_doctor_names_a_commit_without_its_note_and_fix_restamps_it(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a", "agent")
    sid = open_session(wt, "agent", "--bind")
    assert commit_file(wt, "docs/a.md", "a\n", "stamped").returncode == 0
    # As if killed between the ref update and post-commit: no hook ran.
    commit_file(wt, "docs/b.md", "b\n", "unstamped", env={"GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": "/dev/null"})
    head = rev(wt, "HEAD")
    assert git(repo, "notes", "--ref=orch", "show", head, check=False).returncode != 0
    rep = json.loads(orch(repo, "doctor", "--json").stdout)
    assert not rep["healthy"]
    [f] = _findings(rep, "checkpoint notes")
    assert not f["ok"] and head[:12] in str(f["detail"]) and "agent" in str(f["detail"])
    fixed = json.loads(orch(repo, "doctor", "--fix", "--json").stdout)
    assert fixed["healthy"]
    note = json.loads(git(repo, "notes", "--ref=orch", "show", head).stdout.splitlines()[-1])
    assert note["session"] == sid and note["restamped_by"] == "doctor"
    assert note["base"] == rev(repo, "main")
    assert orch_json(repo, "doctor")["healthy"]


def test_commits_from_before_install_are_not_reported(tmp_path: Path) -> None:
    from testing.repos import make_repo

    repo = make_repo(tmp_path / "repo", install=False)
    git(repo, "checkout", "-q", "-b", "old-work")
    commit_file(repo, "docs/old.md", "old\n", "before orch")
    git(repo, "checkout", "-q", "main")
    time.sleep(1.1)  # commit times have one-second resolution
    orch(repo, "install", check=True)
    rep = orch_json(repo, "doctor")
    assert rep["healthy"] and _findings(rep, "checkpoint notes")[0]["ok"]


def test_note_writer_waits_out_a_dead_writers_ref_lock(ctx: Context, repo: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitrefs, "STALE_GIT_LOCK_SECONDS", 0.5)
    lock = gitrefs.loose_ref_lock_path(ctx.repo, stamp.NOTES_REF)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # what a `git notes add` killed mid-update leaves
    head = rev(repo, "HEAD")
    stamp.write_note(ctx, head, {"v": 1, "session": None})
    assert not lock.exists()
    assert '"v":1' in git(repo, "notes", "--ref=orch", "show", head).stdout


def test_doctor_removes_git_lock_files_a_killed_commit_left(repo: Path) -> None:
    wt = add_worktree(repo, "wt-b", "bee")
    gd = Path(git(wt, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip())
    left = [gd / "HEAD.lock", gd / "index.lock", repo / ".git" / "refs" / "heads" / "bee.lock"]
    old = time.time() - gitrefs.STALE_GIT_LOCK_SECONDS - 1
    for p in left:
        p.write_text("")
        os.utime(p, (old, old))
    assert git(wt, "commit", "--allow-empty", "-m", "x", check=False).returncode != 0
    rep = json.loads(orch(repo, "doctor", "--json").stdout)
    assert len(_findings(rep, "stale git lock file")) == 3
    assert orch_json(repo, "doctor", "--fix")["healthy"]
    assert not any(p.exists() for p in left)
    assert commit_file(wt, "docs/c.md", "c\n").returncode == 0
    # A fresh lock file (a git command may be running) is left alone.
    (gd / "index.lock").write_text("")
    assert hookdoctor.stale_git_locks(Context(cwd=repo, env={})) == []


def test_next_landing_puts_back_a_half_done_fast_forward(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n", "README.md": "changed\n"})
    old = rev(repo, "main")
    proc = _paused_lander(repo, "target")
    lease = state_of(repo).lease
    assert lease is not None and lease.target
    target = lease.target
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # What `git merge --ff-only` killed before its ref update leaves: files and index
    # at the tested merge, main still at the old tip.
    git(repo, "read-tree", "-m", "-u", "HEAD", target)
    assert git(repo, "status", "--porcelain").stdout.strip()
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    assert rev(repo, "main") != old and git(repo, "status", "--porcelain").stdout == ""
    assert (repo / "docs/feat.md").read_text() == "feat\n"


def test_someone_elses_edit_is_never_reset(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    proc = _paused_lander(repo, "target")
    lease = state_of(repo).lease
    assert lease is not None and lease.target
    target = lease.target
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    git(repo, "read-tree", "-m", "-u", "HEAD", target)
    (repo / "docs/feat.md").write_text("my own words\n")
    result = orch(repo, "merge", "land")
    assert result.returncode == 1 and "uncommitted changes" in result.stderr
    assert (repo / "docs/feat.md").read_text() == "my own words\n"


def test_rebuild_keeps_every_old_database_and_clears_dead_temporaries(repo: Path) -> None:
    open_session(repo, "worker", "--no-bind")
    orch(repo, "sync", check=True)
    db = repo / ".git" / "orch" / "state.db"
    dead = db.with_name(db.name + ".rebuild-999999999")
    dead.write_bytes(b"half written")
    for _ in range(2):  # twice in the same second: two distinct copies aside
        orch(repo, "rebuild", "--force", check=True)
    asides = sorted(db.parent.glob("state.db.before-rebuild-*[0-9]"))
    assert len(asides) == 2 and not dead.exists()
    assert journal._existing_version(str(db)) is not None
