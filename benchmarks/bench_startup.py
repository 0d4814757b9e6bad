"""Start-up of the CLI, one process per call, as an agent with a shell pays it.

On a copy of sample_repo/ with the hooks installed and one session open, times
``python -c pass`` (the baseline: the interpreter alone), ``orch-hooks --help``,
``orch-hooks lock check PATH`` (a free path), and ``orch-hooks lock acquire
PATH`` followed by ``lock release PATH``. Every round runs each command once, in
an order that alternates between rounds (the acquire always before its
release), so drift and noise hit all of them alike; figures are medians, of
wall time (the budgets) and of CPU time (less sensitive to a shared machine's load).
Budgets (docs/ARCHITECTURE.md, performance budgets): --help <= 35 ms,
lock check <= 45 ms, lock acquire and lock release <= 60 ms each, all measured
on the same machine in the same run as the baseline, which is printed beside
them. Each figure also appears minus the baseline: what orch-hooks itself adds.

The three lock commands run without click (orch_core/cli/lockfront.py), `lock
check` of a free path from the hook index alone (orch_core/cli/quickcheck.py), and a
one-shot write commits ``refs/orch/locks`` with git plumbing processes instead
of importing pygit2 (orch_core/git/odb.py); the servers keep the in-process
path (bench_server.py).

The package is byte-compiled first (an installed wheel is; an editable
install under PYTHONDONTWRITEBYTECODE would otherwise compile every module on
every call).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    ORCH,
    ROOT,
    Figure,
    Sample,
    figure,
    git,
    median,
    ms,
    report,
    workdir,
)

BUDGETS_MS = {"orch-hooks --help": 35.0, "lock check": 45.0, "lock acquire": 60.0,
              "lock release": 60.0}


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return Sample(dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))


def _compile_package() -> None:
    import orch_core

    compileall.compile_dir(str(Path(orch_core.__file__).parent), quiet=1)


def main(rounds: int = 31, warmup: int = 3) -> dict[str, Any]:
    _compile_package()
    with workdir("orch-bench-startup-") as base:
        repo = base / "repo"
        shutil.copytree(ROOT / "sample_repo", repo, ignore=shutil.ignore_patterns(".git"))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial import")
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([ORCH, "install"], cwd=repo, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        out = subprocess.run([ORCH, "session", "open", "--owner", "bench", "--no-bind",
                              "--json"], cwd=repo, env=env, check=True,
                             stdout=subprocess.PIPE).stdout
        env["ORCH_SESSION"] = json.loads(out)["session_id"]
        free = "src/web/index.html"
        simple: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "orch-hooks --help": [ORCH, "--help"],
            "lock check": [ORCH, "lock", "check", free],
        }
        pair = {"lock acquire": [ORCH, "lock", "acquire", "docs/"],
                "lock release": [ORCH, "lock", "release", "docs/"]}
        times: dict[str, list[Sample]] = {name: [] for name in [*simple, *pair]}
        for r in range(warmup + rounds):
            names = [*simple, "pair"]
            if r % 2:
                names.reverse()
            for name in names:
                if name == "pair":
                    for pname, cmd in pair.items():
                        dt = _timed(cmd, repo, env)
                        if r >= warmup:
                            times[pname].append(dt)
                else:
                    dt = _timed(simple[name], repo, env)
                    if r >= warmup:
                        times[name].append(dt)
    def wall(name: str) -> float:
        return ms(median([t.wall for t in times[name]]))

    def cpu(name: str) -> float:
        return ms(median([t.cpu for t in times[name]]))

    base_ms = wall("python -c pass")
    figures: list[Figure] = [figure("python -c pass (baseline)", base_ms, "ms")]
    for name, budget in BUDGETS_MS.items():
        value = wall(name)
        figures.append(figure(name, value, "ms", f"<= {budget:g} ms", value <= budget))
    for name in BUDGETS_MS:
        figures.append(figure(f"{name} minus baseline", round(wall(name) - base_ms, 2), "ms"))
    # CPU time (user + system of the process and its git children) is less sensitive
    # to other processes on a shared machine than wall time.
    figures.append(figure("python -c pass, CPU time (baseline)", cpu("python -c pass"), "ms"))
    for name in BUDGETS_MS:
        figures.append(figure(f"{name}, CPU time minus baseline",
                              round(cpu(name) - cpu("python -c pass"), 2), "ms"))
    return report(f"CLI start-up, one process per call, median of {rounds} rounds", figures)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=31)
    ns = ap.parse_args()
    main(rounds=ns.rounds)
