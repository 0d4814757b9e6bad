"""The installed hooks, end to end: real commits, real pushes, real worktrees."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from orch_core.locks import service as locks
from testing.repos import (
    BIN,
    add_worktree,
    commit_file,
    git,
    make_repo,
    open_session,
    orch,
    orch_json,
)


@pytest.fixture
def two_agents(repo: Path) -> tuple[str, Path, str, Path]:
    wa = add_worktree(repo, "wt-a")
    wb = add_worktree(repo, "wt-b")
    return open_session(wa, "agent-a"), wa, open_session(wb, "agent-b"), wb


def test_commit_refused_with_holder_task_expiry_and_advice(
        two_agents: tuple[str, Path, str, Path]) -> None:
    a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "src/api/", "--task", "T-42", check=True)
    proc = commit_file(wb, "src/api/users.py", "x = 1\n", "b edits api")
    assert proc.returncode == 1
    err = proc.stderr
    assert "commit refused" in err
    assert "src/api/users.py" in err and a in err and "agent-a" in err and "T-42" in err
    assert "expires" in err and "orch-hooks lock list" in err
    assert "Traceback" not in err
    # nothing was committed
    assert git(wb, "log", "-1", "--format=%s").stdout.strip() != "b edits api"
    # a path outside the lock commits fine (the fast path accepts)
    git(wb, "restore", "--staged", "src/api/users.py")
    assert commit_file(wb, "docs/b.md", "hello\n", "b docs").returncode == 0


def test_holder_commits_its_own_locked_paths(two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, _wb = two_agents
    orch(wa, "lock", "acquire", "src/api/", check=True)
    assert commit_file(wa, "src/api/users.py", "x = 2\n", "a edits api").returncode == 0


def test_rename_both_sides_and_deletion_refused(
        two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "src/api/users.py", "src/web/", check=True)
    git(wb, "mv", "src/api/users.py", "src/users.py")
    proc = git(wb, "commit", "-q", "-m", "move out", check=False)
    assert proc.returncode == 1 and "src/api/users.py" in proc.stderr
    git(wb, "reset", "-q", "--hard")
    git(wb, "mv", "src/api/todos.py", "src/web/todos.py")
    proc = git(wb, "commit", "-q", "-m", "move in", check=False)
    assert proc.returncode == 1 and "src/web/todos.py" in proc.stderr
    git(wb, "reset", "-q", "--hard")
    git(wb, "rm", "-q", "src/api/users.py")
    proc = git(wb, "commit", "-q", "-m", "delete", check=False)
    assert proc.returncode == 1 and "src/api/users.py" in proc.stderr


def test_expired_lease_does_not_block_commit(two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "src/api/", "--ttl", "60", check=True)
    assert commit_file(wb, "src/api/users.py", "x\n", "early").returncode == 1
    later = {"ORCH_CLOCK_OFFSET": "120"}
    assert commit_file(wb, "src/api/users.py", "x\n", "later", env=later).returncode == 0


def test_stale_cache_never_decides(two_agents: tuple[str, Path, str, Path]) -> None:
    """The ref moves behind the cache's back: the hook must reload, not trust the cache."""
    a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "docs/", check=True)
    orch(wa, "lock", "acquire", "src/api/", check=True)
    with_api = git(wa, "rev-parse", locks.REF).stdout.strip()
    orch(wa, "lock", "release", "src/api/", check=True)
    # rewind the ref by hand: the export file and SQLite cache still say "free"
    git(wa, "update-ref", locks.REF, with_api)
    proc = commit_file(wb, "src/api/users.py", "x\n", "sneaky")
    assert proc.returncode == 1 and a in proc.stderr


def test_packed_ref_is_read(two_agents: tuple[str, Path, str, Path], repo: Path) -> None:
    a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "src/api/", check=True)
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "orch" / "locks").exists()
    proc = commit_file(wb, "src/api/users.py", "x\n", "b")
    assert proc.returncode == 1 and a in proc.stderr
    git(wb, "reset", "-q", "--hard")
    assert commit_file(wb, "docs/ok.md", "x\n", "ok").returncode == 0


