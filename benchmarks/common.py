"""Shared benchmark helpers: sealed temp repos, paired timing, medians, one table format.

Every benchmark module exposes ``main(**sizes) -> {"figures": [...]}``; each figure is
``{"name", "value", "unit", "budget", "ok"}`` where ``budget`` is a human string
("<= 2.5x", "< 100 ms") or "" for an informational figure (``ok`` is then True).
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch-hooks")

Figure = dict[str, Any]


def figure(name: str, value: float, unit: str, budget: str = "", ok: bool = True) -> Figure:
    return {"name": name, "value": value, "unit": unit, "budget": budget, "ok": bool(ok)}


# -- environment -----------------------------------------------------------------------

_SEALED_DROP = ("ORCH_SESSION", "ORCH_CLOCK_OFFSET", "GIT_DIR", "GIT_WORK_TREE",
                "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY")


@contextlib.contextmanager
def sealed_env(home: Path) -> Iterator[dict[str, str]]:
    """HOME and git config in ``home``, fixed identities; restores os.environ after.

    Benchmarks call orch_core in-process for set-up, so the process environment
    itself is sealed (not only the children's) while a benchmark runs.
    """
    saved = dict(os.environ)
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench User\n\temail = bench@example.com\n"
        "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    for var in _SEALED_DROP:
        os.environ.pop(var, None)
    os.environ.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bench Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Bench Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_EDITOR": "false",
    })
    try:
        yield dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory with a sealed environment inside it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        base = Path(tmp)
        with sealed_env(base / "home"):
            yield base


# -- repositories ----------------------------------------------------------------------

def run(cwd: Path, *args: str, input: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(args), cwd=cwd, input=input, capture_output=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    return run(cwd, "git", *args, input=input).stdout.decode(errors="surrogateescape")


def orch(cwd: Path, *args: str) -> str:
    return run(cwd, ORCH, *args).stdout.decode()


def file_layout(n_files: int, per_dir: int = 40) -> list[str]:
    """``src/pkgNN/modMMM.py`` paths, ``per_dir`` to a directory."""
    return [f"src/pkg{i // per_dir:03d}/mod{i % per_dir:03d}.py" for i in range(n_files)]


def make_repo(path: Path, n_files: int, per_dir: int = 40) -> list[str]:
    """A repository of ``n_files`` small files with one commit on main; returns the paths."""
    paths = file_layout(n_files, per_dir)
    for rel in paths:
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"# {rel}\nVALUE = 0\n")
    (path / "README.md").write_text("benchmark repository\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial import")
    return paths


# -- timing ----------------------------------------------------------------------------

def paired(a: Callable[[], float], b: Callable[[], float], rounds: int,
           warmup: int = 2) -> tuple[list[float], list[float]]:
    """Alternate A and B (ABBA order) so drift and noise hit both sides alike.

    Each callable returns the seconds it measured itself (set-up excluded).
    """
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for r in range(rounds):
        if r % 2 == 0:
            ta.append(a())
            tb.append(b())
        else:
            tb.append(b())
            ta.append(a())
    return ta, tb


class Sample(NamedTuple):
    """One measured run: wall-clock seconds and the CPU seconds (user + system) of
    every process it started and waited for (hooks included: git waits for them)."""

    wall: float
    cpu: float


def run_sample(cwd: Path, *cmds: Sequence[str], env: dict[str, str] | None = None,
               ) -> Sample:
    """Run ``cmds`` one after the other; a command that fails raises."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for cmd in cmds:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} in {cwd} failed: "
                               f"{proc.stderr.decode(errors='replace').strip()}")
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Sample(wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))


def paired_samples(a: Callable[[], Sample], b: Callable[[], Sample], rounds: int,
                   warmup: int = 2) -> tuple[list[Sample], list[Sample]]:
    """:func:`paired` for runs that measure wall and CPU time (ABBA order)."""
    for _ in range(warmup):
        a()
        b()
    sa: list[Sample] = []
    sb: list[Sample] = []
    for r in range(rounds):
        if r % 2 == 0:
            sa.append(a())
            sb.append(b())
        else:
            sb.append(b())
            sa.append(a())
    return sa, sb


def pair_ratio(sa: Sequence[Sample], sb: Sequence[Sample], field: str) -> float:
    """The median of the per-pair ratios A/B of ``field`` ("wall" or "cpu").

    Each A run is divided by the B run next to it in time, so a burst of load
    from other processes hits both sides of a ratio; the median drops the pairs
    a burst hit on one side only.
    """
    ratios = [getattr(x, field) / getattr(y, field) for x, y in zip(sa, sb, strict=True)
              if getattr(y, field) > 0]
    return median(ratios)


def processes(cwd: Path, *cmds: Sequence[str]) -> int | None:
    """How many programs ``cmds`` start (successful execve calls, counted by strace),
    or None without strace. A count, unlike a time, does not depend on the load."""
    import shutil
    import tempfile

    strace = shutil.which("strace")
    if strace is None:
        return None
    n = 0
    with tempfile.TemporaryDirectory(prefix="orch-bench-strace-") as tmp:
        out = Path(tmp) / "trace"
        for cmd in cmds:
            proc = subprocess.run([strace, "-f", "-qq", "-e", "trace=execve", "-o", str(out),
                                   *cmd], cwd=cwd, capture_output=True)
            if proc.returncode != 0:
                return None
            n += sum(1 for line in out.read_text(errors="replace").splitlines()
                     if "execve(" in line and line.rstrip().endswith("= 0"))
    return n


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def percentile(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 100]."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(q / 100.0 * (len(s) - 1))))
    return float(s[k])


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


# -- output ----------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[_fmt(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i == 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def figures_table(figures: Sequence[Figure]) -> str:
    rows = []
    for f in figures:
        within = ("yes" if f["ok"] else "NO") if f.get("budget") else "-"
        rows.append([f["name"], f["value"], f.get("unit", ""), f.get("budget", ""), within])
    return table(rows, ["figure", "value", "unit", "budget", "within budget"])


def report(title: str, figures: Sequence[Figure]) -> dict[str, Any]:
    print(f"\n== {title}")
    print(figures_table(figures))
    return {"figures": list(figures)}
