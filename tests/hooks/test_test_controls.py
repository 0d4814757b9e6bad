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


CLI = "import sys; from orch_core.cli.main import main; sys.exit(main())"


def _normal_install(tmp_path: Path) -> dict[str, str]:
    """The environment of a normal install: orch_core copied on its own into a
    site directory (no test suite beside it), found first on the path."""
    import os
    import shutil

    from testing.repos import ROOT

    site = tmp_path / "site"
    shutil.copytree(ROOT / "orch_core", site / "orch_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # As the wheel lays them out (pyproject.toml, force-include).
    shutil.copytree(ROOT / "hooks", site / "orch_core" / "hooks" / "templates")
    shutil.copytree(ROOT / "sample_repo", site / "orch_core" / "demo" / "sample_repo")
    return {**os.environ, "PYTHONPATH": str(site), "ORCH_TESTING": "1",
            "ORCH_CLOCK_OFFSET": "100000", "ORCH_LANDER_PAUSE": "locked"}


def test_a_normal_install_honours_no_test_control(
        held: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    """ORCH_TESTING=1 is an ordinary variable: in a normal install it neither moves
    the clock of the hooks nor lets `lock acquire` reap a live lease of another."""
    import subprocess
    import sys

    _wa, wb, a, b = held
    env = _normal_install(tmp_path)
    py = [sys.executable, "-P"]
    # Hooks installed from the normal install: the shims do not read the offset at all.
    subprocess.run([*py, "-c", CLI, "install"], cwd=wb, env=env,
                   capture_output=True, text=True, check=True)
    hooks = Path(git(wb, "rev-parse", "--git-path", "hooks").stdout.strip())
    shim = (wb / hooks / "pre-commit").read_text()
    assert "ORCH_CLOCK_OFFSET" not in shim and "ORCH_TESTING" not in shim
    proc = commit_file(wb, "src/api/users.py", "x\n", "b's change", env=env)
    assert proc.returncode != 0 and a in proc.stderr, proc.stderr
    git(wb, "reset", "-q", "HEAD", "--", "src/api/users.py")
    proc = commit_file(wb, "src/api/users.py", "x\n", "b's change", "--no-verify", env=env)
    assert proc.returncode != 0 and a in proc.stderr, proc.stderr
    git(wb, "reset", "-q", "HEAD", "--", "src/api/users.py")
    # The lock command neither reaps the live lease nor sees it free.
    proc = subprocess.run([*py, "-c", CLI, "lock", "acquire",
                           "src/api/users.py", "--ttl", "100000"], cwd=wb,
                          env={**env, "ORCH_SESSION": b}, capture_output=True, text=True)
    assert proc.returncode != 0 and a in proc.stdout + proc.stderr
    where = subprocess.run([*py, "-c", "import orch_core.clock as c; "
                            "print(c.__file__, c.source_checkout(), c.offset())"],
                           env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "site")) and where.split()[1:] == ["False", "0.0"]
    proc = subprocess.run([*py, "-c", CLI, "lock", "check",
                           "src/api/users.py"], cwd=wb, env={**env, "ORCH_SESSION": b},
                          capture_output=True, text=True)
    assert proc.returncode != 0 and a in proc.stdout + proc.stderr
    where = subprocess.run([*py, "-c", "import orch_core.clock as c; "
                            "print(c.__file__, c.source_checkout(), c.offset())"],
                           env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "site")) and where.split()[1:] == ["False", "0.0"]
