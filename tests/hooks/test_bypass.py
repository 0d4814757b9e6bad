"""The bypass matrix of the README, one test per row: what each way around
enforcement does, where orch-hooks catches it, and where only a server could."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testing.repos import add_worktree, commit_file, git, open_session, orch


@pytest.fixture
def setup(repo: Path, bare_remote: Path) -> tuple[Path, Path, Path, str]:
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "agent-a")
    open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "src/api/", check=True)
    return repo, wa, wb, a


def _remote_has(remote: Path, branch: str) -> bool:
    return git(remote, "rev-parse", "-q", "--verify", f"refs/heads/{branch}",
               check=False).returncode == 0


def test_commit_no_verify_is_refused_by_the_branch_lock_rule(
        setup: tuple[Path, Path, Path, str], bare_remote: Path) -> None:
    _repo, _wa, wb, a = setup
    before = git(wb, "rev-parse", "HEAD").stdout.strip()
    proc = commit_file(wb, "src/api/users.py", "x\n", "bypass", "--no-verify")
    assert proc.returncode != 0 and a in proc.stderr
    assert "changes paths locked by another session" in proc.stderr
    assert git(wb, "rev-parse", "HEAD").stdout.strip() == before
    # The change stays staged: nothing is lost.
    assert git(wb, "diff", "--cached", "--name-only").stdout == "src/api/users.py\n"
    assert not _remote_has(bare_remote, "wt-b")


def test_push_no_verify_gets_through_only_a_server_could_stop_it(
        setup: tuple[Path, Path, Path, str], bare_remote: Path) -> None:
    _repo, _wa, wb, _a = setup
    (wb / "src/api/users.py").write_text("x\n")
    git(wb, "add", "src/api/users.py")
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "no hooks at all")
    push = git(wb, "push", "--no-verify", "origin", "wt-b", check=False)
    assert push.returncode == 0
    assert _remote_has(bare_remote, "wt-b")


def test_hooks_path_dev_null_commit_is_caught_at_a_normal_push(
        setup: tuple[Path, Path, Path, str], bare_remote: Path) -> None:
    _repo, _wa, wb, a = setup
    (wb / "src/api/users.py").write_text("x\n")
    git(wb, "add", "src/api/users.py")
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "no hooks at all")
    # no hook ran, so no checkpoint note either; the commit is the pusher's
    assert git(wb, "notes", "--ref=orch", "show", "HEAD", check=False).returncode != 0
    push = git(wb, "push", "origin", "wt-b", check=False)
    assert push.returncode == 1 and a in push.stderr
    # ... and with hooks disabled for the push as well, nothing on the client stops it
    push = git(wb, "-c", "core.hooksPath=/dev/null", "push", "origin", "wt-b", check=False)
    assert push.returncode == 0 and _remote_has(bare_remote, "wt-b")


def test_update_ref_and_merge_no_verify_on_main_are_refused(
        setup: tuple[Path, Path, Path, str]) -> None:
    repo, wa, _wb, _a = setup
    commit_file(wa, "src/api/users.py", "y\n", "a work")
    side = git(wa, "rev-parse", "HEAD").stdout.strip()
    before = git(repo, "rev-parse", "main").stdout.strip()
    proc = git(repo, "update-ref", "refs/heads/main", side, check=False)
    assert proc.returncode != 0 and "merge request" in proc.stderr
    proc = git(repo, "merge", "--no-verify", "--no-edit", "wt-a", check=False)
    assert proc.returncode != 0
    assert git(repo, "rev-parse", "main").stdout.strip() == before


def test_hooks_path_dev_null_moves_main_only_a_server_could_stop_it(
        setup: tuple[Path, Path, Path, str]) -> None:
    repo, wa, _wb, _a = setup
    commit_file(wa, "src/api/users.py", "y\n", "a work")
    side = git(wa, "rev-parse", "HEAD").stdout.strip()
    git(repo, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", side)
    assert git(repo, "rev-parse", "main").stdout.strip() == side


def test_libgit2_ref_write_runs_no_hook(setup: tuple[Path, Path, Path, str]) -> None:
    import pygit2

    repo, wa, _wb, _a = setup
    commit_file(wa, "src/api/users.py", "y\n", "a work")
    side = git(wa, "rev-parse", "HEAD").stdout.strip()
    pg = pygit2.Repository(str(repo))
    pg.references["refs/heads/main"].set_target(side)
    assert git(repo, "rev-parse", "main").stdout.strip() == side


def test_editing_without_committing_is_seen_not_prevented(
        setup: tuple[Path, Path, Path, str]) -> None:
    _repo, _wa, wb, a = setup
    (wb / "src/api/users.py").write_text("edited in place\n")
    check = orch(wb, "lock", "check", "src/api/users.py")
    assert check.returncode == 1 and a in check.stdout
    git(wb, "add", "src/api/users.py")
    assert git(wb, "commit", "-q", "-m", "x", check=False).returncode == 1


def test_locked_change_inside_a_merge_commit_is_caught_at_push(
        setup: tuple[Path, Path, Path, str], bare_remote: Path) -> None:
    """A merge whose own change (not what it brings in) touches a locked path."""
    _repo, _wa, wb, a = setup
    git(wb, "switch", "-q", "-c", "side")
    commit_file(wb, "docs/side.md", "side\n", "side work")
    git(wb, "switch", "-q", "wt-b")
    git(wb, "merge", "-q", "--no-ff", "--no-commit", "side")
    (wb / "src/api/users.py").write_text("written by the merge\n")
    git(wb, "add", "src/api/users.py")
    # With --no-verify reference-transaction refuses it; with every hook off it is made.
    assert git(wb, "commit", "-q", "--no-verify", "-m", "merge side",
               check=False).returncode != 0
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "merge side")
    push = git(wb, "push", "origin", "wt-b", check=False)
    assert push.returncode == 1 and a in push.stderr and "src/api/users.py" in push.stderr
    assert not _remote_has(bare_remote, "wt-b")
    # A clean merge that brings in main's landed history is not blamed for it.
    git(wb, "reset", "-q", "--hard", "HEAD~1")
    git(wb, "merge", "-q", "--no-ff", "--no-edit", "side")
    assert git(wb, "push", "origin", "wt-b", check=False).returncode == 0


def test_branch_copy_and_symbolic_ref_onto_main_are_noticed(tmp_path: Path) -> None:
    from tests.merge.test_tamper import _doctor_says, _landed_repo

    repo = _landed_repo(tmp_path)
    assert git(repo, "branch", "-C", "y", "main", check=False).returncode == 0
    assert any("never landed" in s for s in _doctor_says(repo))
    assert git(repo, "symbolic-ref", "refs/heads/main", "refs/heads/y",
               check=False).returncode == 0
    assert any("symbolic ref" in s for s in _doctor_says(repo))


@pytest.mark.parametrize("how", [["-M"], ["-m", "-f"], ["--move", "--force"]])
def test_branch_rename_onto_main_is_refused_and_keeps_the_branch(
        setup: tuple[Path, Path, Path, str], how: list[str]) -> None:
    """git deletes the old name in a transaction of its own before it replaces main:
    the refusal comes at that first step, so the branch, its commits and its reflog
    stay as they were."""
    repo, wa, _wb, _a = setup
    commit_file(wa, "docs/a.md", "a\n", "a work")
    git(wa, "switch", "-q", "--detach")  # a branch checked out cannot be renamed away
    git(repo, "switch", "-q", "--detach")  # neither can main be replaced while checked out
    before = {b: git(repo, "rev-parse", b).stdout for b in ("main", "wt-a")}
    reflog = git(repo, "reflog", "show", "wt-a").stdout
    proc = git(repo, "branch", *how, "wt-a", "main", check=False)
    assert proc.returncode != 0 and "renaming wt-a onto refs/heads/main refused" in proc.stderr
    assert {b: git(repo, "rev-parse", b).stdout for b in before} == before
    assert git(repo, "reflog", "show", "wt-a").stdout == reflog
    # The branch checked out, renamed by its new name alone.
    git(wa, "switch", "-q", "wt-a")
    proc = git(wa, "branch", *how, "main", check=False)
    assert proc.returncode != 0 and "renaming wt-a onto refs/heads/main refused" in proc.stderr
    assert {b: git(repo, "rev-parse", b).stdout for b in before} == before
    assert git(wa, "branch", "--show-current").stdout.strip() == "wt-a"
    assert git(repo, "reflog", "show", "wt-a").stdout == reflog
    git(wa, "switch", "-q", "--detach")
    # A rename between unprotected names still works.
    assert git(repo, "branch", "-m", "wt-a", "renamed", check=False).returncode == 0
    assert git(repo, "rev-parse", "renamed").stdout == before["wt-a"]


def test_work_tree_policy_dropping_main_is_refused(
        setup: tuple[Path, Path, Path, str]) -> None:
    repo, wa, _wb, _a = setup
    commit_file(wa, "docs/a.md", "a\n", "a work")
    before = git(repo, "rev-parse", "main").stdout.strip()
    (repo / ".orch.toml").write_text('[merge]\nprotected=["x"]\n')
    proc = git(repo, "update-ref", "refs/heads/main", "wt-a", check=False)
    assert proc.returncode != 0 and "refs/heads/main is protected" in proc.stderr
    assert git(repo, "rev-parse", "main").stdout.strip() == before


def test_forged_queue_lease_is_refused(tmp_path: Path) -> None:
    from tests.merge.test_gate_forgery import test_a_forged_lease_does_not_open_the_gate

    test_a_forged_lease_does_not_open_the_gate(tmp_path)


def test_clock_offset_outside_tests_is_ignored(
        setup: tuple[Path, Path, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _repo, _wa, wb, a = setup
    monkeypatch.delenv("ORCH_TESTING")
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "100000")
    proc = commit_file(wb, "src/api/users.py", "x\n", "after a fake expiry")
    assert proc.returncode != 0 and a in proc.stderr


MOVES_OF_MAIN = [
    ["branch", "-f", "main", "wt-a"],
    ["checkout", "-B", "main", "wt-a"],
    ["switch", "-C", "main", "wt-a"],
    ["worktree", "add", "-B", "main", "WT", "wt-a"],
    ["fetch", ".", "wt-a:main"],
    ["push", ".", "wt-a:main"],
    ["push", "--no-verify", ".", "wt-a:main"],
    ["update-ref", "--no-deref", "refs/heads/main", "wt-a"],
    ["update-ref", "-d", "refs/heads/main"],
]


@pytest.mark.parametrize("argv", MOVES_OF_MAIN, ids=lambda a: " ".join(a))
def test_every_local_move_of_main_is_refused(
        setup: tuple[Path, Path, Path, str], argv: list[str]) -> None:
    """Each git command that can move main in this clone, with main not checked out
    (so git itself does not refuse first): refused, main and the work tree unchanged."""
    repo, wa, _wb, _a = setup
    commit_file(wa, "docs/a.md", "a\n", "a work")
    git(repo, "switch", "-q", "--detach")
    head = git(repo, "rev-parse", "HEAD").stdout
    before = git(repo, "rev-parse", "main").stdout
    argv = [str(repo.parent / "new-wt") if a == "WT" else a for a in argv]
    proc = git(repo, *argv, check=False)
    assert proc.returncode != 0 and "refs/heads/main is protected" in proc.stderr, proc.stderr
    assert git(repo, "rev-parse", "main").stdout == before
    assert git(repo, "rev-parse", "HEAD").stdout == head
    assert git(repo, "status", "--porcelain").stdout == ""


def test_ref_file_edited_by_hand_is_noticed(tmp_path: Path) -> None:
    """No git command, no hook: main's ref file (loose or in packed-refs) written by
    hand. Doctor reports it, and the lander refuses to build on it."""
    from tests.merge.test_tamper import _doctor_says, _landed_repo

    repo = _landed_repo(tmp_path)
    y = git(repo, "rev-parse", "y").stdout.strip()
    git(repo, "pack-refs", "--all")
    packed = repo / ".git" / "packed-refs"
    main = git(repo, "rev-parse", "main").stdout.strip()
    packed.write_text(packed.read_text().replace(f"{main} refs/heads/main",
                                                 f"{y} refs/heads/main"))
    assert git(repo, "rev-parse", "main").stdout.strip() == y
    assert any("never landed" in s for s in _doctor_says(repo))
    (repo / ".git" / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (repo / ".git" / "refs" / "heads" / "main").write_text(y + "\n")
    assert any("never landed" in s for s in _doctor_says(repo))
    proc = orch(repo, "merge", "land")
    assert proc.returncode == 1 and "never landed" in proc.stderr


def test_a_faked_commit_checked_marker_is_caught_at_push(
        setup: tuple[Path, Path, Path, str], bare_remote: Path) -> None:
    """reference-transaction skips the branch lock rule for a commit whose pre-commit
    left this git process's id in `.git/orch-commit-checked`; a shell that writes its
    own id there and then becomes `git commit --no-verify` (exec keeps the id) gets
    the commit made. The push is still checked, and refused."""
    _repo, _wa, wb, a = setup
    (wb / "src" / "api" / "users.py").write_text("faked\n")
    git(wb, "add", "src/api/users.py")
    gd = git(wb, "rev-parse", "--path-format=absolute", "--git-dir").stdout.strip()
    made = subprocess.run(
        ["sh", "-c", f'echo $$ > "{gd}/orch-commit-checked"; '
                     'exec git commit -q --no-verify -m faked'],
        cwd=wb, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr  # the local gap the README names
    push = git(wb, "push", "origin", "wt-b", check=False)
    assert push.returncode == 1 and a in push.stderr, push.stderr
    assert not _remote_has(bare_remote, "wt-b")


@pytest.mark.parametrize("base", ["nosuchbranch", "wt-b"])
def test_a_work_tree_base_branch_does_not_move_the_lock_rule(
        setup: tuple[Path, Path, Path, str], base: str) -> None:
    """The branch lock rule measures a branch's own change against the base branch of
    the policy committed on main: a work tree that names another base (one that does
    not exist, or the branch itself) changes nothing."""
    _repo, _wa, wb, a = setup
    policy = wb / ".orch.toml"
    policy.write_text(policy.read_text().replace("[merge]\n", f'[merge]\nbase = "{base}"\n', 1)
                      if "base =" not in policy.read_text() else
                      policy.read_text().replace('base = "main"', f'base = "{base}"'))
    assert f'base = "{base}"' in policy.read_text()
    proc = commit_file(wb, "src/api/users.py", "x\n", "bypass", "--no-verify")
    assert proc.returncode != 0 and a in proc.stderr, proc.stderr
