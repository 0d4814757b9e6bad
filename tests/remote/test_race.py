"""Ten clones, three sessions each, racing for overlapping paths through a real
`git daemon` (short races here; 30 s and 100 trials in benchmarks/bench_remote.py),
then the independent checker replays the remote's refs/orch/locks."""

from __future__ import annotations

from pathlib import Path

from benchmarks import remote_race
from testing.gitdaemon import Daemon, make_bare


def test_ten_clones_race_without_conflicts_or_lost_grants(git_daemon: Daemon,
                                                         tmp_path: Path) -> None:
    bare = make_bare(git_daemon.base / "team.git")
    spec = remote_race.setup(tmp_path, git_daemon.url(bare), bare, clones=10, sessions=3)
    assert len({w["clone"] for w in spec["workers"]}) == 10
    run = remote_race.race(spec, duration=4.0)
    assert run["exit_codes"] == [0] * 30
    res = remote_race.check(spec)
    assert res["unexpected"] == [] and res["problems"] == []
    assert res["violations"] == 0 and res["missing_grants"] == 0
    # Real contention happened (on a busy 2-core machine a few seconds give a few
    # grants): grants and refusals both; every grant and release is a commit there.
    assert res["counts"]["granted"] >= 2 and res["counts"]["refused"] >= 2
    assert res["audit"]["commits"] >= res["counts"]["granted"]
    one = remote_race.one_path(spec, clients=16, trials=3)
    assert one["errors"] == []
    assert one["winners"] == [1, 1, 1]
