"""Nothing local talks the gate open: a work-tree policy, a hand-made queue state
(a forged merge-lock lease or `landed` entry) and a test control in normal use."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

from orch_core.merge import queue as q
from testing.repos import git
from tests.merge.test_gate import refused
from tests.merge.test_landing import rev, state_of
from tests.merge.test_queue import make_branch, setup_repo


def _forge_queue(repo: Path, state: q.QueueState) -> str:
    """Write a queue commit by hand (no orch writer), on top of the current tip."""
    blob = git(repo, "hash-object", "-w", "--stdin", input=state.serialise().decode()).stdout
    tree = git(repo, "mktree", input=f"100644 blob {blob.strip()}\t{q.FILE}\n").stdout.strip()
    parent = git(repo, "rev-parse", "-q", "--verify", q.REF, check=False).stdout.strip()
    args = ["commit-tree", tree, "-m", "merge lock taken by lander"]
    if parent:
        args += ["-p", parent]
    commit = git(repo, *args).stdout.strip()
    git(repo, "update-ref", q.REF, commit)
    return commit


def _current(repo: Path) -> q.QueueState:
    found = git(repo, "rev-parse", "-q", "--verify", q.REF, check=False).returncode == 0
    return state_of(repo) if found else q.QueueState()


def test_a_work_tree_policy_does_not_unprotect_main(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "x", {"docs/x.md": "x\n"})
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    old = rev(repo, "main")
    (repo / ".orch.toml").write_text('[merge]\nprotected=["x"]\n')
    proc = git(repo, "update-ref", "refs/heads/main", rev(repo, "x"), check=False)
    assert proc.returncode != 0 and rev(repo, "main") == old
    refused(proc.stderr)
    push = git(repo, "push", "origin", "x:main", check=False)
    assert push.returncode != 0 and rev(remote, "main") == old
    refused(push.stderr)
    (repo / "README.md").write_text("on main\n")
    git(repo, "add", "README.md")
    commit = git(repo, "commit", "-q", "-m", "direct", check=False)
    assert commit.returncode != 0 and rev(repo, "main") == old


def test_the_shim_list_cannot_be_injected_by_the_caller(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "x", {"docs/x.md": "x\n"})
    old = rev(repo, "main")
    proc = git(repo, "update-ref", "refs/heads/main", rev(repo, "x"), check=False,
               env={"ORCH_SHIM_PROTECTED": "refs/heads/x"})
    assert proc.returncode != 0 and rev(repo, "main") == old


def test_a_forged_lease_does_not_open_the_gate(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    old, target = rev(repo, "main"), rev(repo, "feat")
    pid = os.getpid()  # this test runs the git command: its pid is the git's ancestor
    lease = q.Lease(token=q.hash_token("s3cret"), holder="lander", pid=pid,
                    host=socket.gethostname(), entry="Q-1", acquired_at=0.0,
                    expires_at=4e9, target=target, started=q.proc_start(pid))
    for stored in (lease, replace(lease, token="s3cret")):
        _forge_queue(repo, replace(_current(repo), lease=stored))
        proc = git(repo, "update-ref", "refs/heads/main", target, check=False,
                   env={"ORCH_LANDER_TOKEN": "s3cret"})
        assert proc.returncode != 0 and rev(repo, "main") == old
        refused(proc.stderr)


def test_a_forged_landed_entry_does_not_open_pre_push(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    feat = rev(repo, "feat")
    entry = q.Entry(id="Q-1", seq=1, branch="feat", tip=feat, author="a", owner="a",
                    priority=0, state=q.LANDED, created_at=0.0, updated_at=0.0,
                    landed_as=feat, landed_on=rev(repo, "main"))
    _forge_queue(repo, q.QueueState(seq=1, entries=(entry,)))
    assert json.loads(git(repo, "show", f"{q.REF}:{q.FILE}").stdout)["entries"]
    before = rev(remote, "main")
    push = git(repo, "push", "origin", "feat:main", check=False)
    assert push.returncode != 0 and rev(remote, "main") == before
    refused(push.stderr, "feat")
