"""Remote mode through a real `git daemon` on loopback (docs/ARCHITECTURE.md, remote mode).

1. Latency: one long-running process (an agent's server) acquires and releases a
   file lock through the remote, over and over, with nobody else writing: p50 and
   p95 of each operation; the same through the console script (one process per
   call, as a shell agent runs it); 100 paths in one call against one path.
2. Race: 10 clones x 3 sessions, each a process of its own, for 30 s over
   overlapping paths and prefixes; then the remote's refs/orch/locks history is
   replayed by testing/audit.py: 0 conflicting live leases, 0 lost grants.
3. One path, 16 clients of different clones at once, 100 trials: exactly one
   winner each time.
4. Server hook: a push of a 50-file commit to a repository with 1,000 live locks
   of 20 sessions, with the orch server hook against the same repository
   without it (paired, ABBA): the hook's added time.

    python benchmarks/bench_remote.py [--duration 30] [--trials 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import remote_race
from benchmarks.common import (
    ORCH,
    Figure,
    figure,
    git,
    make_repo,
    median,
    ms,
    paired,
    percentile,
    report,
    workdir,
)

P50_BUDGET_MS = 100.0
P95_BUDGET_MS = 250.0
HOOK_BUDGET_MS = 50.0


def latency(spec: dict[str, Any], ops: int) -> dict[str, float]:
    from orch_core.state.context import Context
    from orch_core.work import stamp  # noqa: F401

    me = spec["workers"][0]
    ctx = Context(cwd=Path(me["clone"]), env={})
    acq: list[float] = []
    rel: list[float] = []
    many: list[float] = []
    one_call = [f"bulk/f{i:03d}.txt" for i in range(100)]
    remote_race._call(ctx, "lock.acquire", {"paths": ["warm/up"], "session": me["session"]})
    remote_race._call(ctx, "lock.release", {"targets": ["warm/up"], "session": me["session"]})
    for i in range(ops):
        t0 = time.perf_counter()
        remote_race._call(ctx, "lock.acquire", {"paths": [f"lat/f{i}.txt"],
                                                "session": me["session"]})
        acq.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        remote_race._call(ctx, "lock.release", {"targets": [f"lat/f{i}.txt"],
                                                "session": me["session"]})
        rel.append(time.perf_counter() - t0)
    for _ in range(max(5, ops // 5)):
        t0 = time.perf_counter()
        got = remote_race._call(ctx, "lock.acquire", {"paths": one_call,
                                                      "session": me["session"]})
        many.append(time.perf_counter() - t0)
        remote_race._call(ctx, "lock.release", {"targets": [lk["id"] for lk in got["locks"]],
                                                "session": me["session"]})
    ctx.close()
    cli: list[float] = []
    env_clone = Path(me["clone"])
    for i in range(max(5, ops // 5)):
        for verb in ("acquire", "release"):
            t0 = time.perf_counter()
            subprocess.run([ORCH, "--session", me["session"], "lock", verb, f"cli/f{i}.txt"],
                           cwd=env_clone, capture_output=True, check=True)
            cli.append(time.perf_counter() - t0)
    base = baseline_push(env_clone, ops)
    both = acq + rel
    return {"p50_push": median(base), "p50": median(both), "p95": percentile(both, 95),
            "p50_acquire": median(acq),
            "p50_release": median(rel), "p50_100": median(many), "p50_cli": median(cli),
            "p95_cli": percentile(cli, 95)}


def baseline_push(clone: Path, ops: int) -> list[float]:
    """The git work alone, in the same run: push a one-commit update of a ref with a
    lease on its old tip, through the same daemon (no orch code at all)."""
    ref = "refs/orch/bench-baseline"
    tree = git(clone, "rev-parse", "HEAD^{tree}").strip()
    old = ""
    times: list[float] = []
    for i in range(ops + 2):
        args = ["-p", old] if old else []
        new = git(clone, "commit-tree", tree, *args, "-m", f"baseline {i}").strip()
        t0 = time.perf_counter()
        git(clone, "push", "-q", "--atomic", "--porcelain", "--no-verify", "origin",
            f"--force-with-lease={ref}:{old}", f"{new}:{ref}")
        if i >= 2:
            times.append(time.perf_counter() - t0)
        old = new
    git(clone, "push", "-q", "--no-verify", "origin", f"--force-with-lease={ref}:{old}",
        f":{ref}")
    return times


def hook_overhead(base: Path, rounds: int) -> dict[str, float]:
    """Push a fresh 50-file commit to a served repository with the hook and to one
    without, 1,000 live locks of 20 sessions in both tables."""
    from orch_core.locks.table import Lock, blob_name, serialise
    from testing.gitdaemon import daemon, make_bare

    work = base / "hookwork"
    paths = make_repo(work, 2000)
    served = base / "hookserved"
    served.mkdir()
    with_hook = make_bare(served / "with.git")
    without = make_bare(served / "without.git")
    subprocess.run([ORCH, "server", "install", str(with_hook)], check=True,
                   capture_output=True)
    now = time.time()
    entries = []
    for s in range(20):
        sid = f"s-bench{s:02d}"
        held = [Lock(id=f"L-{s:02d}{i:04d}", path=paths[s * 50 + i], mode="exclusive",
                     session=sid, owner=f"agent{s}", task=None, acquired_at=now,
                     expires_at=now + 7200, ttl=7200) for i in range(50)]
        oid = git(work, "hash-object", "-w", "--stdin", input=serialise(held)).strip()
        entries.append(f"100644 blob {oid}\t{blob_name(sid)}\n")
    tree = git(work, "mktree", input="".join(entries).encode()).strip()
    table = git(work, "commit-tree", tree, "-m", "1,000 live locks").strip()
    touched = paths[1600:1650]
    with daemon(served) as d:
        urls = {"with": d.url(with_hook), "without": d.url(without)}
        for url in urls.values():
            git(work, "push", "-q", url, "main", f"{table}:refs/orch/locks")
        counter = [0]

        def push(which: str) -> float:
            counter[0] += 1
            for rel in touched:
                (work / rel).write_text(f"# {rel}\nVALUE = {counter[0]}\n")
            git(work, "add", "-A")
            git(work, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m",
                f"round {counter[0]}")
            t0 = time.perf_counter()
            git(work, "-c", "core.hooksPath=/dev/null", "push", "-q", urls[which],
                f"HEAD:refs/heads/b{counter[0]}")
            return time.perf_counter() - t0

        a, b = paired(lambda: push("with"), lambda: push("without"), rounds)
    return {"with": median(a), "without": median(b),
            "added": median([x - y for x, y in zip(a, b, strict=True)])}


def main(duration: float = 30.0, trials: int = 100, ops: int = 40,
         rounds: int = 20) -> dict[str, Any]:
    from testing.gitdaemon import daemon, make_bare

    with workdir("orch-bench-remote-") as base:
        hook = hook_overhead(base, rounds)
        (base / "served").mkdir()
        bare = make_bare(base / "served" / "team.git")
        with daemon(base / "served") as d:
            spec = remote_race.setup(base / "race", d.url(bare), bare, 10, 3)
            lat = latency(spec, ops)
            remote_race.race(spec, duration)
            res = remote_race.check(spec)
            one = remote_race.one_path(spec, 16, trials)
    exact = sum(1 for w in one["winners"] if w == 1)
    bad = res["violations"] + res["missing_grants"] + len(res["problems"])
    print(f"  race: {res['counts']} ; replayed {res['audit']['commits']} commits")
    print(f"  one path: winners per trial {one['winners']}")
    for v in res["problems"] + res["unexpected"] + one["errors"][:5]:
        print(f"  !! {v}")
    figs: list[Figure] = [
        figure("remote: acquire/release p50 (one process, git daemon)", ms(lat["p50"]), "ms",
               f"< {P50_BUDGET_MS:g} ms", ms(lat["p50"]) < P50_BUDGET_MS),
        figure("remote: acquire/release p95", ms(lat["p95"]), "ms",
               f"< {P95_BUDGET_MS:g} ms", ms(lat["p95"]) < P95_BUDGET_MS),
        figure("remote: baseline, a bare git push with a lease, p50 (same run)",
               ms(lat["p50_push"]), "ms"),
        figure("remote: acquire/release p50 / baseline push p50",
               round(lat["p50"] / lat["p50_push"], 2), "x"),
        figure("remote: acquire p50", ms(lat["p50_acquire"]), "ms"),
        figure("remote: release p50", ms(lat["p50_release"]), "ms"),
        figure("remote: console script lock acquire/release p50", ms(lat["p50_cli"]), "ms"),
        figure("remote: console script lock acquire/release p95", ms(lat["p95_cli"]), "ms"),
        figure("remote: 100 paths in one call / one path", round(
            lat["p50_100"] / lat["p50_acquire"], 2), "x", "<= 2x",
            lat["p50_100"] / lat["p50_acquire"] <= 2.0),
        figure(f"remote race 10 clones x 3 sessions, {duration:g} s: grants",
               res["counts"]["granted"], "locks"),
        figure("remote race: acquires refused (conflict)", res["counts"]["refused"], "count"),
        figure("remote race: conflicting live leases in the remote's history",
               res["violations"], "violations", "= 0", res["violations"] == 0),
        figure("remote race: lost grants, history problems, worker errors",
               bad - res["violations"] + len(res["unexpected"]), "count", "= 0",
               bad - res["violations"] + len(res["unexpected"]) == 0),
        figure(f"remote: one path, 16 clients, {trials} trials: exactly one winner",
               exact, "trials", f"= {trials}", exact == trials and not one["errors"]),
        figure("server hook: 50-file push, 1,000 live locks, added time (paired median)",
               ms(hook["added"]), "ms", f"<= {HOOK_BUDGET_MS:g} ms",
               ms(hook["added"]) <= HOOK_BUDGET_MS),
        figure("server hook: push with the hook (median)", ms(hook["with"]), "ms"),
        figure("server hook: push without it (median)", ms(hook["without"]), "ms"),
    ]
    return report("bench_remote", figs)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--ops", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    out = main(a.duration, a.trials, a.ops, a.rounds)
    sys.exit(0 if all(f["ok"] for f in out["figures"]) else 1)
