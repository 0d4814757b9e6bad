"""Amends racing commits lose no checkpoint note: every write of refs/notes/orch,
the copy of an amended or rebased commit's note included, goes through orch's
serialised writer (docs/ARCHITECTURE.md, "Where state lives")."""

from __future__ import annotations

import json
from pathlib import Path

from testing.notes_race import dropped_notes, race
from testing.repos import add_worktree, commit_file, git, open_session, orch, orch_json


def test_racing_amends_and_commits_lose_no_note(repo: Path) -> None:
    out = race(repo, rounds=150)
    assert out["errors"] == []
    assert out["dropped"] == [], f"notes dropped by a later write: {out['dropped'][:5]}"
    assert out["unnoted"] == [], f"commits without their note: {out['unnoted'][:5]}"
    assert out["reachable"] >= 150


def _note_session(wt: Path, rev: str) -> str | None:
    text = git(wt, "notes", "--ref=orch", "show", rev, check=False).stdout
    return json.loads(text.splitlines()[-1])["session"] if text.strip() else None


def test_git_does_not_copy_notes_itself_and_post_rewrite_does(repo: Path) -> None:
    """No notes.rewriteRef names refs/notes/orch; amend, rebase and squash still carry
    each commit's checkpoint (a squash keeps the newest)."""
    assert "refs/notes/orch" not in git(repo, "config", "--get-all", "notes.rewriteRef",
                                        check=False).stdout
    wt = add_worktree(repo, "feature")
    sid = open_session(wt, "alice", "--bind")
    other = open_session(wt, "alice")
    for n in range(3):
        env = {"ORCH_SESSION": other} if n == 2 else None
        assert commit_file(wt, f"f{n}.txt", f"{n}\n", f"f{n}", env=env).returncode == 0
    assert _note_session(wt, "HEAD") == other
    git(wt, "commit", "-q", "--amend", "-m", "f2 amended")
    assert _note_session(wt, "HEAD") == sid  # post-commit's stamp, not the old note
    side = add_worktree(repo, "side")
    assert commit_file(side, "s.txt", "s\n", "side").returncode == 0
    git(wt, "rebase", "-q", "side")
    assert [_note_session(wt, r) for r in ("HEAD~2", "HEAD~1", "HEAD")] == [sid] * 3
    # Squash the last two: the newest note wins.
    git(wt, "commit", "-q", "--allow-empty", "-m", "by the other", env={"ORCH_SESSION": other})
    git(wt, "rebase", "-q", "-i", "HEAD~2",
        env={"GIT_SEQUENCE_EDITOR": "sed -i '2s/^pick/fixup/'"})
    assert _note_session(wt, "HEAD") == other
    # An amend inside an interactive rebase (post-commit does not stamp there).
    git(wt, "rebase", "-q", "-i", "HEAD~2",
        env={"GIT_SEQUENCE_EDITOR": "sed -i '1s/^pick/edit/'"})
    git(wt, "commit", "-q", "--amend", "-m", "edited in a rebase")
    git(wt, "rebase", "--continue")
    assert [_note_session(wt, r) for r in ("HEAD~1", "HEAD")] == [sid, other]
    assert dropped_notes(repo) == []


def test_global_rewrite_ref_glob_is_turned_off_here(repo: Path) -> None:
    """A global notes.rewriteRef=refs/notes/* would make git copy orch's notes outside
    its writer lock: doctor says so, install and --fix turn git's copying off in this
    repository, uninstall puts it back."""
    git(repo, "config", "--global", "notes.rewriteRef", "refs/notes/*")
    proc = orch(repo, "doctor", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    bad = [f for f in report["findings"] if f["check"] == "notes copy" and not f["ok"]]
    assert bad and "refs/notes/*" in bad[0]["detail"], report
    orch(repo, "doctor", "--fix", check=True)
    assert orch_json(repo, "doctor")["healthy"] is True
    assert git(repo, "config", "--local", "notes.rewrite.rebase").stdout.strip() == "false"
    wt = add_worktree(repo, "feature")
    sid = open_session(wt, "alice", "--bind")
    assert commit_file(wt, "f.txt", "f\n", "f").returncode == 0
    side = add_worktree(repo, "side")
    assert commit_file(side, "s.txt", "s\n", "side").returncode == 0
    git(wt, "rebase", "-q", "side")
    assert _note_session(wt, "HEAD") == sid
    orch(repo, "uninstall", check=True)
    assert git(repo, "config", "--local", "notes.rewrite.rebase", check=False).stdout == ""


def test_doctor_fixes_an_old_install_that_let_git_copy(repo: Path) -> None:
    git(repo, "config", "--add", "notes.rewriteRef", "refs/notes/orch")
    assert orch(repo, "doctor").returncode == 1
    orch(repo, "doctor", "--fix", check=True)
    assert git(repo, "config", "--get-all", "notes.rewriteRef", check=False).stdout == ""
    assert orch_json(repo, "doctor")["healthy"] is True
