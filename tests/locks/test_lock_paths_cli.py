"""Lock paths as a user types them: relative to the current directory (as git's),
through in-repo symlinks, folders named without their slash; absurd lease lengths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testing.repos import ORCH, open_session, orch, orch_json


def test_a_path_is_relative_to_the_current_directory(repo: Path) -> None:
    sid = open_session(repo, "a")
    here = repo / "src" / "api"
    here.mkdir(parents=True, exist_ok=True)
    got = orch_json(here, "lock", "acquire", "users.py", session=sid)
    assert got["paths"] == ["src/api/users.py"]
    check = orch_json(here, "lock", "check", "users.py", session=sid)
    assert check["paths"][0]["path"] == "src/api/users.py"
    orch(here, "lock", "release", "users.py", session=sid, check=True)
    assert orch_json(repo, "lock", "list")["locks"] == []


def test_a_folder_named_without_its_slash_is_released_the_same_way(repo: Path) -> None:
    sid = open_session(repo, "a")
    (repo / "src" / "api").mkdir(parents=True, exist_ok=True)
    got = orch_json(repo, "lock", "acquire", "src/api", session=sid)
    assert got["paths"] == ["src/api/"]
    orch(repo, "lock", "release", "src/api", session=sid, check=True)
    assert orch_json(repo, "lock", "list")["locks"] == []


def test_two_exclusive_locks_through_an_in_repo_symlink_conflict(repo: Path) -> None:
    (repo / "src" / "api").mkdir(parents=True, exist_ok=True)
    os.symlink("src/api", repo / "alias")
    a, b = open_session(repo, "a"), open_session(repo, "b")
    got = orch_json(repo, "lock", "acquire", "alias/", session=a)
    assert got["paths"] == ["src/api/"]
    second = orch(repo, "lock", "acquire", "src/api/users.py", session=b)
    assert second.returncode == 1 and "conflict" in second.stderr
    third = orch(repo, "lock", "acquire", "alias/users.py", session=b)
    assert third.returncode == 1 and "conflict" in third.stderr


def test_huge_ttl_and_limit_are_usage_errors_not_crashes(repo: Path) -> None:
    sid = open_session(repo, "a")
    for args in (("lock", "acquire", "x.py", "--ttl", "99999999999999999999"),
                 ("session", "open", "--owner", "b", "--ttl", "99999999999999999999")):
        proc = orch(repo, *args, session=sid)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "too long" in proc.stderr and "internal" not in proc.stderr
    proc = orch(repo, "task", "ready", "--limit", "99999999999999999999")
    assert proc.returncode == 0, proc.stderr


def test_a_policy_symlinked_to_a_device_is_refused_not_read(repo: Path) -> None:
    sid = open_session(repo, "a")
    for target in ("/dev/zero", "/dev/stdin"):
        policy = repo / ".orch.toml"
        policy.unlink(missing_ok=True)
        os.symlink(target, policy)
        # stdin is a pipe nobody writes to: reading it would hang.
        proc = subprocess.Popen([ORCH, "lock", "acquire", "x.py"], cwd=repo,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "ORCH_SESSION": sid})
        try:
            _out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 2, (target, err)
        assert "not a regular file" in err, err