def test_case_insensitive_filesystem(repo: Path) -> None:
    git(repo, "config", "core.ignorecase", "true")
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    open_session(wa, "a")
    open_session(wb, "b")
    orch(wa, "lock", "acquire", "SRC/API/", check=True)
    proc = commit_file(wb, "src/api/users.py", "x\n", "b")
    assert proc.returncode == 1


def test_unusual_file_names(two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "docs/ünïcode name.md", "docs/tab\there", check=True)
    assert commit_file(wb, "docs/ünïcode name.md", "x\n", "u").returncode == 1
    git(wb, "reset", "-q", "--hard")
    assert commit_file(wb, "docs/tab\there", "x\n", "t").returncode == 1


def test_no_verify_commit_refused_and_a_hookless_one_caught_at_push(
        two_agents: tuple[str, Path, str, Path], bare_remote: Path) -> None:
    a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "src/api/", check=True)
    # --no-verify skips pre-commit, not reference-transaction: the branch does not move.
    proc = commit_file(wb, "src/api/users.py", "x\n", "bypass", "--no-verify")
    assert proc.returncode != 0 and a in proc.stderr
    # wt-b is an ordinary branch: another branch would not help; the lock's holder does.
    assert "switch -c my-work" not in proc.stderr, proc.stderr
    assert "ask its holder" in proc.stderr and "git restore --staged" in proc.stderr
    # Made with every hook off, the commit is still caught when it is pushed.
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "bypass")
    push = git(wb, "push", "-q", "origin", "wt-b", check=False)
    assert push.returncode == 1
    assert "push refused" in push.stderr and a in push.stderr
    # Never advice to throw the work away first.
    assert "rebase -i" not in push.stderr and "drop" not in push.stderr, push.stderr
    assert "ask the holder" in push.stderr
    assert git(bare_remote, "branch", "--list", "wt-b").stdout.strip() == ""
    # the holder's own commits push fine
    assert commit_file(wa, "src/api/users.py", "y\n", "mine").returncode == 0
    assert git(wa, "push", "-q", "origin", "wt-a", check=False).returncode == 0
    # after the release, B's push goes through
    orch(wa, "lock", "release", "src/api/", check=True)
    assert git(wb, "push", "-q", "origin", "wt-b", check=False).returncode == 0


