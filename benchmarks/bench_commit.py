"""A commit with every orch hook installed against the same commit with no hooks.

Repo A: ``orch-hooks install`` (the real shims), ``n_sessions`` other sessions
holding ``n_locks`` live locks (one prefix lock each, the rest file locks, some
shared), and the committing session bound to the worktree holding none of the
staged paths. Repo B: an identical repository without hooks. Each round stages
the same ``n_staged`` changed files in both and times only ``git commit``,
alternating A and B (ABBA). Budget (docs/ARCHITECTURE.md, "Performance
budgets"): median A <= 2.5x median B.

A second, instrumented pass runs the same commit through logging wrappers around
each shim (and around the Python interpreter the shims start) to show where the
time goes: invocations per commit, milliseconds per hook, and how many commits
took the shell fast path versus Python.
"""

from __future__ import annotations

import argparse
import random
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    Figure,
    figure,
    file_layout,
    git,
    make_repo,
    median,
    ms,
    paired,
    report,
    table,
    workdir,
)

BUDGET_RATIO = 2.5
HOOKS = ("pre-commit", "post-commit", "reference-transaction")


def plan(n_files: int, n_locks: int, n_sessions: int, n_staged: int, per_dir: int,
         ) -> tuple[list[list[tuple[str, bool]]], list[str]]:
    """Per session its (path, shared) locks, and the staged paths (locked by nobody)."""
    paths = file_layout(n_files, per_dir)
    dirs = sorted({p.rsplit("/", 1)[0] for p in paths})
    if len(dirs) <= n_sessions:
        raise ValueError("need more directories than sessions")
    prefix_dirs = dirs[:n_sessions]
    pool = [p for p in paths if p.rsplit("/", 1)[0] not in prefix_dirs]
    random.Random(2).shuffle(pool)
    n_file_locks = n_locks - n_sessions
    if n_staged + n_file_locks > len(pool):
        raise ValueError("not enough files for the locks and the staged paths")
    staged = sorted(pool[:n_staged])
    locked = pool[n_staged:n_staged + n_file_locks]
    per: list[list[tuple[str, bool]]] = [[(d + "/", False)] for d in prefix_dirs]
    for i, p in enumerate(locked):
        per[i % n_sessions].append((p, i % 5 == 4))  # every fifth file lock shared
    return per, staged


def setup_hooked(repo: Path, per_session: list[list[tuple[str, bool]]]) -> str:
    """Install, open the sessions, take the locks; return the committer's session id.

    In-process calls of what `orch-hooks install`, `session open` and `lock acquire`
    run (the same shims get written); it keeps set-up fast and independent of the CLI.
    """
    from orch_core.hooks import installer
    from orch_core.locks import service as locks
    from orch_core.state.context import Context
    from orch_core.work import sessions

    ctx = Context(cwd=repo, env={})
    try:
        installer.install(ctx)
        for i, wanted in enumerate(per_session):
            sess, _ = sessions.open_session(ctx, f"agent-{i:02d}", "new_work", 86400,
                                            bind=False)
            for shared in (False, True):
                batch = [p for p, s in wanted if s == shared]
                if batch:
                    locks.acquire(ctx, sess, batch, shared=shared, ttl=86400)
        me, bound = sessions.open_session(ctx, "committer", "new_work", 86400, bind=True)
        assert bound
        return me.id
    finally:
        ctx.close()


def live_locks(repo: Path) -> int:
    from orch_core.locks import service as locks
    from orch_core.state.context import Context

    ctx = Context(cwd=repo, env={})
    try:
        return len(locks.listing(ctx)["locks"])
    finally:
        ctx.close()


def _stage(repo: Path, staged: list[str], n: int) -> None:
    for rel in staged:
        (repo / rel).write_text(f"# {rel}\nVALUE = {n}\n")
    git(repo, "add", "--", *staged)


def _commit(repo: Path, n: int, extra: tuple[str, ...] = ()) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(["git", *extra, "commit", "-q", "-m", f"round {n}"], cwd=repo,
                          capture_output=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"commit in {repo} failed: {proc.stderr.decode(errors='replace')}")
    return dt


def instrument(repo: Path, logdir: Path) -> Path:
    """A hooks dir whose shims log their own wall time and every Python start."""
    hooks = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
                 .strip())
    idir = logdir / "hooks"
    real = idir / "real"
    real.mkdir(parents=True)
    log = logdir / "hooks.log"
    pywrap = logdir / "python"
    pywrap.write_text(f"#!/bin/sh\necho \"python $4 ${5:-}\" >> {shlex.quote(str(log))}\n"
                      f"exec {shlex.quote(sys.executable)} \"$@\"\n")
    pywrap.chmod(0o755)
    for hook in HOOKS:
        text = (hooks / hook).read_text()
        old = f"ORCH_PY={shlex.quote(sys.executable)}"
        assert old in text, f"unexpected shim header in {hook}"
        (real / hook).write_text(text.replace(old, f"ORCH_PY={shlex.quote(str(pywrap))}"))
        (real / hook).chmod(0o755)
        (idir / hook).write_text(
            "#!/bin/sh\n"
            "t0=$(date +%s%N)\n"
            f"{shlex.quote(str(real / hook))} \"$@\"\n"
            "rc=$?\n"
            f"echo \"hook {hook} ${{1:-}} $t0 $(date +%s%N) $rc\" >> {shlex.quote(str(log))}\n"
            "exit $rc\n")
        (idir / hook).chmod(0o755)
    return idir


