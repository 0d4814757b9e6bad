"""`lock check` answered from the hook index (cli/quickcheck.py): it answers only
"free", only when sure, and otherwise the full command decides.

To see which path answered, git is hidden: a `git` on PATH that leaves a mark and
fails. The quick answer starts no git process; the full command needs git.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from orch_core.cli import quickcheck
from testing.repos import git, open_session, orch


def _no_git(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "fakebin"
    fake.mkdir(exist_ok=True)
    script = fake / "git"
    script.write_text(f"#!/bin/sh\necho started >> '{tmp_path / 'git-started'}'\nexit 97\n")
    script.chmod(0o755)
    return {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}


def _git_started(tmp_path: Path) -> bool:
    mark = tmp_path / "git-started"
    found = mark.exists()
    mark.unlink(missing_ok=True)
    return found


@pytest.fixture
def held(repo: Path) -> tuple[Path, str, str]:
    """A repository where session B holds docs/ and src/api/users.py; A is bound."""
    a = open_session(repo, "alice")
    b = open_session(repo, "bob", "--no-bind")
    orch(repo, "lock", "acquire", "docs/", "src/api/users.py", session=b, check=True)
    return repo, a, b


def test_free_paths_are_answered_without_git(held: tuple[Path, str, str],
                                             tmp_path: Path) -> None:
    repo, a, _b = held
    env = _no_git(tmp_path)
    out = orch(repo, "lock", "check", "src/web/index.html", "src/web", "src/web/", env=env)
    assert (out.returncode, out.stdout, out.stderr) == (
        0, "free: src/web/index.html, src/web/\n", ""), out
    out = orch(repo / "src", "lock", "check", "web/index.html", "--json", session=a, env=env)
    assert out.returncode == 0 and '"path": "src/web/index.html"' in out.stdout, out
    assert f'"session": "{a}"' in out.stdout
    assert not _git_started(tmp_path)


@pytest.mark.parametrize("argv", [
    ["lock", "check", "docs/readme.md"],          # under another session's prefix lock
    ["lock", "check", "src/api/"],                # a prefix holding another's lock
    ["lock", "check", "src/api/users.py"],        # exactly another's lock
    ["lock", "check", "../outside"],              # refused: the full command explains
    ["lock", "check", ".git/config"],
])
def test_anything_but_free_goes_to_the_full_command(held: tuple[Path, str, str],
                                                    tmp_path: Path, argv: list[str]) -> None:
    repo, _a, _b = held
    out = orch(repo, *argv, env=_no_git(tmp_path))
    assert out.returncode != 0 and _git_started(tmp_path), out
    real = orch(repo, *argv)
    assert real.returncode in (1, 2), real


def test_own_locks_do_not_block_and_the_holder_sees_free(held: tuple[Path, str, str],
                                                        tmp_path: Path) -> None:
    repo, _a, b = held
    out = orch(repo, "lock", "check", "docs/x.md", session=b, env=_no_git(tmp_path))
    assert (out.returncode, out.stdout) == (0, "free: docs/x.md\n"), out
    assert not _git_started(tmp_path)


@pytest.mark.parametrize("case", ["unknown session", "git env", "config newer", "torn index",
                                  "index behind the ref", "clock offset"])
def test_unsure_means_the_full_command(held: tuple[Path, str, str], tmp_path: Path,
                                       case: str) -> None:
    repo, _a, b = held
    env = _no_git(tmp_path)
    session = None
    idx = repo / ".git" / "orch" / "locks.idx"
    if case == "unknown session":
        session = "s-nobody"
    elif case == "git env":
        env["GIT_DIR"] = str(repo / ".git")
    elif case == "config newer":
        time.sleep(0.01)
        git(repo, "config", "orch.test", "1")
    elif case == "torn index":
        data = idx.read_bytes()
        idx.write_bytes(b"x" + data[1:])
    elif case == "index behind the ref":
        orch(repo, "lock", "release", "docs/", session=b, check=True)
        git(repo, "update-ref", "refs/orch/locks", "refs/orch/locks~1")
    else:
        env["ORCH_CLOCK_OFFSET"] = "10"
    orch(repo, "lock", "check", "src/web/index.html", session=session, env=env)
    assert _git_started(tmp_path), case


def test_symlinked_paths_are_left_to_the_full_rules(held: tuple[Path, str, str],
                                                    tmp_path: Path) -> None:
    repo, _a, _b = held
    (repo / "alias").symlink_to("docs")
    orch(repo, "lock", "check", "alias/x.md", env=_no_git(tmp_path))
    assert _git_started(tmp_path)
    blocked = orch(repo, "lock", "check", "alias/x.md")
    assert blocked.returncode == 1 and "docs/" in blocked.stdout, blocked


def test_find_repo_refuses_what_git_would_see_otherwise(repo: Path, tmp_path: Path) -> None:
    top = str(repo.resolve())
    assert quickcheck.find_repo(str(repo / "src")) == (top, top + "/.git", top + "/.git")
    assert quickcheck.find_repo(str(repo / ".git")) is None  # inside the git dir
    assert quickcheck.find_repo(str(tmp_path)) is None  # no repository above
    git(repo, "worktree", "add", "-q", "-b", "wt", str(tmp_path / "wt"))
    wt = str((tmp_path / "wt").resolve())
    assert quickcheck.find_repo(wt) == (wt, top + "/.git/worktrees/wt", top + "/.git")
    git(repo, "config", "core.worktree", top)
    assert quickcheck.find_repo(top) is None