def test_install_is_idempotent_and_chains_foreign_hook(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", install=False)
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "foreign-ran"
    foreign = f"#!/bin/sh\necho ran >> {marker}\nexit 0\n"
    (hooks / "pre-commit").write_text(foreign)
    (hooks / "pre-commit").chmod(0o755)
    out = orch_json(repo, "install")
    actions = {h["hook"]: h["action"] for h in out["hooks"]}
    assert actions["pre-commit"] == "installed, chaining the existing hook"
    again = orch_json(repo, "install")
    assert {h["action"] for h in again["hooks"]} == {"current"}
    git(repo, "checkout", "-q", "-b", "work")  # main itself is protected
    assert commit_file(repo, "docs/x.md", "x\n", "x").returncode == 0
    assert marker.read_text() == "ran\n"
    # a foreign hook that refuses still refuses
    (hooks / "pre-commit.orch-chained").write_text("#!/bin/sh\nexit 1\n")
    assert commit_file(repo, "docs/y.md", "y\n", "y").returncode == 1
    (hooks / "pre-commit.orch-chained").write_text(foreign)
    orch(repo, "uninstall", check=True)
    assert (hooks / "pre-commit").read_text() == foreign
    assert not (hooks / "pre-commit.orch-chained").exists()
    assert not (hooks / "post-commit").exists()
    assert git(repo, "config", "--get-all", "notes.rewriteRef", check=False).stdout == ""


def test_chains_pre_commit_framework_hook(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", install=False)
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "-m", "pre-commit config")
    exe = str(BIN / "pre-commit")
    subprocess.run([exe, "install"], cwd=repo, check=True, capture_output=True)
    framework_hook = (repo / ".git" / "hooks" / "pre-commit").read_text()
    orch(repo, "install", check=True)
    assert (repo / ".git" / "hooks" / "pre-commit.orch-chained").read_text() == framework_hook
    git(repo, "checkout", "-q", "-b", "work")  # main itself is protected
    assert commit_file(repo, "docs/x.md", "x\n", "x").returncode == 0
    orch(repo, "uninstall", check=True)
    assert (repo / ".git" / "hooks" / "pre-commit").read_text() == framework_hook


def test_core_hooks_path_is_honoured(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", install=False)
    custom = tmp_path / "shared-hooks"
    git(repo, "config", "core.hooksPath", str(custom))
    out = orch_json(repo, "install")
    assert out["hooks_dir"] == str(custom)
    assert (custom / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    open_session(wa, "a")
    open_session(wb, "b")
    orch(wa, "lock", "acquire", "docs/", check=True)
    assert commit_file(wb, "docs/design.md", "x\n", "b").returncode == 1


def test_doctor_reports_and_fixes(repo: Path) -> None:
    (repo / ".git" / "hooks" / "post-commit").unlink()
    stale = repo / ".git" / "refs" / "orch" / "locks.lock"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("0" * 40 + "\n")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    proc = orch(repo, "doctor")
    assert proc.returncode == 1
    assert "post-commit" in proc.stdout and "stale git lock" in proc.stdout
    assert orch(repo, "doctor", "--fix").returncode == 0
    assert not stale.exists()
    report = orch_json(repo, "doctor")
    assert report["healthy"] is True


def test_stale_git_lock_from_dead_writer_does_not_block(repo: Path) -> None:
    sid = open_session(repo, "a")
    stale = repo / ".git" / "refs" / "orch" / "locks.lock"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("junk")
    old = time.time() - 60
    os.utime(stale, (old, old))
    out = orch_json(repo, "lock", "acquire", "docs/", session=sid)
    assert out["locks"][0]["path"] == "docs/"
    assert not stale.exists()


def test_post_checkout_never_fails(repo: Path) -> None:
    (repo / ".orch.toml").write_text("[merge\nbroken")
    wt = repo.parent / "wt-x"
    proc = git(repo, "worktree", "add", "-b", "x", str(wt), check=False)
    assert proc.returncode == 0
    assert wt.exists()


def test_post_checkout_binds_new_worktree_and_warns(repo: Path) -> None:
    other = open_session(repo, "other")
    orch(repo, "lock", "acquire", "docs/", session=other, check=True)
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    me = orch_json(repo, "session", "open", "--owner", "me", "--no-bind")["session_id"]
    wt = repo.parent / "wt-me"
    (repo / "docs" / "design.md").write_text("changed\n")
    git(repo, "commit", "-q", "--no-verify", "-am", "touch docs")
    git(repo, "checkout", "-q", "main")
    proc = git(repo, "worktree", "add", str(wt), "feature", env={"ORCH_SESSION": me},
               check=False)
    assert proc.returncode == 0
    assert (Path(git(wt, "rev-parse", "--absolute-git-dir").stdout.strip())
            / "orch-session").read_text().strip() == me
    assert "locked by others" in proc.stderr


def test_cli_errors_are_clear_with_exit_codes(repo: Path, tmp_path: Path) -> None:
    proc = orch(repo, "lock", "acquire", "docs/", session="s-missing")
    assert proc.returncode == 1 and "unknown session 's-missing'" in proc.stderr
    assert "Traceback" not in proc.stderr
    sid = open_session(repo, "a")
    proc = orch(repo, "lock", "acquire", "../outside", session=sid)
    assert proc.returncode == 2 and "'..'" in proc.stderr
    proc = orch(repo, "lock", "acquire", session=sid)
    assert proc.returncode == 2
    proc = orch(repo, "lock", "acquire", "docs/", "--ttl", "0", session=sid)
    assert proc.returncode == 2
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    proc = orch(outside, "lock", "list")
    assert proc.returncode == 2 and "not inside a git repository" in proc.stderr
    proc = orch(repo, "lock", "acquire", "/etc/passwd", "--json", session=sid)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "bad_path"
    proc = orch(repo, "lock", "acquire", "docs/")
    assert proc.returncode == 1 or proc.returncode == 0


def test_lock_check_exit_code(two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "docs/", check=True)
    assert orch(wb, "lock", "check", "docs/design.md").returncode == 1
    assert orch(wb, "lock", "check", "src/x.py").returncode == 0
    out = json.loads(orch(wb, "lock", "check", "docs/x", "--json").stdout)
    assert out["ok"] is False and out["paths"][0]["conflicts"][0]["owner"] == "agent-a"


def test_require_lock_policy(two_agents: tuple[str, Path, str, Path]) -> None:
    _a, wa, _b, _wb = two_agents
    (wa / ".orch.toml").write_text("[locks]\nrequire_lock = true\n")
    git(wa, "add", ".orch.toml")
    proc = git(wa, "commit", "-q", "-m", "policy", check=False)
    assert proc.returncode == 1 and "require_lock" in proc.stderr
    orch(wa, "lock", "acquire", ".orch.toml", "docs/", check=True)
    assert git(wa, "commit", "-q", "-m", "policy", check=False).returncode == 0
    assert commit_file(wa, "docs/new.md", "x\n", "covered").returncode == 0
    assert commit_file(wa, "src/new.py", "x\n", "uncovered").returncode == 1


def test_lock_path_with_tab_sends_commits_to_python(
        two_agents: tuple[str, Path, str, Path], repo: Path) -> None:
    _a, wa, _b, wb = two_agents
    orch(wa, "lock", "acquire", "docs/a\tb/", check=True)
    header = (repo / ".git" / "orch" / "locks.idx").read_text().splitlines()[0]
    assert header.split("\t")[3] == "1"
    assert commit_file(wb, "docs/a\tb/x.md", "x\n", "t").returncode == 1
    git(wb, "reset", "-q", "--hard")
    assert commit_file(wb, "docs/plain.md", "x\n", "p").returncode == 0


def test_a_reinstall_from_an_edited_work_tree_does_not_unprotect_main(repo: Path) -> None:
    """The shims protect what the last install recorded plus the work tree's list: a
    work tree that says protected = [] and installs again drops nothing. Only the
    policy committed on main (a reviewed change) can drop main."""
    git(repo, "switch", "-q", "-c", "side")
    (repo / "E.txt").write_text("e\n")
    git(repo, "add", "E.txt")
    git(repo, "commit", "-q", "-m", "e")
    side = git(repo, "rev-parse", "HEAD").stdout.strip()
    policy = repo / ".orch.toml"
    original = policy.read_text()
    policy.write_text(original.replace('protected = ["main"]', "protected = []"))
    assert "protected = []" in policy.read_text()
    orch(repo, "install", check=True)
    policy.write_text(original)
    moved = git(repo, "update-ref", "refs/heads/main", side, check=False)
    assert moved.returncode != 0, "main moved after a reinstall from an edited work tree"
    # The reviewed way: the policy committed on main says protected = [].
    git(repo, "switch", "-q", "main")
    policy.write_text(original.replace('protected = ["main"]', "protected = []"))
    git(repo, "add", ".orch.toml")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "policy: working alone")
    orch(repo, "install", check=True)
    assert git(repo, "config", "--get-all", "orch.protected", check=False).stdout == ""
