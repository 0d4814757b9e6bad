"""One-shot ``orch-hooks lock acquire`` / ``lock release``: one process per call, as an
agent with a shell makes them, against ``python -c pass`` measured in the same run.

A one-shot command writes ``refs/orch/locks`` with git plumbing processes instead
of importing pygit2 (orch_core/git/odb.py); the servers keep the in-process path
(bench_server.py). Budget (docs/ARCHITECTURE.md, performance): 60 ms per call.

    python benchmarks/bench_lockcli.py --rounds 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ORCH, Figure, figure, make_repo, median, ms, report, workdir

BUDGET_MS = 60.0


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')}")
    return took


def main(rounds: int = 15, n_files: int = 200) -> dict[str, Any]:
    with workdir("orch-bench-lockcli-") as base:
        repo = base / "repo"
        repo.mkdir()
        make_repo(repo, n_files)
        subprocess.run([ORCH, "install"], cwd=repo, check=True, capture_output=True)
        opened = subprocess.run([ORCH, "session", "open", "--owner", "bench", "--json"],
                                cwd=repo, check=True, capture_output=True)
        env = dict(os.environ, ORCH_SESSION=json.loads(opened.stdout)["session_id"])
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure what an installed package costs
        base_t: list[float] = []
        acquire: list[float] = []
        release: list[float] = []
        for i in range(rounds + 1):
            path = f"src/bench{i:03d}/"
            b = _timed([sys.executable, "-c", "pass"], repo, env)
            a = _timed([ORCH, "lock", "acquire", path], repo, env)
            r = _timed([ORCH, "lock", "release", path], repo, env)
            if i:  # the first round writes the bytecode caches
                base_t.append(b)
                acquire.append(a)
                release.append(r)
    figures: list[Figure] = [figure("python -c pass p50 (baseline)", ms(median(base_t)), "ms")]
    for name, xs in (("lock acquire", acquire), ("lock release", release)):
        p50 = ms(median(xs))
        figures.append(figure(f"orch-hooks {name} p50", p50, "ms", f"<= {BUDGET_MS:g} ms",
                              p50 <= BUDGET_MS))
    return report("one-shot lock commands", figures)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    main(a.rounds)
