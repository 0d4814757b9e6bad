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
