"""Merge checks never outlive their timeout or their lander: a real SIGKILL of the lander
(and of the check's supervisor) mid-check."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from testing.repos import ORCH
from tests.merge.test_landing import _wait_for, approved_branch, land_cli, rev, state_of
from tests.merge.test_queue import setup_repo


def _loop_check(tmp_path: Path) -> tuple[str, Path, Path]:
    """A check that, the first time, writes into the landing worktree forever."""
    started, out = tmp_path / "started", tmp_path / "ticks"
    cmd = (f"if [ -e {started} ]; then exit 0; fi; touch {started}; "
           f"while :; do date +%s%N >> {out}; echo tick >> scribble; sleep 0.05; done")
    return cmd, started, out


def _stops_growing(path: Path, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = path.stat().st_size
        time.sleep(0.4)
        if path.stat().st_size == before:
            return True
    return False


def _lander(repo: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "ORCH_SESSION"}
    return subprocess.Popen([ORCH, "merge", "land", "--json"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_sigkilled_landers_check_dies_with_it(tmp_path: Path) -> None:
    cmd, started, ticks = _loop_check(tmp_path)
    repo = setup_repo(tmp_path / "repo", checks=[cmd], timeout=600)
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    proc = _lander(repo)
    _wait_for(started, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert _stops_growing(ticks, 5), "the check kept running after its lander was killed"
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out


def test_a_stuck_lander_does_not_keep_its_check_past_the_timeout(tmp_path: Path) -> None:
    cmd, started, ticks = _loop_check(tmp_path)
    repo = setup_repo(tmp_path / "repo", checks=[cmd], timeout=2)
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    proc = _lander(repo)
    try:
        _wait_for(started, proc)
        proc.send_signal(signal.SIGSTOP)  # alive, holding the pipe, doing nothing
        t0 = time.monotonic()
        assert _stops_growing(ticks, 6)
        assert time.monotonic() - t0 < 5
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()


def test_the_next_lander_kills_an_orphaned_check_before_using_the_worktree(
        tmp_path: Path) -> None:
    cmd, started, ticks = _loop_check(tmp_path)
    repo = setup_repo(tmp_path / "repo", checks=[cmd], timeout=600)
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    old = rev(repo, "main")
    proc = _lander(repo)
    _wait_for(started, proc)
    record = repo / ".git" / "orch" / "landing" / "check.pgid"
    pgid = int(record.read_text().split()[0])
    # The lander and the check's supervisor die; the check itself runs on, orphaned.
    proc.send_signal(signal.SIGSTOP)
    os.kill(pgid, signal.SIGKILL)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(0.3)
    assert not _stops_growing(ticks, 1.2), "the orphan should still be running here"
    assert rev(repo, "main") == old
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    assert _stops_growing(ticks, 2)
    assert "killed the check process group" in Path(out["log_path"]).read_text()
    assert not record.exists()
    work = repo / ".git" / "orch" / "landing" / "work"
    assert not (work / "scribble").exists()
    assert state_of(repo).lease is None
