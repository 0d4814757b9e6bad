"""Merge queue speed: conflict prediction for 20 queued branches, and landing overhead.

Prediction: a repository of 5,000 files, 20 branches queued (each changes a file
of its own and one file shared by all, so every pair overlaps and is really
merged), main moved ahead; `merge.predict` over the whole queue, in memory.
Baseline in the same run: `git merge-tree --write-tree` for the same 20 merges
against main (git's own in-memory merge, one process each).
Budget: prediction under 1 s in total.

Landing: the same repository, one approved branch, a check that sleeps 0.5 s;
the landing's wall time (through the console script) minus the time of the
checks is the overhead. The first landing of a clone also checks out the
lander's own worktree (kept between landings); it is reported on its own.
Baseline: the checks' own time. Budget: overhead at most 1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, figure, git, make_repo, median, ms, orch, report, workdir

PREDICT_BUDGET_S = 1.0
OVERHEAD_BUDGET_S = 1.0


def _branch(repo: Path, name: str, edits: dict[str, str]) -> str:
    """A branch off main with one commit, written with plumbing (no checkout)."""
    base = git(repo, "rev-parse", "main").strip()
    env_index = repo / ".git" / f"index-{name}"
    import os
    import subprocess

    env = {**os.environ, "GIT_INDEX_FILE": str(env_index)}
    subprocess.run(["git", "read-tree", base], cwd=repo, env=env, check=True)
    for rel, text in edits.items():
        blob = git(repo, "hash-object", "-w", "--stdin", input=text.encode()).strip()
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    commit = git(repo, "commit-tree", tree, "-p", base, "-m", f"{name}: change").strip()
    git(repo, "update-ref", f"refs/heads/{name}", commit)
    env_index.unlink()
    return commit


def bench_predict(base: Path, n_files: int, n_branches: int, rounds: int) -> list[Figure]:
    from orch_core.merge import predict as merge
    from orch_core.merge import queue as q
    from orch_core.state.context import Context

    repo = base / "predict"
    repo.mkdir()
    paths = make_repo(repo, n_files)
    shared = paths[0]
    tips = []
    for i in range(n_branches):
        own = paths[(i + 1) * (len(paths) // (n_branches + 1))]
        tips.append(_branch(repo, f"b{i:02d}", {
            own: f"# {own}\nVALUE = {i + 1}\n",
            shared: f"# {shared}\nVALUE = 0\nB{i} = {i}\n",
        }))
    # Main moves ahead on a file nobody else touches.
    moved = _branch(repo, "ahead", {paths[-1]: "# moved\n"})
    git(repo, "update-ref", "refs/heads/main", moved)
    entries = tuple(
        q.Entry(id=f"Q-{i + 1}", seq=i + 1, branch=f"b{i:02d}", tip=tip, author="s-bench",
                owner="bench", priority=0, state=q.APPROVED if i % 2 == 0 else q.QUEUED,
                created_at=0.0, updated_at=0.0)
        for i, tip in enumerate(tips))
    state = q.QueueState(seq=len(tips), entries=entries)
    ctx = Context(cwd=repo, env={})
    ctx.pg  # noqa: B018  (open the repository outside the timing, as a server would)
    times: list[float] = []
    found: dict[str, Any] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        found = merge.predict(ctx, state, moved)
        times.append(time.perf_counter() - t0)
    base_times: list[float] = []
    for _ in range(max(1, rounds // 2)):
        t0 = time.perf_counter()
        for tip in tips:
            git_proc = __import__("subprocess").run(
                ["git", "merge-tree", "--write-tree", "--name-only", "main", tip], cwd=repo,
                capture_output=True)
            assert git_proc.returncode in (0, 1)
        base_times.append(time.perf_counter() - t0)
    ctx.close()
    pairs = sum(len(v) for v in found.values())
    t, tb = median(times), median(base_times)
    return [
        figure(f"predict: {n_branches} queued branches, {n_files} files, total (median of "
               f"{rounds})", ms(t), "ms", f"< {PREDICT_BUDGET_S * 1000:.0f} ms",
               t < PREDICT_BUDGET_S),
        figure(f"predict: baseline, {n_branches} x git merge-tree --write-tree", ms(tb), "ms"),
        figure("predict: orch / baseline", round(t / tb, 2), "x"),
        figure("predict: conflicts found (pairs sharing an edited hunk)", pairs, "count"),
    ]


def bench_land(base: Path, n_files: int, check_s: float, rounds: int) -> list[Figure]:
    repo = base / "land"
    repo.mkdir()
    make_repo(repo, n_files)
    (repo / ".orch.toml").write_text(
        f'[merge]\nchecks = ["sleep {check_s}"]\ncheck_timeout = 60\n')
    git(repo, "add", ".orch.toml")
    git(repo, "commit", "-q", "-m", "policy")
    orch(repo, "install")
    author = json.loads(orch(repo, "session", "open", "--owner", "author", "--no-bind",
                             "--json"))["session_id"]
    reviewer = json.loads(orch(repo, "session", "open", "--owner", "reviewer", "--no-bind",
                               "--json"))["session_id"]
    overheads: list[float] = []
    totals: list[float] = []
    checks: list[float] = []
    first = 0.0
    for i in range(rounds + 1):
        _branch(repo, f"feat{i}", {f"docs/feat{i}.md": f"{i}\n"})
        entry = json.loads(orch(repo, "--session", author, "merge", "request", f"feat{i}",
                                "--json"))
        orch(repo, "--session", reviewer, "merge", "review", entry["id"], "--approve")
        t0 = time.perf_counter()
        out = json.loads(orch(repo, "merge", "land", "--json"))
        wall = time.perf_counter() - t0
        if not out["landed"]:
            raise RuntimeError(f"landing failed: {out['reason']}")
        check_time = sum(c["seconds"] for c in out["checks"])
        if i == 0:  # the first landing also checks out the lander's own worktree
            first = wall - check_time
            continue
        totals.append(wall)
        checks.append(check_time)
        overheads.append(wall - check_time)
    o, c, w = median(overheads), median(checks), median(totals)
    return [
        figure(f"land: wall time incl. CLI start, {n_files} files (median of {rounds})",
               ms(w), "ms"),
        figure("land: baseline, the checks' own time", ms(c), "ms"),
        figure("land: overhead over the checks", ms(o), "ms",
               f"<= {OVERHEAD_BUDGET_S * 1000:.0f} ms", o <= OVERHEAD_BUDGET_S),
        figure("land: wall / checks", round(w / c, 2), "x"),
        figure("land: overhead of the first landing (creates the lander's worktree, "
               "once per clone)", ms(first), "ms"),
    ]


def main(n_files: int = 5000, n_branches: int = 20, rounds: int = 5,
         land_rounds: int = 3, check_s: float = 0.5) -> dict[str, Any]:
    with workdir("orch-bench-merge-") as base:
        figs = bench_predict(base, n_files, n_branches, rounds)
        figs += bench_land(base, n_files, check_s, land_rounds)
    return report("bench_merge", figs)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ns = ap.parse_args()
    res = main(n_files=ns.files, n_branches=ns.branches, rounds=ns.rounds)
    sys.exit(0 if all(f["ok"] for f in res["figures"]) else 1)
