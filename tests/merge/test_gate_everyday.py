"""Main follows its upstream with plain git; a refused update leaves no file changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_core.git.caller import fetch_refspecs, subcommand
from testing.repos import git
from tests.merge.test_landing import rev
from tests.merge.test_queue import make_branch, setup_repo


def _status(repo: Path) -> str:
    return git(repo, "status", "--porcelain=v1", "--untracked-files=all").stdout


def _with_upstream(tmp_path: Path) -> tuple[Path, Path, Path]:
    """repo (hooks installed) tracking a bare remote, and a plain clone of a teammate."""
    repo = setup_repo(tmp_path / "repo")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    mate = tmp_path / "mate"
    git(tmp_path, "clone", "-q", str(remote), str(mate))
    return repo, remote, mate


def _teammate_lands(mate: Path, rel: str, text: str) -> str:
    (mate / rel).parent.mkdir(parents=True, exist_ok=True)
    (mate / rel).write_text(text)
    git(mate, "add", rel)
    git(mate, "commit", "-q", "-m", f"land {rel}")
    git(mate, "push", "-q", "origin", "main")
    return git(mate, "rev-parse", "HEAD").stdout.strip()


def test_pull_ff_only_on_main_follows_the_upstream_silently(tmp_path: Path) -> None:
    repo, _remote, mate = _with_upstream(tmp_path)
    (repo / "notes.txt").write_text("my unrelated work\n")  # untracked, must survive
    tip = _teammate_lands(mate, "docs/landed.md", "landed\n")
    proc = git(repo, "pull", "-q", "--ff-only")
    assert "orch-hooks" not in proc.stderr + proc.stdout
    assert rev(repo, "main") == tip == rev(repo, "origin/main")
    assert (repo / "docs/landed.md").read_text() == "landed\n"
    assert _status(repo) == "?? notes.txt\n"
    # merge --ff-only of the tracking ref, and fetch into main while it is not checked out
    tip2 = _teammate_lands(mate, "docs/second.md", "2\n")
    git(repo, "fetch", "-q", "origin")
    git(repo, "merge", "-q", "--ff-only", "origin/main")
    assert rev(repo, "main") == tip2
    tip3 = _teammate_lands(mate, "docs/third.md", "3\n")
    git(repo, "switch", "-q", "-c", "side")
    proc = git(repo, "fetch", "-q", "origin", "main:main")
    assert "orch-hooks" not in proc.stderr
    assert rev(repo, "main") == tip3


def test_only_a_fast_forward_to_the_remote_tracking_tip_passes(tmp_path: Path) -> None:
    repo, _remote, mate = _with_upstream(tmp_path)
    _teammate_lands(mate, "docs/landed.md", "landed\n")
    tip = _teammate_lands(mate, "docs/second.md", "2\n")
    git(repo, "fetch", "-q", "origin")
    old = rev(repo, "main")
    # Not the upstream's tip: one commit short of it.
    proc = git(repo, "merge", "-q", "--ff-only", f"{tip}~1", check=False)
    assert proc.returncode != 0 and "refs/heads/main is protected" in proc.stderr
    assert rev(repo, "main") == old and _status(repo) == ""
    # A local branch as upstream never opens the gate.
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    git(repo, "config", "branch.main.remote", ".")
    git(repo, "config", "branch.main.merge", "refs/heads/feat")
    proc = git(repo, "pull", "-q", "--ff-only", check=False)
    assert proc.returncode != 0 and "refs/heads/main is protected" in proc.stderr
    assert "put back the index and files" in proc.stderr, proc.stderr
    assert rev(repo, "main") == old
    assert _status(repo) == ""


def test_refused_fast_forward_puts_back_exactly_what_it_changed(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n", "README.md": "feat readme\n"})
    old = rev(repo, "main")
    readme = (repo / "README.md").read_text()
    # Unrelated work of the user: a staged file, an unstaged edit, an untracked file.
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "Makefile").write_text((repo / "Makefile").read_text() + "# mine\n")
    (repo / "scratch.txt").write_text("scratch\n")
    before = _status(repo)
    for args in (["merge", "-q", "feat"], ["merge", "-q", "--ff-only", "feat"]):
        proc = git(repo, *args, check=False)
        assert proc.returncode != 0, args
        assert "refs/heads/main is protected" in proc.stderr
        assert "put back the index and files of the 2 path(s)" in proc.stderr, proc.stderr
        assert "reset --hard" not in proc.stderr
        assert rev(repo, "main") == old
        assert _status(repo) == before, args
        assert (repo / "README.md").read_text() == readme
        assert not (repo / "docs/feat.md").exists()
        assert (repo / "Makefile").read_text().endswith("# mine\n")


def test_refused_reset_keep_puts_back_the_files_and_says_what_it_unstaged(
        tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n", "README.md": "feat readme\n"})
    old = rev(repo, "main")
    readme = (repo / "README.md").read_text()
    (repo / "Makefile").write_text((repo / "Makefile").read_text() + "# mine\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    proc = git(repo, "reset", "-q", "--keep", "feat", check=False)
    assert proc.returncode != 0
    assert "put back the index and files of the 2 path(s) `git reset`" in proc.stderr
    assert "`git add` it again" in proc.stderr
    assert rev(repo, "main") == old
    assert (repo / "README.md").read_text() == readme and not (repo / "docs/feat.md").exists()
    assert (repo / "Makefile").read_text().endswith("# mine\n")
    assert (repo / "staged.txt").read_text() == "staged\n"  # unstaged, not lost


def test_refused_cherry_pick_and_revert_put_back_and_name_the_quit(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    wt = make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    pick = rev(wt, "HEAD")
    old = rev(repo, "main")
    (repo / "scratch.txt").write_text("scratch\n")
    proc = git(repo, "cherry-pick", pick, check=False)
    assert proc.returncode != 0
    assert "put back the index and files of the 1 path(s) `git cherry-pick`" in proc.stderr
    assert "`git cherry-pick --quit` ends the half-done cherry-pick" in proc.stderr
    assert rev(repo, "main") == old and not (repo / "docs/feat.md").exists()
    git(repo, "cherry-pick", "--quit")
    assert _status(repo) == "?? scratch.txt\n"
    proc = git(repo, "revert", "--no-edit", "HEAD", check=False)
    assert proc.returncode != 0
    assert "`git revert` had changed" in proc.stderr
    assert rev(repo, "main") == old
    git(repo, "revert", "--quit", check=False)
    assert _status(repo) == "?? scratch.txt\n"


def test_refused_reset_mixed_puts_back_the_index_only(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"README.md": "feat readme\n"})
    old = rev(repo, "main")
    (repo / "README.md").write_text("my edit\n")  # unstaged: reset --mixed keeps it
    proc = git(repo, "reset", "-q", "feat", check=False)
    assert proc.returncode != 0
    assert "put back the index of the 1 path(s)" in proc.stderr
    assert rev(repo, "main") == old
    assert (repo / "README.md").read_text() == "my edit\n"
    assert _status(repo) == " M README.md\n"


def test_refused_commit_keeps_the_changes_staged(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    old = rev(repo, "main")
    (repo / "README.md").write_text("edited on main\n")
    for extra in (["-a"], ["-a", "--no-verify"]):
        proc = git(repo, "commit", "-q", "-m", "direct", *extra, check=False)
        assert proc.returncode != 0
        assert "reset --hard" not in proc.stderr
        assert "git switch -c my-work" in proc.stderr
        assert rev(repo, "main") == old
        assert (repo / "README.md").read_text() == "edited on main\n"
    # The advice works and loses nothing.
    git(repo, "switch", "-q", "-c", "my-work")
    git(repo, "commit", "-q", "-am", "on a branch")
    assert git(repo, "show", "HEAD:README.md").stdout == "edited on main\n"


def test_update_ref_changes_no_file(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"README.md": "feat readme\n"})
    readme = (repo / "README.md").read_text()
    proc = git(repo, "update-ref", "refs/heads/main", rev(repo, "feat"), check=False)
    assert proc.returncode != 0
    assert "put back" not in proc.stderr
    assert (repo / "README.md").read_text() == readme and _status(repo) == ""


@pytest.mark.parametrize(("argv", "want"), [
    (["git", "commit", "-m", "x"], "commit"),
    (["/usr/bin/git", "-c", "a=b", "-C", "dir", "--no-pager", "merge", "feat"], "merge"),
    (["git-upload-pack", "x"], "upload-pack"),
    (["sh", "-c", "git commit"], None),
    ([], None),
    (["git", "--git-dir", "/x", "-p"], None),
])
def test_subcommand_of_a_git_command_line(argv: list[str], want: str | None) -> None:
    assert subcommand(argv) == want


def test_fetch_refspecs_of_a_git_command_line() -> None:
    assert fetch_refspecs(["git", "fetch", "-q", "origin", "main:main"]) == (
        "origin", [("refs/heads/main", "refs/heads/main")])
    assert fetch_refspecs(["git", "-C", "x", "fetch", "origin", "+refs/heads/a:b", "c"]) == (
        "origin", [("refs/heads/a", "refs/heads/b")])
    assert fetch_refspecs(["git", "pull", "origin", "main:main"]) is None
    assert fetch_refspecs(["git", "fetch"]) is None


def test_commit_on_main_is_refused_before_git_makes_it(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    old = rev(repo, "main")
    (repo / "README.md").write_text("edited on main\n")
    git(repo, "add", "README.md")
    proc = git(repo, "commit", "-q", "-m", "direct", check=False)
    assert proc.returncode != 0
    assert "commit refused: refs/heads/main is protected" in proc.stderr
    assert "git changed nothing" in proc.stderr
    # Refused in pre-commit, not when the branch would have moved.
    assert "update refused" not in proc.stderr
    assert rev(repo, "main") == old
    assert _status(repo) == "M  README.md\n"


def test_rebase_of_main_is_refused_before_it_starts_unless_it_fast_forwards(
        tmp_path: Path) -> None:
    repo, _remote, mate = _with_upstream(tmp_path)
    tip = _teammate_lands(mate, "docs/landed.md", "landed\n")
    git(repo, "fetch", "-q", "origin")
    # Nothing of its own on main: `pull --rebase` is a fast-forward to the upstream.
    proc = git(repo, "pull", "-q", "--rebase")
    assert "orch-hooks" not in proc.stderr
    assert rev(repo, "main") == tip
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    _teammate_lands(mate, "docs/second.md", "2\n")
    git(repo, "fetch", "-q", "origin")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "x",
        check=False)  # no hooks: main gets a commit of its own (a bypass, for the test)
    before = rev(repo, "main")
    proc = git(repo, "rebase", "origin/main", check=False)
    assert proc.returncode != 0 and "rebase refused: refs/heads/main is protected" in proc.stderr
    assert rev(repo, "main") == before and _status(repo) == ""
    assert not (repo / ".git/rebase-merge").exists()


def test_branch_rename_of_a_git_command_line() -> None:
    from orch_core.git.caller import branch_rename

    assert branch_rename(["git", "branch", "-M", "x", "main"]) == (
        "refs/heads/x", "refs/heads/main")
    assert branch_rename(["git", "branch", "-fm", "main"]) == (None, "refs/heads/main")
    assert branch_rename(["git", "branch", "--move", "--force", "--", "x", "y"]) == (
        "refs/heads/x", "refs/heads/y")
    assert branch_rename(["git", "branch", "-C", "x", "main"]) is None
    assert branch_rename(["git", "branch", "-D", "x"]) is None
    assert branch_rename(["git", "switch", "-m", "x"]) is None
