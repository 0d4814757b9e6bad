"""Moves of a protected branch git runs no hook for (`git branch -C X main`,
`git symbolic-ref refs/heads/main refs/heads/X` on git 2.39) are noticed: by
doctor, by the next gate call, and by merge/tamper.py for the lander."""

from __future__ import annotations

import json
from pathlib import Path

from orch_core.merge import tamper
from orch_core.state.context import Context
from testing.repos import git, orch
from tests.merge.test_landing import approved_branch, rev, state_of
from tests.merge.test_queue import make_branch, setup_repo


def _landed_repo(tmp_path: Path) -> Path:
    repo = setup_repo(tmp_path / "repo", checks=[])
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    landed = orch(repo, "merge", "land", "--json")
    assert landed.returncode == 0 and json.loads(landed.stdout)["landed"], landed.stderr
    make_branch(repo, "y", {"docs/y.md": "y\n"})
    git(repo, "switch", "-q", "--detach")
    return repo


def _doctor_says(repo: Path) -> list[str]:
    out = json.loads(orch(repo, "doctor", "--json").stdout)
    return [f["detail"] for f in out["findings"]
            if f["check"] == "protected branches" and not f["ok"]]


def test_a_landed_main_is_not_reported(tmp_path: Path) -> None:
    repo = _landed_repo(tmp_path)
    assert _doctor_says(repo) == []
    ctx = Context(cwd=repo, env={})
    try:
        assert tamper.findings(ctx, ["refs/heads/main"]) == []
    finally:
        ctx.close()


def test_branch_copy_onto_main_is_noticed(tmp_path: Path) -> None:
    repo = _landed_repo(tmp_path)
    landed = state_of(repo).get("Q-1").landed_as
    assert landed
    copy = git(repo, "branch", "-C", "y", "main", check=False)
    assert copy.returncode == 0, copy.stderr  # git runs no hook for it
    assert rev(repo, "main") == rev(repo, "y") != landed
    said = _doctor_says(repo)
    assert len(said) == 1 and "never landed" in said[0], said
    ctx = Context(cwd=repo, env={})
    try:
        assert tamper.unlanded(ctx, "refs/heads/main") is not None
    finally:
        ctx.close()
    # The next gate call says so too.
    proc = git(repo, "update-ref", "refs/heads/main", landed, check=False)
    assert proc.returncode != 0 and "never landed" in proc.stderr


def test_symbolic_main_is_noticed(tmp_path: Path) -> None:
    repo = _landed_repo(tmp_path)
    sym = git(repo, "symbolic-ref", "refs/heads/main", "refs/heads/y", check=False)
    assert sym.returncode == 0, sym.stderr
    said = _doctor_says(repo)
    assert len(said) == 1 and "symbolic ref to refs/heads/y" in said[0], said
    proc = git(repo, "update-ref", "--no-deref", "refs/heads/main", rev(repo, "y"), check=False)
    assert proc.returncode != 0 and "symbolic ref" in proc.stderr


def test_lander_refuses_to_build_on_a_tampered_main(tmp_path: Path) -> None:
    """The lander checks merge/tamper.py before it takes the lock: a main moved past
    the gate (or made symbolic) is refused with the reason, the entry stays approved
    and nothing moves."""
    repo = _landed_repo(tmp_path)
    approved_branch(repo, "next", {"docs/next.md": "next\n"})
    assert git(repo, "branch", "-C", "y", "main", check=False).returncode == 0
    moved = rev(repo, "main")
    queue_before = rev(repo, "refs/orch/queue")
    proc = orch(repo, "merge", "land")
    assert proc.returncode == 1 and "landing refused" in proc.stderr
    assert "never landed" in proc.stderr and "doctor" in proc.stderr, proc.stderr
    assert rev(repo, "main") == moved and rev(repo, "refs/orch/queue") == queue_before
    assert state_of(repo).get("Q-2").state == "approved"
    # Symbolic: refused the same way.
    git(repo, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main",
        state_of(repo).get("Q-1").landed_as or "")
    assert git(repo, "symbolic-ref", "refs/heads/main", "refs/heads/y",
               check=False).returncode == 0
    proc = orch(repo, "merge", "land")
    assert proc.returncode == 1 and "symbolic ref" in proc.stderr, proc.stderr
    assert state_of(repo).get("Q-2").state == "approved"


def test_lost_state_db_refuses_landing_naming_rebuild(tmp_path: Path) -> None:
    """A deleted state.db knows none of the queue's earlier commits, so the gate would
    refuse the lander's move: the lander says so before it starts, naming the way out,
    and the way out lands."""
    repo = _landed_repo(tmp_path)
    approved_branch(repo, "next", {"docs/next.md": "next\n"})
    before = rev(repo, "main")
    db = repo / ".git" / "orch" / "state.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    proc = orch(repo, "merge", "land")
    assert proc.returncode == 1 and "no record of" in proc.stderr, proc.stderr
    assert "orch-hooks rebuild --force" in proc.stderr
    assert rev(repo, "main") == before and state_of(repo).get("Q-2").state == "approved"
    if git(repo, "rev-parse", "-q", "--verify", "refs/orch/work", check=False).returncode:
        assert "orch-hooks sync" in proc.stderr
        orch(repo, "sync", check=True)
    orch(repo, "rebuild", "--force", check=True)
    landed = orch(repo, "merge", "land", "--json")
    assert landed.returncode == 0 and json.loads(landed.stdout)["landed"], landed.stderr
