"""Each benchmark runs end to end at tiny sizes, so none can rot unnoticed.

Assertions are on structure and correctness (figures present and well formed,
the hooks really stamped and enforced, zero violations, the index agreeing with
the oracle), never on timing: timing budgets are `make bench`'s business.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks import (
    bench_commit,
    bench_conflict,
    bench_locks,
    bench_startup,
    bench_takeover,
    bench_team,
    run_all,
)


def _figures(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    figs = out["figures"]
    assert figs
    for f in figs:
        assert set(f) >= {"name", "value", "unit", "budget", "ok"}
        assert isinstance(f["name"], str) and isinstance(f["ok"], bool)
        assert isinstance(f["value"], int | float) and not math.isnan(f["value"])
    return {f["name"]: f for f in figs}


def _find(figs: dict[str, dict[str, Any]], fragment: str) -> dict[str, Any]:
    hits = [f for name, f in figs.items() if fragment in name]
    assert len(hits) == 1, (fragment, list(figs))
    return hits[0]


def test_bench_commit_small() -> None:
    # main() itself checks that every hooked commit got its note and that a commit
    # touching a locked path is refused; it raises otherwise.
    out = bench_commit.main(n_files=120, n_locks=30, n_sessions=3, n_staged=5, rounds=2,
                            profile_rounds=2, per_dir=10)
    figs = _figures(out)
    assert _find(figs, "hooked / bare")["budget"]
    assert _find(figs, "orch hooks, 30 live locks")["value"] > 0
    # The accept path is the shell fast path: no Python on a commit that conflicts
    # with nothing.
    assert _find(figs, "shell fast path taken")["value"] == 2
    assert _find(figs, "Python starts per commit")["value"] == 0
    assert _find(figs, "pre-commit invocations")["value"] == 1


def test_bench_commit_plan_keeps_staged_paths_unlocked() -> None:
    per, staged = bench_commit.plan(2000, 1000, 20, 50, 40)
    held = [p for mine in per for p, _shared in mine]
    assert len(held) == 1000 and len(set(held)) == 1000 and len(staged) == 50
    prefixes = [p for p in held if p.endswith("/")]
    assert len(prefixes) == 20
    for p in staged:
        assert p not in held and not any(p.startswith(d) for d in prefixes)


def test_bench_conflict_small_agrees_with_oracle() -> None:
    out = bench_conflict.main(n_locks=2000, n_paths=300, repeats=1, oracle_sample=40,
                              small_cases=100)
    figs = _figures(out)
    assert _find(figs, "disagreements")["value"] == 0
    assert _find(figs, "disagreements")["ok"]
    assert _find(figs, "paths blocked")["value"] > 0


def test_bench_locks_small() -> None:
    out = bench_locks.main(ops=10, n_background=5, n_procs=3, duration=1.0)
    figs = _figures(out)
    assert _find(figs, "conflicting live leases")["value"] == 0
    assert _find(figs, "grants missing")["value"] == 0
    assert _find(figs, "race: grants (")["value"] > 0
    assert _find(figs, "throughput")["value"] > 0


def test_bench_startup_small() -> None:
    # main() raises if any timed command fails (lock acquire and release really ran).
    out = bench_startup.main(rounds=2, warmup=1)
    figs = _figures(out)
    assert _find(figs, "python -c pass (baseline)")["value"] > 0
    for name, budget in (("orch-hooks --help", "<= 35 ms"), ("lock check", "<= 45 ms"),
                         ("lock acquire", "<= 60 ms"), ("lock release", "<= 60 ms")):
        assert figs[name]["budget"] == budget and figs[name]["value"] > 0
        assert f"{name} minus baseline" in figs


def test_bench_takeover_one_round() -> None:
    figs = _figures(bench_takeover.main(rounds=1))
    # Structure and correctness only: the first commit after the kill was refused and a
    # later one went through with no manual step.
    assert _find(figs, "refused before the deadline")["ok"] is True
    assert _find(figs, "worst")["value"] > 0


def test_run_all_collects_every_module(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    names = run_all.discover([])
    assert {"bench_commit", "bench_conflict", "bench_locks", "bench_startup"} <= set(names)
    calls: list[str] = []

    def fake_run(name: str) -> tuple[list[dict[str, Any]], float]:
        calls.append(name)
        ok = name != "bench_conflict"
        return [{"name": f"{name} figure", "value": 1.5, "unit": "ms",
                 "budget": "< 2 ms", "ok": ok}], 0.1

    monkeypatch.setattr(run_all, "run_one", fake_run)
    assert run_all.main(["commit", "conflict"]) == 1
    assert calls == ["bench_conflict", "bench_commit"]  # run_all.FIRST order
    out = capsys.readouterr().out
    assert "within budget" in out and "bench_commit figure" in out and "NO" in out
    with pytest.raises(SystemExit):
        run_all.discover(["nonexistent"])


def test_bench_team_small() -> None:
    out = bench_team.main(rounds=2, viewers=2)
    figs = _figures(out)
    assert _find(figs, "events --follow sees a lock, p50")["value"] > 0
    assert _find(figs, "monitor stream delivers a lock, p50")["value"] > 0
    assert _find(figs, "2 stream viewers")["value"] > 0
