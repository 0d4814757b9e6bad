"""Everyday git on a real repository, with the orch hooks against without them.

Two clones of ``../shared/fixtures/click.bundle`` (pallets/click, 3,329 commits):
A has the native install, a session bound to its worktree and, for every row but
the first, 10 live locks held by ANOTHER session (on files the rows do not touch);
B is an identical clone without hooks. Each row runs the same command in both,
alternating A and B (ABBA), and compares the medians of wall time (the budgets)
and of CPU time (user + system of every process the command started and waited
for, hooks included: less sensitive to other processes on a shared machine), and
counts the programs one run of each side starts (strace, when installed: a count
does not depend on the load).

A third clone, C, has a hook at every name the install uses, each one an empty
shell script (`exit 0`): what git itself costs by starting a hook program at each
of those points, whatever the hook does. Its ratio C/B is the floor under the
ratio A/B of any hook set at those names; A/C is what orch-hooks adds on top of it.
C is measured in the same rounds, its order rotating with A and B.
Budgets (issue 10):

    commit of one file (10 locks by others)      <= 2.0x
    commit of one file, no locks by others       <= 1.5x
    `git switch a && git switch b`               <= 1.3x
    `git restore FILE`                           <= 1.2x
    rebase of a 20-commit branch                 <= 1.5x
    `git stash && git stash pop`                 <= 1.3x
    push of a branch to a bare remote            <= +100 ms

The pre-commit framework route (``.pre-commit-hooks.yaml``) is reported as an
informational figure when the framework is installed: a commit through it against
the same commit in B.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    BIN,
    ROOT,
    Figure,
    Sample,
    figure,
    git,
    median,
    ms,
    paired,
    processes,
    report,
    run_sample,
    table,
    workdir,
)

BUNDLE = ROOT / ".." / "shared" / "fixtures" / "click.bundle"
# Files the rows below never change: the other session's locks sit on these.
N_LOCKS = 10
REBASE_COMMITS = 20
PLUGIN_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "orch_core", "hooks",
                "sample_repo")


def bundle_path() -> Path | None:
    path = BUNDLE.resolve()
    return path if path.is_file() else None


def _run(cwd: Path, cmd: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} in {cwd} failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")


# While a row's programs are counted (_count), _timed runs its commands under strace.
_COUNTING: list[int | None] = []


def _timed(cwd: Path, *cmds: list[str]) -> Sample:
    if _COUNTING:
        _COUNTING[-1] = processes(cwd, *cmds)
        return Sample(0.0, 0.0)
    return run_sample(cwd, *cmds)


def _count(row: Row, a: Callable[[], Sample], b: Callable[[], Sample]) -> None:
    """One more run of each side, counting the programs it starts (a count does not
    depend on the load of a shared machine)."""
    found: list[int | None] = []
    for side in (a, b):
        _COUNTING.append(None)
        try:
            side()
        finally:
            found.append(_COUNTING.pop())
    row.procs = (found[0], found[1])


def _empty_hooks(hooked: Path, floor: Path) -> list[str]:
    """Give ``floor`` an empty hook at every name ``hooked`` has an executable hook."""
    names = sorted(p.name for p in (hooked / ".git" / "hooks").iterdir()
                   if p.is_file() and os.access(p, os.X_OK) and "." not in p.name)
    for name in names:
        path = floor / ".git" / "hooks" / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return names


def _prepare(repo: Path, remote: Path, bundle: Path) -> None:
    """Clone, a bare remote holding main, and the branches the rows use."""
    git(repo.parent, "clone", "-q", str(bundle), str(repo))
    git(remote.parent, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "bench", str(remote))
    git(repo, "push", "-q", "bench", "main")
    git(repo, "branch", "side", "main~40")


def _make_feature(repo: Path, base: str, n: int, tag: str) -> None:
    """A branch ``feat`` of ``n`` commits on ``base``, each adding one file; its tip is
    also kept as ``feat-orig`` so every rebase round starts from the same commits."""
    git(repo, "switch", "-q", "-c", "feat", base)
    for i in range(n):
        path = repo / "bench" / f"f{i:02d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{tag} {i}\n")
        git(repo, "add", "--", str(path.relative_to(repo)))
        git(repo, "commit", "-q", "-m", f"feature step {i}")
    git(repo, "branch", "feat-orig")
    git(repo, "switch", "-q", "-c", "work", "main")


def _quiet_files(repo: Path, n: int) -> list[str]:
    """Files unchanged between ``side`` and ``main`` (a switch between them does not
    touch them), to lock for the other session."""
    changed = set(git(repo, "diff", "--name-only", "side", "main").split())
    files = [f for f in git(repo, "ls-files", "src/click").split() if f not in changed]
    if len(files) < n:
        files += [f for f in git(repo, "ls-files", "tests").split() if f not in changed]
    return files[:n]


def _setup_hooked(repo: Path) -> tuple[str, str]:
    """The native install, a bound session (me) and an unbound other session."""
    from orch_core.hooks import installer
    from orch_core.state.context import Context
    from orch_core.work import resume, sessions

    ctx = Context(cwd=repo, env={})
    try:
        installer.install(ctx)
        other, _ = sessions.open_session(ctx, "other", "new_work", 86400, bind=False)
        me, bound = sessions.open_session(ctx, "me", "new_work", 86400, bind=True)
        assert bound
        resume.ack(ctx, sessions.get(ctx, me.id))  # no resume hint pending
        return me.id, other.id
    finally:
        ctx.close()


def _lock_for(repo: Path, session: str, paths: list[str]) -> int:
    from orch_core.locks import service as locks
    from orch_core.state.context import Context
    from orch_core.work import sessions

    ctx = Context(cwd=repo, env={})
    try:
        locks.acquire(ctx, sessions.get(ctx, session), paths, shared=False, ttl=86400)
        return len([lk for lk in locks.listing(ctx)["locks"] if lk["session"] == session])
    finally:
        ctx.close()


class Row:
    """One everyday command: medians of wall and CPU time with hooks (a) and without
    (b), and the programs one run starts on each side."""

    def __init__(self, name: str, budget: str, limit: float, additive: bool = False) -> None:
        self.name, self.budget, self.limit, self.additive = name, budget, limit, additive
        self.a = self.b = self.c = self.cpu_a = self.cpu_b = self.cpu_c = 0.0
        self.procs: tuple[int | None, int | None] = (None, None)

    @property
    def cpu_ratio(self) -> float:
        return round(self.cpu_a / self.cpu_b, 2) if self.cpu_b else float("inf")

    def figures(self) -> list[Figure]:
        """The row's budget figure; its CPU-time ratio and program counts ride along
        as extra fields (printed in this benchmark's own table, kept by --json)."""
        if self.additive:
            extra = ms(self.a - self.b)
            fig = figure(f"{self.name}: hooks add", extra, "ms", self.budget,
                         extra <= self.limit)
        else:
            ratio = round(self.a / self.b, 2) if self.b else float("inf")
            fig = figure(f"{self.name}: hooked / bare", ratio, "x", self.budget,
                         ratio <= self.limit)
        fig["cpu_ratio"] = self.cpu_ratio
        fig["programs"] = list(self.procs)
        if self.additive:
            floor = figure(f"  floor, empty hooks: {self.name}: hooks add", ms(self.c - self.b),
                           "ms")
        else:
            floor = figure(f"  floor, empty hooks: {self.name}: empty / bare",
                           round(self.c / self.b, 2) if self.b else float("inf"), "x")
        return [fig, floor]


def _triple(a: Callable[[], Sample], b: Callable[[], Sample], c: Callable[[], Sample],
            rounds: int, warmup: int = 2) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Samples of three sides, the order of the three rotating from round to round."""
    sides = (a, b, c)
    for _ in range(warmup):
        for side in sides:
            side()
    out: tuple[list[Sample], list[Sample], list[Sample]] = ([], [], [])
    orders = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0), (1, 0, 2), (0, 2, 1))
    for r in range(rounds):
        for i in orders[r % len(orders)]:
            out[i].append(sides[i]())
    return out


def _pair(row: Row, a: Callable[[], Sample], b: Callable[[], Sample],
          c: Callable[[], Sample], rounds: int) -> None:
    sa, sb, sc = _triple(a, b, c, rounds)
    row.a, row.b, row.c = (median([s.wall for s in x]) for x in (sa, sb, sc))
    row.cpu_a, row.cpu_b, row.cpu_c = (median([s.cpu for s in x]) for x in (sa, sb, sc))
    _count(row, a, b)


def main(rounds: int = 21, rebase_rounds: int = 9, framework: bool = True,
         bundle: Path | None = None) -> dict[str, Any]:
    src = bundle or bundle_path()
    if src is None:
        raise RuntimeError(f"the click bundle is missing ({BUNDLE}); see "
                           f"../shared/fixtures/README.md")
    with workdir("orch-bench-everyday-") as base:
        a, b, c = base / "hooked", base / "bare", base / "empty-hooks"
        for repo in (a, b, c):
            _prepare(repo, base / f"{repo.name}-remote.git", src)
        me, other = _setup_hooked(a)
        _empty_hooks(a, c)
        for repo in (a, b, c):
            _make_feature(repo, "main~25", REBASE_COMMITS, repo.name)
        quiet = _quiet_files(a, N_LOCKS)
        rows: list[Row] = []
        n = [0]

        def commit(repo: Path) -> Sample:
            n[0] += 1
            (repo / "README.md").write_text(f"bench round {n[0]}\n")
            git(repo, "add", "README.md")
            return _timed(repo, ["git", "commit", "-q", "-m", f"round {n[0]}"])

        row = Row("commit of one file, no locks by others", "<= 1.5x", 1.5)
        _pair(row, lambda: commit(a), lambda: commit(b), lambda: commit(c), rounds)
        rows.append(row)

        held = _lock_for(a, other, quiet)
        if held != N_LOCKS:
            raise RuntimeError(f"expected {N_LOCKS} locks of the other session, got {held}")

        row = Row(f"commit of one file ({N_LOCKS} locks by others)", "<= 2.0x", 2.0)
        _pair(row, lambda: commit(a), lambda: commit(b), lambda: commit(c), rounds)
        rows.append(row)

        row = Row("git switch a && git switch b", "<= 1.3x", 1.3)
        def switch(repo: Path) -> Sample:
            return _timed(repo, ["git", "switch", "-q", "side"], ["git", "switch", "-q", "work"])

        _pair(row, lambda: switch(a), lambda: switch(b), lambda: switch(c), rounds)
        rows.append(row)

        def restore(repo: Path) -> Sample:
            with open(repo / "CHANGES.md", "a") as fh:
                fh.write("local edit\n")
            return _timed(repo, ["git", "restore", "CHANGES.md"])

        row = Row("git restore FILE", "<= 1.2x", 1.2)
        _pair(row, lambda: restore(a), lambda: restore(b), lambda: restore(c), rounds)
        rows.append(row)

        def stash(repo: Path) -> Sample:
            with open(repo / "CHANGES.md", "a") as fh:
                fh.write("local edit\n")
            t = _timed(repo, ["git", "stash", "-q"], ["git", "stash", "pop", "-q"])
            git(repo, "restore", "CHANGES.md")
            return t

        row = Row("git stash && git stash pop", "<= 1.3x", 1.3)
        _pair(row, lambda: stash(a), lambda: stash(b), lambda: stash(c), rounds)
        rows.append(row)

        def rebase(repo: Path) -> Sample:
            git(repo, "switch", "-q", "-C", "rb", "feat-orig")
            t = _timed(repo, ["git", "rebase", "-q", "main"])
            git(repo, "switch", "-q", "work")
            return t

        row = Row(f"rebase of a {REBASE_COMMITS}-commit branch", "<= 1.5x", 1.5)
        _pair(row, lambda: rebase(a), lambda: rebase(b), lambda: rebase(c), rebase_rounds)
        rows.append(row)
        _check_notes(a, "rb", REBASE_COMMITS)

        def push(repo: Path) -> Sample:
            commit(repo)
            return _timed(repo, ["git", "push", "-q", "bench", "work"])

        row = Row("push of a branch to a bare remote", "<= +100 ms", 100.0, additive=True)
        _pair(row, lambda: push(a), lambda: push(b), lambda: push(c), rounds)
        rows.append(row)

        figs: list[Figure] = []
        for r in rows:
            figs += r.figures()
        if framework:
            figs += _framework(base, src, b, rounds)
        print(table([[r.name, ms(r.a), ms(r.b),
                      (f"+{ms(r.a - r.b)} ms" if r.additive else f"{r.a / r.b:.2f}x"),
                      ms(r.c),
                      (f"+{ms(r.c - r.b)} ms" if r.additive else f"{r.c / r.b:.2f}x"),
                      f"{ms(r.cpu_a)} / {ms(r.cpu_c)} / {ms(r.cpu_b)}", f"{r.cpu_ratio:.2f}x",
                      "-" if r.procs[0] is None else f"{r.procs[0]} / {r.procs[1]}",
                      r.budget] for r in rows],
                    ["everyday command (click clone)", "with hooks ms", "without ms",
                     "ratio", "empty hooks ms", "floor", "CPU ms (with/empty/without)",
                     "CPU ratio", "programs", "budget"]))
        _check_silent(a, me)
        return report("everyday git on a real repository (bench_everyday)", figs)


def _check_notes(repo: Path, branch: str, n: int) -> None:
    """After the rebase rounds, each rewritten commit carries exactly one note."""
    for oid in git(repo, "rev-list", f"-{n}", branch).split():
        note = subprocess.run(["git", "notes", "--ref=orch", "show", oid], cwd=repo,
                              capture_output=True, text=True)
        lines = [ln for ln in note.stdout.splitlines() if ln.strip()]
        if note.returncode != 0 or len(lines) != 1:
            raise RuntimeError(f"rebased commit {oid[:12]} carries {len(lines)} note lines")


def _check_silent(repo: Path, me: str) -> None:
    """The measured commands really ran the hooks and said nothing."""
    out = _run(repo, ["git", "switch", "side"]) + _run(repo, ["git", "switch", "work"])
    if "orch-hooks" in out:
        raise RuntimeError(f"a branch switch printed: {out!r}")
    if me not in git(repo, "notes", "--ref=orch", "show", "HEAD"):
        raise RuntimeError("the last commit has no checkpoint note of the bound session")


def _plugin_repo(base: Path) -> tuple[Path, str]:
    """This source tree as a git repository, the way the framework fetches a hook repo."""
    src = base / "orch-hooks-src"
    src.mkdir()
    for name in PLUGIN_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "snapshot")
    return src, git(src, "rev-parse", "HEAD").strip()


def _framework(base: Path, bundle: Path, bare: Path, rounds: int) -> list[Figure]:
    """A commit through the pre-commit framework (informational): the shell-entry hooks
    (``language: script``, the native fast path) and the ``language: python`` ones."""
    pc = BIN / "pre-commit"
    if not pc.exists():
        return []
    src, rev = _plugin_repo(base)
    env = {**os.environ, "PRE_COMMIT_HOME": str(base / "pre-commit-home"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    n = [1000]

    def commit(r: Path, e: dict[str, str] | None) -> float:
        n[0] += 1
        (r / "README.md").write_text(f"framework round {n[0]}\n")
        git(r, "add", "README.md")
        t0 = time.perf_counter()
        proc = subprocess.run(["git", "commit", "-q", "-m", f"round {n[0]}"], cwd=r,
                              capture_output=True, env=e)
        if proc.returncode != 0:
            raise RuntimeError(f"framework commit failed: {proc.stderr!r}")
        return time.perf_counter() - t0

    figs: list[Figure] = []
    for route, ids in (("language: script", ("orch-locks-sh", "orch-checkpoint-sh")),
                       ("language: python", ("orch-locks", "orch-checkpoint"))):
        repo = base / f"framework-{ids[0]}"
        git(base, "clone", "-q", str(bundle), str(repo))
        hooks = "".join(f"      - id: {i}\n" for i in ids)
        (repo / ".pre-commit-config.yaml").write_text(
            f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n{hooks}")
        try:
            _run(repo, [str(BIN / "orch-hooks"), "install"], env=env)
            for hook in ("pre-commit", "post-commit", "post-checkout", "pre-push",
                         "reference-transaction", "post-rewrite"):
                (repo / ".git" / "hooks" / hook).unlink(missing_ok=True)
            for stage in ("pre-commit", "post-commit"):
                _run(repo, [str(pc), "install", "--hook-type", stage], env=env)
            _run(repo, [str(pc), "install-hooks"], env=env)
        except RuntimeError as e:
            print(f"pre-commit framework route {route} not measured: {e}")
            continue
        git(repo, "switch", "-q", "-c", "work")
        git(repo, "add", ".pre-commit-config.yaml", ".orch.toml")
        _run(repo, ["git", "commit", "-q", "-m", "use orch-hooks through pre-commit"], env=env)
        def hooked(r: Path = repo) -> float:
            return commit(r, env)

        ta, tb = paired(hooked, lambda: commit(bare, None), max(3, rounds // 3))
        if '"session"' not in git(repo, "notes", "--ref=orch", "show", "HEAD"):
            raise RuntimeError(f"the framework route ({route}) wrote no checkpoint note")
        figs.append(figure(f"commit through the pre-commit framework ({route})",
                           ms(median(ta)), "ms"))
        figs.append(figure(f"  same commit without hooks (for {route})", ms(median(tb)),
                           "ms"))
    return figs


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--rebase-rounds", type=int, default=9)
    ap.add_argument("--no-framework", action="store_true")
    ns = ap.parse_args()
    out = main(rounds=ns.rounds, rebase_rounds=ns.rebase_rounds,
               framework=not ns.no_framework)
    sys.exit(0 if all(f["ok"] for f in out["figures"]) else 1)
