"""`resume.next` and `plan.ready` on 20,000 tasks, in-process (budget: < 100 ms each).

Set-up: a repository with the hooks installed, a worktree on its own branch for
the measured session, and a plan of ``n_tasks`` tasks (10 epics x 10 features
x 10 test groups, 6 cases per group, the rest steps), 60 % of the cases
finished, 2,000 case dependencies, 20 other sessions (half alive) holding
cases, and a checkpoint note on the session's last commit. Times, per call
through ``api.call`` (validation included): ``resume.next`` for a session in
the middle of a case, ``resume.next`` for a session with no case (it looks up
the next ready case), and ``plan.ready`` (50 cases). The baseline is a bare
SQLite query over the same table that ignores dependencies and holders.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    Figure,
    figure,
    git,
    make_repo,
    median,
    ms,
    orch,
    percentile,
    report,
    workdir,
)

BUDGET_MS = 100.0
BASELINE_SQL = ("SELECT * FROM tasks WHERE status='queued' AND level='case' "
                "ORDER BY priority DESC, seq LIMIT 50")


def seed(conn: sqlite3.Connection, n_tasks: int, now: float,
         sessions: list[str]) -> list[str]:
    """Insert the plan directly (set-up only); returns the queued case ids."""
    rng = random.Random(7)
    rows: list[tuple[Any, ...]] = []
    seq = 0

    def add(level: str, parent: str | None, status: str = "queued",
            holder: str | None = None, priority: int = 0) -> str:
        nonlocal seq
        seq += 1
        tid = f"{level[0].upper() if level != 'testgroup' else 'G'}-{seq}"
        rows.append((tid, seq, level, f"{level} {seq}", parent, priority, status, holder,
                     now, now))
        return tid

    groups: list[str] = []
    for _e in range(10):
        e = add("epic", None, "running")
        for _f in range(10):
            f = add("feature", e, "running")
            groups.extend(add("testgroup", f, "running") for _g in range(10))
    n_cases = 6 * len(groups)
    n_steps = n_tasks - seq - n_cases
    cases: list[tuple[str, str]] = []
    for g in groups:
        for _c in range(6):
            r = rng.random()
            status, holder = ("succeeded", None) if r < 0.6 else ("queued", None)
            if 0.6 <= r < 0.62:
                status, holder = "running", rng.choice(sessions)
            cases.append((add("case", g, status, holder, rng.randrange(10)), status))
    for i in range(n_steps):
        case_id, status = cases[i % len(cases)]
        add("step", case_id, "succeeded" if status == "succeeded" else "queued")
    conn.executemany("INSERT INTO tasks(id, seq, level, title, parent, priority, status,"
                     " holder, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    ids = [c for c, _s in cases]
    deps: set[tuple[str, str]] = set()
    while len(deps) < 2000:
        a, b = sorted(rng.sample(range(len(ids)), 2))
        deps.add((ids[a], ids[b]))
    conn.executemany("INSERT INTO deps(blocker, blocked) VALUES (?, ?)", sorted(deps))
    return [c for c, s in cases if s == "queued"]


def timeit(fn: Callable[[], Any], rounds: int) -> list[float]:
    for _ in range(5):
        fn()
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(n_tasks: int = 20000, rounds: int = 50) -> dict[str, Any]:
    from orch_core.api import dispatch as api
    from orch_core.state.context import Context

    with workdir("orch-bench-resume-") as base:
        repo = base / "repo"
        repo.mkdir()
        make_repo(repo, 200)
        orch(repo, "install")
        wt = base / "wt"
        git(repo, "worktree", "add", "-q", "-b", "work", str(wt))
        ctx = Context(cwd=wt, env={})
        others = [api.call(ctx, "session.open", {"owner": f"agent-{i}", "bind": False,
                                                 "ttl": 3600 if i % 2 else 1}
                           )["session_id"] for i in range(20)]
        time.sleep(1.1)  # half of the other sessions are now interrupted
        with ctx.store.write("bench", "bench.seed") as conn:
            queued = seed(conn, n_tasks, ctx.now(), others)
        count = ctx.store.conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
        me = api.call(ctx, "session.open", {"owner": "bench", "bind": True})["session_id"]
        idle = api.call(ctx, "session.open", {"owner": "idle", "bind": False})["session_id"]
        case = api.call(ctx, "plan.ready", {"limit": 1})["ready"][0]["id"]
        steps = [api.call(ctx, "task.create", {"level": "step", "title": f"s{i}",
                                               "parent": case})["id"] for i in range(3)]
        api.call(ctx, "case.begin", {"id": case, "locks": ["src/pkg000/"]})
        api.call(ctx, "step.check", {"id": steps[0]})
        (wt / "src/pkg000/mod000.py").write_text("VALUE = 1\n")
        git(wt, "commit", "-qam", "checkpoint")
        sql = ctx.store.conn

        t_base = timeit(lambda: sql.execute(BASELINE_SQL).fetchall(), rounds)
        t_busy = timeit(lambda: api.call(ctx, "resume.next", {"session": me}), rounds)
        t_idle = timeit(lambda: api.call(ctx, "resume.next", {"session": idle}), rounds)
        t_ready = timeit(lambda: api.call(ctx, "plan.ready", {}), rounds)
        check = api.call(ctx, "resume.next", {"session": me})
        assert check["case"]["id"] == case and check["last_checkpoint"] is not None
        assert api.call(ctx, "resume.next", {"session": idle})["ready"] is not None
        ctx.close()

    b50 = median(t_base)
    figures: list[Figure] = [
        figure("tasks in the plan", count, "tasks"),
        figure("queued cases", len(queued), "cases"),
        figure("baseline: bare SQLite query p50", ms(b50), "ms"),
    ]
    for name, xs in (("resume.next (case in progress) p50", t_busy),
                     ("resume.next (no case: next ready) p50", t_idle),
                     ("plan.ready (50 cases) p50", t_ready)):
        p50 = median(xs)
        figures.append(figure(name, ms(p50), "ms", f"< {BUDGET_MS:g} ms",
                              ms(p50) < BUDGET_MS))
        figures.append(figure(name.replace("p50", "p95"), ms(percentile(xs, 95)), "ms"))
        figures.append(figure(name.replace("p50", "/ baseline"),
                              round(p50 / b50, 1) if b50 else 0.0, "x"))
    return report(f"resume and ready on {count:,} tasks (in-process)", figures)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    a = ap.parse_args()
    result = main(a.tasks, a.rounds)
    if a.json:
        print(json.dumps(result, indent=2))
