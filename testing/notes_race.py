"""Amends racing commits: does every write of refs/notes/orch keep the notes before it?

Two worktrees amend their tip in a loop while a third commits; every commit and
amend writes a checkpoint note, and an amend also carries notes from the old commit
to the new one. A writer that rebuilds the notes tree from a stale read and moves
the ref without checking its old value drops the notes written in between: the
history of ``refs/notes/orch`` then shows a note deleted that nothing meant to
delete. Used by ``tests/work/test_notes_race.py`` (short) and
``benchmarks/bench_notes_race.py`` (long).
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path
from typing import Any

from testing.repos import add_worktree, git, open_session


def _loop(kind: str, rounds: int, go: Path, other: str) -> str:
    """A shell loop of ``rounds`` amends or commits (one file changed each time).

    Every other amend is made by a second session of the same owner, so the new
    commit's checkpoint differs from the old one's and carrying the old note over
    is a real write (identical notes make git's copy a no-op).
    """
    commit = "git commit -q --amend --no-edit" if kind == "amend" else "git commit -q -m c$i"
    return (f'while [ ! -e "{go}" ]; do sleep 0.001; done; i=0; '
            f'while [ $i -lt {rounds} ]; do i=$((i+1)); '
            f'if [ $((i % 2)) = 0 ]; then export ORCH_SESSION={other}; '
            f'else unset ORCH_SESSION; fi; '
            f'echo "$i" > {kind}.txt && git add {kind}.txt && {commit} || exit 1; done')


def race(repo: Path, rounds: int, amenders: int = 2, committers: int = 1) -> dict[str, Any]:
    """Run the race in ``repo`` (installed); returns what was lost and what was done."""
    procs: list[tuple[Path, subprocess.Popen[bytes]]] = []
    go = repo.parent / "GO-notes-race"
    workers: list[tuple[str, Path, str]] = []
    for i in range(amenders + committers):
        kind = "amend" if i < amenders else "commit"
        wt = add_worktree(repo, f"race-{kind}-{i}")
        open_session(wt, f"racer-{i}", "--bind")
        sid = open_session(wt, f"racer-{i}")
        if kind == "amend":
            (wt / "amend.txt").write_text("0\n")
            git(wt, "add", "amend.txt")
            git(wt, "commit", "-q", "-m", f"amended by worker {i}")
        workers.append((kind, wt, sid))
    for kind, wt, other in workers:
        procs.append((wt, subprocess.Popen(["sh", "-c", _loop(kind, rounds, go, other)], cwd=wt,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    time.sleep(0.2)
    go.touch()
    errors: list[str] = []
    for wt, p in procs:
        _out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            errors.append(f"{wt.name}: exit {p.returncode}: {err.decode(errors='replace')}")
    reachable = git(repo, "rev-list", *(f"refs/heads/{wt.name}" for _k, wt, _s in workers),
                    "^main").stdout.split()
    noted = {line.split()[1] for line in
             git(repo, "notes", "--ref=orch", "list").stdout.splitlines() if line.strip()}
    return {"errors": errors, "dropped": dropped_notes(repo),
            "unnoted": sorted(set(reachable) - noted), "reachable": len(reachable),
            "notes_commits": int(git(repo, "rev-list", "--count",
                                     "refs/notes/orch").stdout.strip())}


def dropped_notes(repo: Path, ref: str = "refs/notes/orch") -> list[tuple[str, str]]:
    """(value of ``ref``, annotated object) for every note a move of ``ref`` removed.

    Read from the ref's reflog, not its history: a writer that built on a stale tip
    makes a commit whose parent is that tip, so the value it replaced is in no
    commit's history, only in the reflog. The notes tree may change its fan-out
    (``ab/cdef...``) as it grows, which shows as a deletion and an addition of the
    same object: only objects that lost their note altogether count.
    """
    values = git(repo, "reflog", "show", "--format=%H", ref).stdout.split()
    values.reverse()  # oldest first
    pairs = "".join(f"{new} {old}\n" for old, new in itertools.pairwise(values) if old != new)
    out = git(repo, "diff-tree", "--stdin", "-r", "--no-renames", "--no-abbrev",
              input=pairs).stdout
    dropped: list[tuple[str, str]] = []
    commit = ""
    gone: set[str] = set()
    came: set[str] = set()

    def flush() -> None:
        dropped.extend((commit, obj) for obj in sorted(gone - came))

    for line in out.splitlines():
        if line.startswith(":"):
            meta, _tab, path = line.partition("\t")
            obj = path.replace("/", "")
            status = meta.split()[-1]
            if status == "D":
                gone.add(obj)
            elif status == "A":
                came.add(obj)
        elif line.strip():
            flush()
            commit, gone, came = line.split()[0], set(), set()
    flush()
    return dropped
