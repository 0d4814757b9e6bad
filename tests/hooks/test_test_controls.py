"""Test-only controls (the clock offset) count only under the test switch, and
the shims and Python read them the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_core import clock
from testing.repos import add_worktree, commit_file, git, open_session, orch


@pytest.fixture
def held(repo: Path) -> tuple[Path, Path, str, str]:
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "agent-a")
    b = open_session(wb, "agent-b")
    orch(wa, "lock", "acquire", "src/api/", "--ttl", "600", check=True)
    return wa, wb, a, b


def test_clock_offset_is_ignored_without_the_test_switch(
        held: tuple[Path, Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _wa, wb, a, _b = held
    monkeypatch.delenv("ORCH_TESTING")
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "100000")
    # The live lease of another session is not reaped by a shifted clock ...
    proc = orch(wb, "lock", "acquire", "src/api/users.py")
    assert proc.returncode != 0 and a in (proc.stdout + proc.stderr)
    # ... and the commit path does not think it expired either (shell and Python).
    proc = commit_file(wb, "src/api/users.py", "x\n", "b's change")
    assert proc.returncode != 0 and a in proc.stderr
    git(wb, "reset", "-q", "HEAD", "--", "src/api/users.py")


@pytest.mark.parametrize("raw", ["1e9x", "1e9", " 1000000", "1000000s", "0x10000000", "--5"])
def test_a_malformed_offset_is_zero_everywhere(
        held: tuple[Path, Path, str, str], monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    _wa, wb, a, _b = held
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", raw)
    assert clock.offset() == 0.0
    proc = commit_file(wb, "src/api/users.py", "x\n", "b's change")
    assert proc.returncode != 0 and a in proc.stderr
    git(wb, "reset", "-q", "HEAD", "--", "src/api/users.py")


def test_a_well_formed_offset_counts_under_the_switch(
        held: tuple[Path, Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _wa, wb, _a, _b = held
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "7200")
    assert clock.offset() == 7200.0
    proc = commit_file(wb, "src/api/users.py", "x\n", "after the lease expired")
    assert proc.returncode == 0, proc.stderr


def test_offset_parsing() -> None:
    env = {"ORCH_TESTING": "1"}
    for raw, want in (("12", 12.0), ("-3.5", -3.5), ("1e3", 0.0), ("nan", 0.0),
                      ("inf", 0.0), ("", 0.0), ("1.", 0.0), (".5", 0.0)):
        assert clock.offset({**env, "ORCH_CLOCK_OFFSET": raw}) == want, raw
    assert clock.offset({"ORCH_CLOCK_OFFSET": "12"}) == 0.0


def test_lander_pause_is_ignored_without_the_test_switch(tmp_path: Path) -> None:
    """ORCH_LANDER_PAUSE stops a lander only under ORCH_TESTING=1: in normal use it
    would hold the merge lock for two minutes."""
    import json
    import os
    import subprocess

    from testing.repos import ORCH
    from tests.merge.test_landing import approved_branch
    from tests.merge.test_queue import setup_repo

    repo = setup_repo(tmp_path / "repo", checks=[])
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    env = {k: v for k, v in os.environ.items() if k != "ORCH_TESTING"}
    env["ORCH_LANDER_PAUSE"] = "locked"
    proc = subprocess.run([ORCH, "merge", "land", "--json"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and json.loads(proc.stdout)["landed"], proc.stderr
    assert not (repo / ".git" / "orch" / "lander-paused-locked").exists()
