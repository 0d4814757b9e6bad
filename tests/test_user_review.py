"""Bad input as a user types it: clear messages, right exit codes, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import commit_file, git, open_session, orch, orch_json


def _no_traceback(proc: object) -> None:
    out = getattr(proc, "stdout", "") + getattr(proc, "stderr", "")
    assert "Traceback" not in out and "internal error" not in out, out


def test_review_with_both_verdicts_is_a_usage_error_and_changes_nothing(repo: Path) -> None:
    author = orch_json(repo, "session", "open", "--owner", "author", "--worktree")
    wt, sid = Path(author["path"]), author["session_id"]
    assert commit_file(wt, "docs/new.md", "x\n", "doc", env={"ORCH_SESSION": sid}
                       ).returncode == 0
    entry = orch_json(wt, "merge", "request", session=sid)["id"]
    reviewer = open_session(repo, "reviewer")

    proc = orch(repo, "merge", "review", entry, "--approve", "--reject", session=reviewer)
    assert proc.returncode == 2, proc.stderr
    assert "exactly one of --approve or --reject" in proc.stderr
    _no_traceback(proc)
    queue = orch_json(repo, "merge", "queue")
    assert json.dumps(queue).count('"queued"') >= 1
    states = {e["id"]: e["state"] for e in queue["entries"]}
    assert states[entry] == "queued"


def test_mirror_refresh_into_a_directory_is_refused(repo: Path) -> None:
    proc = orch(repo, "mirror", "refresh", "--out", str(repo / "src"))
    assert proc.returncode == 2, proc.stderr
    assert "is a directory" in proc.stderr and "hint:" in proc.stderr
    _no_traceback(proc)
    assert not list(repo.glob(".src.*.tmp"))
    status = orch_json(repo, "mirror", "status")
    assert status["md_version"] is None


def test_resume_next_survives_a_note_with_wrong_field_types(repo: Path) -> None:
    opened = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    wt, sid = Path(opened["path"]), opened["session_id"]
    assert commit_file(wt, "docs/a.md", "a\n", "a", env={"ORCH_SESSION": sid}
                       ).returncode == 0
    bad = json.dumps({"v": 1, "session": sid, "steps": "x", "next": 5, "locks": 5})
    git(wt, "notes", "--ref=orch", "add", "-f", "-m", bad, "HEAD")

    proc = orch(wt, "resume", "next", session=sid)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    assert "last checkpoint" in proc.stdout
    cp = orch_json(wt, "resume", "next", session=sid)["last_checkpoint"]
    assert cp["steps"] is None and cp["next"] is None


def test_usage_error_with_json_is_json_on_stdout(repo: Path) -> None:
    proc = orch(repo, "task", "get", "--json")
    assert proc.returncode == 2
    err = json.loads(proc.stdout)["error"]
    assert err["code"] == "usage" and "ID" in err["message"]
    assert "orch-hooks task get --help" in err["hint"]

    proc = orch(repo, "lock", "list", "--json", "--bogus")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "usage"


def test_session_option_after_the_command_says_where_it_goes(repo: Path) -> None:
    proc = orch(repo, "session", "close", "--session", "s-12345678")
    assert proc.returncode == 2
    assert "orch-hooks --session ID COMMAND" in proc.stderr


def test_bare_repository_and_missing_directory_say_what_is_wrong(tmp_path: Path,
                                                                  repo: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    proc = orch(bare, "lock", "list", "--json")
    assert proc.returncode == 2
    err = json.loads(proc.stdout)["error"]
    assert "bare repository" in err["message"]

    proc = orch(repo, "-C", str(tmp_path / "nope"), "lock", "list")
    assert proc.returncode == 2
    assert "is not a directory" in proc.stderr and "cannot run" not in proc.stderr


def test_sync_after_a_lost_database_does_not_replace_the_journal(repo: Path) -> None:
    sid = open_session(repo, "alice")
    orch(repo, "task", "create", "--level", "epic", "--title", "kept", check=True)
    orch(repo, "sync", check=True)
    tip = git(repo, "rev-parse", "refs/orch/work").stdout.strip()
    db = repo / ".git" / "orch" / "state.db"
    for f in db.parent.glob("state.db*"):
        f.unlink()

    orch(repo, "task", "create", "--level", "epic", "--title", "fresh", check=True)
    proc = orch(repo, "sync")
    assert proc.returncode == 1
    assert "orch-hooks rebuild --force" in proc.stderr
    _no_traceback(proc)
    assert git(repo, "rev-parse", "refs/orch/work").stdout.strip() == tip

    orch(repo, "rebuild", "--force", check=True)
    titles = [t["title"] for t in orch_json(repo, "task", "list")["tasks"]]
    assert titles == ["kept"]
    assert sid in json.dumps(orch_json(repo, "session", "list"))


def test_doctor_reports_a_broken_orch_toml_and_runs_the_other_checks(repo: Path) -> None:
    (repo / ".orch.toml").write_text("[locks\n")
    (repo / ".git" / "hooks" / "pre-push").unlink()
    for args in (("doctor", "--json"), ("doctor", "--fix", "--json")):
        proc = orch(repo, *args)
        assert proc.returncode == 1, proc.stderr
        _no_traceback(proc)
        findings = {f["check"]: f for f in json.loads(proc.stdout)["findings"]}
        assert not findings[".orch.toml"]["ok"]
        assert "line 1" in findings[".orch.toml"]["detail"]
        assert findings["sqlite integrity"]["ok"]
        assert not findings["hook pre-push"]["ok"]


def test_merge_request_of_main_says_what_to_do_and_context_of_a_finished_entry(
        repo: Path) -> None:
    sid = open_session(repo, "alice")
    proc = orch(repo, "merge", "request", session=sid)
    assert proc.returncode == 2
    assert "protected branch" in proc.stderr and "session open --worktree" in proc.stderr

    author = orch_json(repo, "session", "open", "--owner", "author", "--worktree")
    wt, aid = Path(author["path"]), author["session_id"]
    assert commit_file(wt, "docs/new.md", "x\n", "doc", env={"ORCH_SESSION": aid}
                       ).returncode == 0
    entry = orch_json(wt, "merge", "request", session=aid)["id"]
    orch(wt, "merge", "cancel", entry, session=aid, check=True)
    proc = orch(repo, "merge", "context", entry, session=sid)
    assert proc.returncode == 0, proc.stderr
    assert "not in the queue" in proc.stdout and "#None" not in proc.stdout


def test_non_positive_durations_in_orch_toml_name_file_line_and_key(repo: Path) -> None:
    sid = open_session(repo, "a")
    (repo / ".orch.toml").write_text("[locks]\ndefault_ttl = -5\n")
    proc = orch(repo, "lock", "acquire", "docs/", session=sid)
    assert proc.returncode == 2
    assert ".orch.toml:2: [locks] default_ttl: must be a positive number" in proc.stderr


def test_empty_owner_is_refused(repo: Path) -> None:
    proc = orch(repo, "session", "open", "--owner", "  ")
    assert proc.returncode == 2 and "empty owner name" in proc.stderr
    assert orch_json(repo, "session", "list")["sessions"] == []


def test_lost_database_points_at_rebuild(repo: Path) -> None:
    orch_json(repo, "session", "open", "--owner", "a")
    orch(repo, "sync", check=True)
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (repo / ".git" / "orch" / name).unlink(missing_ok=True)
    proc = orch(repo, "session", "list")
    assert proc.returncode == 0
    assert "orch-hooks rebuild --force" in proc.stderr
    orch(repo, "rebuild", "--force", check=True)
    proc = orch(repo, "session", "list")
    assert "rebuild" not in proc.stderr and "a" in proc.stdout
