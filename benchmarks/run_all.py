"""Run every ``benchmarks/bench_*.py`` and print one table of figures against budgets.

Each module exposes ``main() -> {"figures": [{"name", "value", "unit", "budget",
"ok"}]}`` (see benchmarks/common.py). Exit status 1 when a figure is over budget or
a benchmark failed. ``make bench`` runs this file.

    python benchmarks/run_all.py                 # all of them
    python benchmarks/run_all.py commit locks    # bench_commit.py and bench_locks.py
    python benchmarks/run_all.py --json out.json # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent))

from benchmarks.common import Figure, figure, table  # noqa: E402

# Latency benchmarks first: the stress and crash runs leave the machine busy for a
# while (killed processes' children, page cache), which would tax the figures after
# them. Anything not listed runs after these, in name order.
FIRST = ("bench_startup", "bench_conflict", "bench_commit", "bench_everyday", "bench_locks",
         "bench_server",
         "bench_resume", "bench_takeover", "bench_merge")


def _order(name: str) -> tuple[int, str]:
    return (FIRST.index(name) if name in FIRST else len(FIRST), name)


def discover(only: list[str]) -> list[str]:
    names = sorted((p.stem for p in HERE.glob("bench_*.py")), key=_order)
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} "
                             f"(have: {', '.join(names)})")
        names = [n for n in names if n in wanted]
    return names


def run_one(name: str) -> tuple[list[Figure], float]:
    t0 = time.monotonic()
    try:
        mod = importlib.import_module(f"benchmarks.{name}")
        out: dict[str, Any] = mod.main()
        figs = list(out["figures"])
    except Exception as e:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        figs = [figure(f"{name}: did not run ({type(e).__name__}: {e})", 0, "", "runs",
                       False)]
    return figs, time.monotonic() - t0


def summary(results: list[tuple[str, list[Figure], float]]) -> str:
    rows: list[list[Any]] = []
    for name, figs, secs in results:
        rows.append([f"[{name}, {secs:.0f} s]", "", "", ""])
        for f in figs:
            value = f"{_value(f['value'])} {f.get('unit', '')}".rstrip()
            budget = f.get("budget") or ""
            within = ("yes" if f["ok"] else "NO") if budget else "-"
            rows.append([f"  {f['name']}", value, budget, within])
    return table(rows, ["figure", "value", "budget", "within budget"])


def _value(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int) or (float(v).is_integer() and abs(v) >= 100):
        return f"{int(v):,}"
    return f"{v:,.2f}"


SETTLE_SECONDS = 3.0


def settle() -> None:
    """Let the previous benchmark's disk writeback finish before the next one starts.

    Each lock change writes a few loose objects and renames a ref; right after a
    run that wrote thousands of them, those writes queue behind writeback and the
    next latency figure measures the disk, not orch-hooks.
    """
    os.sync()
    time.sleep(SETTLE_SECONDS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the orch-hooks benchmarks.")
    ap.add_argument("only", nargs="*", help="benchmark names (commit, locks, ...)")
    ap.add_argument("--json", metavar="PATH", help="write every figure to PATH as JSON")
    ns = ap.parse_args(argv)
    results: list[tuple[str, list[Figure], float]] = []
    for i, name in enumerate(discover(ns.only)):
        if i:
            settle()
        print(f"\n### {name}", flush=True)
        figs, secs = run_one(name)
        results.append((name, figs, secs))
    print("\n== all benchmarks (ratios are against a baseline measured in the same run)")
    print(summary(results))
    over = [f["name"] for _n, figs, _s in results for f in figs if not f["ok"]]
    print(f"\n{sum(len(f) for _n, f, _s in results)} figures, "
          f"{len(over)} over budget or failed" + (f": {'; '.join(over)}" if over else ""))
    if ns.json:
        Path(ns.json).write_text(json.dumps(
            {name: {"seconds": secs, "figures": figs} for name, figs, secs in results},
            indent=2))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
