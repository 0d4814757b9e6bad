"""The lock rule holds for every way a commit reaches a branch, not only `git commit`."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.repos import add_worktree, commit_file, git, open_session, orch


def _rev(cwd: Path, name: str) -> str:
    return git(cwd, "rev-parse", name).stdout.strip()


@pytest.fixture
def scene(repo: Path) -> tuple[Path, Path, Path, str]:
    """agent-a holds src/api/ (exclusive); agent-b works in wt-b; a third branch,
    made before the lock, changed src/api/users.py."""
    wx = add_worktree(repo, "wt-x")
    commit_file(wx, "src/api/users.py", "from before the lock\n", "x: users")
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "agent-a")
    open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "src/api/", check=True)
    return repo, wa, wb, a


@pytest.mark.parametrize("how", ["cherry-pick", "merge", "no-verify-commit", "am"])
def test_a_locked_path_does_not_reach_a_branch_by_any_command(
        scene: tuple[Path, Path, Path, str], how: str, tmp_path: Path) -> None:
    _repo, _wa, wb, a = scene
    before = _rev(wb, "HEAD")
    (wb / "scratch.txt").write_text("mine\n")
    if how == "cherry-pick":
        proc = git(wb, "cherry-pick", "wt-x", check=False)
    elif how == "merge":
        proc = git(wb, "merge", "--no-ff", "--no-edit", "wt-x", check=False)
    elif how == "am":
        patch = tmp_path / "p.patch"
        patch.write_text(git(wb, "format-patch", "-1", "--stdout", "wt-x").stdout)
        proc = git(wb, "am", str(patch), check=False)
    else:
        (wb / "src/api/users.py").write_text("sneaked in\n")
        git(wb, "add", "src/api/users.py")
        proc = git(wb, "commit", "-q", "--no-verify", "-m", "sneak", check=False)
    assert proc.returncode != 0, proc.stderr
    assert "changes paths locked by another session" in proc.stderr
    assert "src/api/users.py" in proc.stderr and a in proc.stderr
    assert _rev(wb, "HEAD") == before
    if how != "no-verify-commit":
        # Whatever git had written into the work tree is put back; my file stays.
        assert "put back" in proc.stderr
        assert not (wb / "src/api/users.py").read_text().startswith("from before")
    assert (wb / "scratch.txt").read_text() == "mine\n"


def test_merging_main_in_is_never_blamed_and_my_own_paths_pass(
        scene: tuple[Path, Path, Path, str]) -> None:
    repo, wa, wb, a = scene
    # The holder commits under its lock and its branch lands on main (by hand here:
    # hooks off, as the lander would; the gate is not what this test is about).
    commit_file(wa, "src/api/users.py", "by the holder\n", "holder's work", env={"ORCH_SESSION": a})
    git(repo, "-c", "core.hooksPath=/dev/null", "merge", "-q", "--ff-only", "wt-a")
    proc = git(wb, "merge", "--no-ff", "--no-edit", "main", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "orch-hooks" not in proc.stderr
    # Paths nobody else locks pass through cherry-pick and reset silently.
    commit_file(repo.parent / "wt-x", "docs/free.md", "free\n", "x: free")
    proc = git(wb, "cherry-pick", "wt-x", check=False)
    assert proc.returncode == 0 and "orch-hooks" not in proc.stderr
    git(wb, "reset", "-q", "--hard", "HEAD~1")


def test_an_expired_lease_blocks_nobody(scene: tuple[Path, Path, Path, str]) -> None:
    _repo, _wa, wb, _a = scene
    proc = git(wb, "cherry-pick", "wt-x", check=False,
               env={"ORCH_TEST_CLOCK_OFFSET": "7200", "ORCH_CLOCK_OFFSET": "7200"})
    assert proc.returncode == 0, proc.stderr


def test_a_refused_reset_hard_says_what_git_had_already_discarded(
        scene: tuple[Path, Path, Path, str]) -> None:
    """git writes the files of `reset --hard` before any hook runs: the refusal can
    only put back the paths the reset changed, and must say the rest is gone."""
    _repo, _wa, wb, a = scene
    before = _rev(wb, "HEAD")
    (wb / "README.md").write_text((wb / "README.md").read_text() + "keep\n")
    (wb / "notes.md").write_text("staged note\n")
    git(wb, "add", "notes.md")
    staged = git(wb, "rev-parse", ":notes.md").stdout.strip()
    proc = git(wb, "reset", "--hard", "wt-x", check=False)
    assert proc.returncode != 0 and a in proc.stderr
    assert _rev(wb, "HEAD") == before
    # The branch, the index and the files agree again: all at the branch's commit.
    assert git(wb, "status", "--porcelain", "--untracked-files=no").stdout == ""
    assert not (wb / "src/api/users.py").read_text().startswith("from before")
    # Never the claim that the rest was kept; what was lost, and where staged content is.
    assert "untouched" not in proc.stderr and "`git add` it again" not in proc.stderr
    assert "had already overwritten your uncommitted changes" in proc.stderr
    assert "git fsck --lost-found" in proc.stderr
    git(wb, "fsck", "--lost-found")
    found = git(wb, "rev-parse", "--git-common-dir").stdout.strip()
    assert (wb / found / "lost-found" / "other" / staged).read_text() == "staged note\n"


def test_a_refused_reset_keep_loses_nothing(scene: tuple[Path, Path, Path, str]) -> None:
    _repo, _wa, wb, a = scene
    (wb / "README.md").write_text("my edit\n")
    (wb / "notes.md").write_text("staged note\n")
    git(wb, "add", "notes.md")
    proc = git(wb, "reset", "--keep", "wt-x", check=False)
    assert proc.returncode != 0 and a in proc.stderr
    assert "your other changes are untouched" in proc.stderr
    assert (wb / "README.md").read_text() == "my edit\n"
    assert (wb / "notes.md").read_text() == "staged note\n"


def test_a_refused_rebase_names_the_abort_that_loses_nothing(
        scene: tuple[Path, Path, Path, str]) -> None:
    _repo, _wa, wb, a = scene
    commit_file(wb, "docs/mine.md", "mine\n", "b: mine")
    before = _rev(wb, "HEAD")
    proc = git(wb, "rebase", "wt-x", check=False)
    assert proc.returncode != 0 and a in proc.stderr
    assert "`git rebase --abort`" in proc.stderr, proc.stderr
    assert _rev(wb, "refs/heads/wt-b") == before
    git(wb, "rebase", "--abort")
    assert _rev(wb, "HEAD") == before
    assert git(wb, "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/wt-b"
    assert (wb / "docs/mine.md").read_text() == "mine\n"


def test_a_refused_apply_rebase_names_rebase_abort_not_am(
        scene: tuple[Path, Path, Path, str]) -> None:
    _repo, _wa, wb, a = scene
    commit_file(wb, "docs/mine.md", "mine\n", "b: mine")
    before = _rev(wb, "HEAD")
    proc = git(wb, "rebase", "--apply", "wt-x", check=False)
    assert proc.returncode != 0 and a in proc.stderr
    assert "`git rebase --quit && git switch wt-b`" in proc.stderr, proc.stderr
    assert "git am" not in proc.stderr
    git(wb, "rebase", "--quit")
    git(wb, "switch", "wt-b")
    assert _rev(wb, "HEAD") == before
    assert git(wb, "status", "--porcelain").stdout == ""
    assert (wb / "docs/mine.md").read_text() == "mine\n"
