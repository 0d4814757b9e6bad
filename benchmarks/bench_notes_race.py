"""Long run of amends racing commits: 0 checkpoint notes lost.

Two worktrees amend their tip in a loop while a third commits (testing/notes_race.py,
the short run is ``tests/work/test_notes_race.py``). Every write of refs/notes/orch
goes through orch's one writer lock, git's copy of an amended or rebased commit's
note included; a lost note shows in the ref's reflog as a note a later write
dropped, and a commit on a branch without its note.

    python benchmarks/bench_notes_race.py --rounds 400
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import figure, workdir


def main(rounds: int = 300) -> dict[str, Any]:
    from testing.notes_race import race
    from testing.repos import make_repo

    with workdir("orch-notes-race-") as base:
        repo = make_repo(base / "repo")
        t0 = time.monotonic()
        out = race(repo, rounds=rounds)
        seconds = time.monotonic() - t0
    lost = len(out["dropped"]) + len(out["unnoted"])
    ops = rounds * 3
    return {"figures": [
        figure(f"notes lost in {ops} racing amends and commits", lost, "notes", "0",
               lost == 0 and not out["errors"]),
        figure("racing amends and commits, time", round(seconds, 1), "s"),
    ], "errors": out["errors"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    res = main(ap.parse_args().rounds)
    for f in res["figures"]:
        print(f"{f['name']}: {f['value']} {f['unit']}" + ("" if f["ok"] else "  (OVER BUDGET)"))
    sys.exit(0 if all(f["ok"] for f in res["figures"]) else 1)
