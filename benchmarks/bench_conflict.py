"""The conflict check alone: ``n_paths`` staged paths against ``n_locks`` locks.

Times :class:`orch_core.locks.table.LockIndex` (build reported separately from the
check) against a baseline measured in the same run: a plain dict membership loop
over the same paths (the least any per-path check can cost). Budget
(docs/ARCHITECTURE.md, "Performance budgets"): the check under 100 ms for
10,000 paths and 100,000 locks. Then a brute-force
oracle (:func:`orch_core.locks.table.conflicts` over every lock) must agree with the
index on a random sample of the big run and on small random tables dense with
overlaps (prefix and file locks, shared and exclusive, expired leases, case
folding).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Figure, figure, median, ms, report
from orch_core.locks.table import EXCLUSIVE, SHARED, Lock, LockIndex, conflicts

BUDGET_MS = 100.0
NOW = 1_700_000_000.0


def make_lock(i: int, path: str, session: str, mode: str = EXCLUSIVE,
              expires: float = NOW + 3600) -> Lock:
    return Lock(id=f"L-{i:08x}", path=path, mode=mode, session=session, owner=session,
                task=None, acquired_at=NOW - 60, expires_at=expires, ttl=3600)


def big_table(n_locks: int, n_paths: int, seed: int = 7) -> tuple[list[Lock], list[str]]:
    """A repo-like tree: 5-deep paths, one lock in 20 a prefix, some shared/expired.

    About one staged path in ten is covered by a lock of another session.
    """
    rng = random.Random(seed)

    def path(depth: int) -> str:
        parts = [f"d{rng.randrange(8)}", f"m{rng.randrange(40)}", f"p{rng.randrange(60)}"]
        return "/".join(parts[:depth])

    locks: list[Lock] = []
    for i in range(n_locks):
        session = f"s-{i % 50:02d}"
        mode = SHARED if i % 7 == 0 else EXCLUSIVE
        expires = NOW - 1 if i % 13 == 0 else NOW + 3600
        if i % 20 == 0:
            p = path(rng.choice((2, 3))) + f"/x{rng.randrange(10)}/"
        else:
            p = path(3) + f"/f{i}.py"
        locks.append(make_lock(i, p, session, mode, expires))
    file_locks = [lk.path for lk in locks if not lk.is_prefix]
    staged: list[str] = []
    for _ in range(n_paths):
        if rng.random() < 0.05:
            staged.append(rng.choice(file_locks))
        else:
            staged.append(path(3) + f"/x{rng.randrange(12)}/g{rng.randrange(10**6)}.py")
    return locks, staged


def oracle(locks: list[Lock], path: str, session: str, now: float, mode: str = EXCLUSIVE,
           ignore_case: bool = False) -> set[str]:
    return {lk.id for lk in locks
            if lk.live(now) and conflicts(path, mode, session, lk, ignore_case)}


def agree(index: LockIndex, locks: list[Lock], paths: list[str], session: str,
          now: float, mode: str = EXCLUSIVE) -> list[str]:
    """Paths where the index and the brute-force oracle disagree (empty = agree)."""
    bad: list[str] = []
    for p in paths:
        got = {lk.id for lk in index.blockers(p, mode, session, now)}
        if got != oracle(locks, p, session, now, mode, index.ignore_case):
            bad.append(p)
    return bad


def small_random_cases(cases: int, seed: int = 11) -> tuple[int, int, list[str]]:
    """Dense random tables: returns (checks, checks with a conflict, disagreements)."""
    rng = random.Random(seed)
    names = ["a", "b", "A", "c.py", "B"]
    checks = hits = 0
    bad: list[str] = []

    def rand_path() -> str:
        p = "/".join(rng.choice(names) for _ in range(rng.randint(1, 3)))
        return p + "/" if rng.random() < 0.3 else p

    for _ in range(cases):
        ignore_case = rng.random() < 0.3
        locks = [make_lock(i, rand_path(), f"s{rng.randrange(3)}",
                           rng.choice((EXCLUSIVE, SHARED)),
                           NOW + rng.choice((-5, 0, 5, 3600)))
                 for i in range(rng.randint(0, 12))]
        index = LockIndex(locks, ignore_case)
        for _ in range(10):
            p, s, m = rand_path(), f"s{rng.randrange(3)}", rng.choice((EXCLUSIVE, SHARED))
            checks += 1
            want = oracle(locks, p, s, NOW, m, ignore_case)
            hits += bool(want)
            if {lk.id for lk in index.blockers(p, m, s, NOW)} != want:
                bad.append(f"{p!r} {m} by {s} (ignore_case={ignore_case})")
    return checks, hits, bad


def main(n_locks: int = 100_000, n_paths: int = 10_000, repeats: int = 5,
         oracle_sample: int = 20, small_cases: int = 300) -> dict[str, Any]:
    locks, staged = big_table(n_locks, n_paths)
    builds: list[float] = []
    checks: list[float] = []
    bases: list[float] = []
    found: dict[str, list[Lock]] = {}
    index = LockIndex([])
    for _ in range(repeats):
        t0 = time.perf_counter()
        index = LockIndex(locks)
        t1 = time.perf_counter()
        found = index.check(staged, "s-committer", NOW)
        t2 = time.perf_counter()
        # Baseline: one dict membership per staged path, the floor of any per-path check.
        held = {lk.path: lk for lk in locks}
        t3 = time.perf_counter()
        plain = [p for p in staged if p in held]
        t4 = time.perf_counter()
        builds.append(t1 - t0)
        checks.append(t2 - t1)
        bases.append(t4 - t3)
    check_ms, base_ms = ms(median(checks)), ms(median(bases))
    sample = random.Random(3).sample(staged, min(oracle_sample, len(staged)))
    sample += random.Random(4).sample(sorted(found), min(oracle_sample // 2, len(found)))
    t0 = time.perf_counter()
    bad_big = agree(index, locks, sample, "s-committer", NOW)
    oracle_s = time.perf_counter() - t0
    n_small, small_hits, bad_small = small_random_cases(small_cases)
    for b in (bad_big + bad_small)[:10]:
        print(f"  !! index and oracle disagree on {b}")
    print(f"  {len(found)} of {n_paths} staged paths blocked ({len(plain)} exact-path hits); "
          f"oracle: {len(sample)} sampled paths x {n_locks} locks in {oracle_s:.1f} s, "
          f"{n_small} small random checks ({small_hits} with a conflict)")
    figs: list[Figure] = [
        figure(f"conflict: LockIndex build, {n_locks:,} locks", ms(median(builds)), "ms"),
        figure(f"conflict: check {n_paths:,} paths against {n_locks:,} locks", check_ms, "ms",
               f"< {BUDGET_MS:g} ms", check_ms < BUDGET_MS),
        figure("conflict: baseline dict lookup loop, same paths", base_ms, "ms"),
        figure("conflict: check / baseline", round(check_ms / max(base_ms, 1e-3), 1), "x"),
        figure("conflict: paths blocked", len(found), "paths"),
        figure("conflict: index vs brute-force oracle disagreements",
               len(bad_big) + len(bad_small), "count", "= 0", not bad_big and not bad_small),
    ]
    return report("bench_conflict", figs)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locks", type=int, default=100_000)
    ap.add_argument("--paths", type=int, default=10_000)
    ns = ap.parse_args()
    res = main(n_locks=ns.locks, n_paths=ns.paths)
    sys.exit(0 if all(f["ok"] for f in res["figures"]) else 1)