def hook_profile(repo: Path, staged: list[str], rounds: int, start: int,
                 logdir: Path) -> dict[str, Any]:
    """Per-hook invocations and time over ``rounds`` instrumented commits."""
    idir = instrument(repo, logdir)
    log = logdir / "hooks.log"
    per_hook: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = defaultdict(int)
    pythons: dict[str, int] = defaultdict(int)
    fast_commits = 0
    totals: list[float] = []
    for r in range(rounds):
        _stage(repo, staged, start + r)
        log.write_text("")
        totals.append(_commit(repo, start + r, ("-c", f"core.hooksPath={idir}")))
        started = set()
        for line in log.read_text().splitlines():
            f = line.split()
            if f[0] == "python":
                who = f[1] if f[1] != "reference-transaction" else f"{f[1]} {f[2]}"
                pythons[who] += 1
                started.add(who)
            elif f[0] == "hook":
                name = f[1] if f[1] != "reference-transaction" else f"{f[1]} {f[2]}"
                calls[name] += 1
                per_hook[name].append((int(f[-2]) - int(f[-3])) / 1e9)
        if "pre-commit" not in started and "post-commit" not in started:
            fast_commits += 1
    rows = []
    for name in sorted(calls):
        rows.append([name, calls[name] / rounds, ms(median(per_hook[name])),
                     ms(sum(per_hook[name]) / rounds),
                     pythons.get(name, 0)])
    print(f"  instrumented pass ({rounds} commits; each wrapper adds ~2 date(1) forks):")
    print("  " + table(rows, ["hook", "calls/commit", "median ms/call", "ms/commit",
                              "python starts"]).replace("\n", "\n  "))
    return {"fast_commits": fast_commits, "rounds": rounds, "pythons": dict(pythons),
            "median_total": median(totals), "calls": dict(calls)}


def main(n_files: int = 2000, n_locks: int = 1000, n_sessions: int = 20,
         n_staged: int = 50, rounds: int = 40, profile_rounds: int = 10,
         per_dir: int = 40) -> dict[str, Any]:
    per_session, staged = plan(n_files, n_locks, n_sessions, n_staged, per_dir)
    with workdir("orch-bench-commit-") as base:
        a, b = base / "hooked", base / "bare"
        a.mkdir()
        b.mkdir()
        for repo in (a, b):
            make_repo(repo, n_files, per_dir)
            # Agents commit on their own branch; main is protected (only the lander moves it).
            git(repo, "checkout", "-q", "-b", "agent/work")
        committer = setup_hooked(a, per_session)
        n_live = live_locks(a)
        counter = [0]

        def run_a() -> float:
            counter[0] += 1
            _stage(a, staged, counter[0])
            return _commit(a, counter[0])

        def run_b() -> float:
            counter[0] += 1
            _stage(b, staged, counter[0])
            return _commit(b, counter[0])

        ta, tb = paired(run_a, run_b, rounds)
        ma, mb = median(ta), median(tb)
        ratio = ma / mb
        # Every hooked commit must carry its checkpoint note, by the committer.
        notes = git(a, "notes", "--ref=orch", "list").splitlines()
        head_note = git(a, "notes", "--ref=orch", "show", "HEAD")
        if len(notes) < rounds or committer not in head_note:
            raise RuntimeError(f"post-commit did not stamp: {len(notes)} notes for "
                               f"{rounds}+ commits; HEAD note {head_note!r}")
        # The hooks really enforce these locks: a commit touching one is refused.
        victim = per_session[0][1][0] if len(per_session[0]) > 1 else per_session[0][0][0]
        victim = victim if not victim.endswith("/") else victim + "mod000.py"
        (a / victim).write_text("# clobbered\n")
        git(a, "add", "--", victim)
        refused = subprocess.run(["git", "commit", "-q", "-m", "clobber"], cwd=a,
                                 capture_output=True)
        git(a, "reset", "-q", "HEAD", "--", victim)
        git(a, "checkout", "-q", "--", victim)
        if refused.returncode == 0:
            raise RuntimeError(f"commit of locked {victim} was accepted")
        prof = hook_profile(a, staged, profile_rounds, counter[0] + 1, base)

    figs: list[Figure] = [
        figure("commit: bare repo, median", ms(mb), "ms"),
        figure(f"commit: orch hooks, {n_live} live locks / {n_sessions} sessions, "
               f"{n_staged} staged, median", ms(ma), "ms"),
        figure("commit: hooked / bare (paired median)", round(ratio, 2), "x",
               f"<= {BUDGET_RATIO}x", ratio <= BUDGET_RATIO),
        figure("commit: shell fast path taken (pre-commit and post-commit)",
               prof["fast_commits"], f"of {prof['rounds']}"),
        figure("commit: Python starts per commit",
               round(sum(prof["pythons"].values()) / prof["rounds"], 2), "count"),
    ]
    for name, n in sorted(prof["calls"].items()):
        figure_name = f"commit: {name} invocations per commit"
        figs.append(figure(figure_name, round(n / prof["rounds"], 2), "count"))
    print(f"  rounds {rounds} (ABBA); hooked {[ms(x) for x in sorted(ta)[:3]]}.. "
          f"bare {[ms(x) for x in sorted(tb)[:3]]}.. (fastest, ms)")
    return report("bench_commit", figs)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--locks", type=int, default=1000)
    ns = ap.parse_args()
    res = main(n_files=ns.files, n_locks=ns.locks, rounds=ns.rounds)
    sys.exit(0 if all(f["ok"] for f in res["figures"]) else 1)
