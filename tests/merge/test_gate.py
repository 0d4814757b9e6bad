"""The gate: nothing but the lander moves a protected branch, locally or on the remote."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from orch_core.state.context import Context
from testing.repos import git, orch
from tests.merge.test_landing import _paused_lander, approved_branch, rev, state_of
from tests.merge.test_queue import make_branch, new_session, request, setup_repo


def refused(proc_err: str, branch: str | None = None) -> None:
    assert "refs/heads/main is protected" in proc_err, proc_err
    assert "orch-hooks merge request" in proc_err
    assert "orch-hooks merge queue" in proc_err
    if branch:
        assert f"orch-hooks merge request {branch}" in proc_err
    assert "Traceback" not in proc_err


def test_git_merge_into_main_is_refused_with_the_queue_position(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    old = rev(repo, "main")
    ff = git(repo, "merge", "-q", "feat", check=False)
    assert ff.returncode != 0
    refused(ff.stderr, "feat")
    assert "position: feat is not queued" in ff.stderr
    assert rev(repo, "main") == old
    git(repo, "reset", "-q", "--hard", "HEAD")  # a no-op on the ref: allowed
    ctx = Context(cwd=repo, env={})
    request(ctx, new_session(ctx, "a"), "feat")
    ctx.close()
    for args in (["merge", "--no-ff", "--no-edit", "feat"],
                 ["merge", "--no-verify", "--no-ff", "--no-edit", "feat"]):
        proc = git(repo, *args, check=False)
        assert proc.returncode != 0
        refused(proc.stderr, "feat")
        assert "position: feat is #1 in the queue (Q-1, queued)" in proc.stderr
        assert rev(repo, "main") == old
        git(repo, "merge", "--abort", check=False)
        git(repo, "reset", "-q", "--hard", "HEAD")


def test_commit_reset_update_ref_and_delete_on_main_are_refused(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    old = rev(repo, "main")
    (repo / "README.md").write_text("edited on main\n")
    git(repo, "add", "README.md")
    for extra in ([], ["--no-verify"]):
        proc = git(repo, "commit", "-q", "-m", "direct", *extra, check=False)
        assert proc.returncode != 0
        refused(proc.stderr)
        assert "git switch -c my-work" in proc.stderr
        assert rev(repo, "main") == old
    git(repo, "reset", "-q", "--hard", "HEAD")
    for args in (["reset", "-q", "--hard", "HEAD~1"],
                 ["update-ref", "refs/heads/main", rev(repo, "feat")],
                 ["update-ref", "-d", "refs/heads/main"]):
        proc = git(repo, *args, check=False)
        assert proc.returncode != 0, args
        refused(proc.stderr)
        assert rev(repo, "main") == old, args
    # A forged token does not open the gate either.
    proc = git(repo, "update-ref", "refs/heads/main", rev(repo, "feat"), check=False,
               env={"ORCH_LANDER_TOKEN": "0" * 32})
    assert proc.returncode != 0 and rev(repo, "main") == old
    # No-op updates, packing refs and other branches pass; a packed main stays protected.
    git(repo, "update-ref", "refs/heads/main", old)
    git(repo, "pack-refs", "--all")
    proc = git(repo, "update-ref", "-d", "refs/heads/main", check=False)
    assert proc.returncode != 0 and rev(repo, "main") == old
    git(repo, "branch", "-f", "other", "feat")
    # The refused reset had already rewritten the files; the hint's command restores them.
    git(repo, "reset", "-q", "--hard", "HEAD")
    assert git(repo, "status", "--porcelain").stdout == ""


def test_lander_token_opens_the_gate_only_for_the_tested_merge(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    old = rev(repo, "main")
    stuck = _paused_lander(repo, "target")
    try:
        lease = state_of(repo).lease
        assert lease is not None and lease.target
        # The queue keeps only a hash of the lander's token: what it stores opens nothing,
        # not even for the tested merge, and not from outside the lander process.
        assert lease.token.startswith("sha256:")
        env = {"ORCH_LANDER_TOKEN": lease.token}
        other = git(repo, "update-ref", "refs/heads/main", rev(repo, "feat"), old,
                    check=False, env=env)
        assert other.returncode != 0 and rev(repo, "main") == old
        stored = git(repo, "update-ref", "refs/heads/main", lease.target, old, check=False,
                     env=env)
        assert stored.returncode != 0 and rev(repo, "main") == old
    finally:
        stuck.send_signal(signal.SIGKILL)
        stuck.communicate()
    # The lander itself (its token, its process) moves main to the merge it tested.
    landed = orch(repo, "merge", "land", "--json")
    assert landed.returncode == 0 and json.loads(landed.stdout)["landed"], landed.stderr
    assert rev(repo, "main") == state_of(repo).get("Q-1").landed_as


def test_bootstrap_creates_main_in_an_empty_repo(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    orch(repo, "install", check=True)
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    first = git(repo, "commit", "-q", "-m", "first", check=False)
    assert first.returncode == 0, first.stderr
    (repo / "a.txt").write_text("b\n")
    second = git(repo, "commit", "-q", "-am", "second", check=False)
    assert second.returncode != 0
    refused(second.stderr)


def test_push_to_protected_branch_only_publishes_landed_work(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    first = git(repo, "push", "-q", "origin", "main", check=False)  # bootstrap of the remote
    assert first.returncode == 0, first.stderr
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    wt = repo.parent / "wt-feat"
    before = rev(remote, "main")
    push = git(wt, "push", "origin", "feat:main", check=False)
    assert push.returncode != 0
    refused(push.stderr, "feat")
    assert "position: feat is #1 in the queue (Q-1, approved)" in push.stderr
    assert rev(remote, "main") == before
    delete = git(repo, "push", "origin", ":main", check=False)
    assert delete.returncode != 0 and rev(remote, "main") == before
    # The feature branch itself may go to the remote.
    assert git(wt, "push", "-q", "origin", "feat", check=False).returncode == 0
    landed = orch(repo, "merge", "land", "--json")
    assert landed.returncode == 0 and json.loads(landed.stdout)["landed"], landed.stderr
    publish = git(repo, "push", "-q", "origin", "main", check=False)
    assert publish.returncode == 0, publish.stderr
    assert rev(remote, "main") == rev(repo, "main")


def test_gate_module_imports_only_the_standard_library() -> None:
    import subprocess
    import sys

    code = ("import sys; import orch_core.merge.gate; "
            "bad = [m for m in ('pygit2', 'click', 'sqlite3', 'orch_core.merge.queue') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ}, check=True)
    assert out.stdout.strip() == ""
