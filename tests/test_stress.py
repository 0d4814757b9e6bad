"""A shortened stress run in the suite, the checker catching forged history, and
regressions for the bugs the stress run found.

The run (benchmarks/stress.py): 5 agent processes for 4 s, each in its own
worktree with its own session, locking, committing through the hooks,
requesting, reviewing and landing; then the independent checker replays
refs/orch/locks, refs/orch/queue, refs/notes/orch, the events table and the
reflog of main. It must find zero violations and real activity. Then history
is forged one way at a time and the checker must say so each time.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import stress
from benchmarks.common import sealed_env
from orch_core.api import dispatch as api
from orch_core.errors import Busy
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import worktree as gitworktree
from orch_core.locks import service as locks
from orch_core.locks.table import EXCLUSIVE, Lock, serialise
from orch_core.merge import queue as q
from orch_core.state.context import Context
from testing.repos import git
from tests.merge.test_landing import approved_branch
from tests.merge.test_queue import setup_repo


@pytest.fixture(scope="module")
def stress_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("stress")
    with sealed_env(base / "home"):
        stress.run(base, procs=5, duration=4.0, seed=3)
        res = stress.check(base)
    yield base, res


def test_short_stress_run_holds_every_invariant(stress_run: tuple[Path, dict[str, Any]],
                                                ) -> None:
    _base, res = stress_run
    stress.print_report(res)
    assert {k: v for k, v in res["violations"].items() if v} == {}
    assert res["ok"]
    c = res["counts"]
    # Non-trivial activity: commits through the hooks, landings, refusals of each kind.
    assert c["commits"] >= 5 and c["lock grants"] >= 5
    assert c["merge requests"] >= 2 and c["reviews"] >= 1
    assert c["landings"] >= 1
    refused = (c["lock conflicts refused"] + c["self-reviews refused"]
               + c["commits refused by the hooks (paths locked by others)"])
    assert refused >= 1
    assert c["lock-ref commits replayed"] > 0 and c["queue-ref commits replayed"] > 0
    figs = stress.figures(res)
    assert all(f["ok"] for f in figs) and any(f["budget"] == "= 0" for f in figs)


def _recheck(base: Path, category: str) -> list[str]:
    with sealed_env(base / "home"):
        res = stress.check(base)
    assert not res["ok"]
    found: list[str] = res["violations"][category]
    return found


def test_checker_catches_forged_history(stress_run: tuple[Path, dict[str, Any]]) -> None:
    base, _res = stress_run
    repo = base / "repo"
    rows = dict(stress.read_results(base))
    commits = [r["oid"] for rs in rows.values() for r in rs if r["op"] == "commit" and r["ok"]]
    # 1. A checkpoint note removed.
    git(repo, "notes", "--ref=orch", "remove", commits[0])
    found = _recheck(base, "commits without their checkpoint note")
    assert any(commits[0][:12] in v for v in found), found
    # 2. A conflicting lease forged onto the lock table.
    ctx = Context(cwd=repo, env={})
    try:
        tip = gitrefs.ref_tip(ctx.pg, locks.REF)
        live, _w = locks.snapshot(ctx).locks, None
        far = time.time() + 3600
        forged = [*live,
                  Lock("L-forged1", "src/shared/f01.py", EXCLUSIVE, "s-one", "x", None, 0, far, 60),
                  Lock("L-forged2", "src/shared/", EXCLUSIVE, "s-two", "y", None, 0, far, 60)]
        new = gitobjects.write_snapshot(ctx.pg, {"locks.jsonl": serialise(forged)}, tip, "forged")
        gitrefs.cas_ref(ctx.pg, locks.REF, new, tip, "forged")
    finally:
        ctx.close()
    found = _recheck(base, "conflicting live leases / missing grants / lock history")
    assert any("L-forged1" in v and "L-forged2" in v for v in found), found
    # The forged commit has no event: the ref/event tie notices too.
    assert any(new[:12] in v for v in _recheck(base, "db_version / events"))
    # 3. A gap in the events (the table refuses updates and deletes, not inserts).
    db = repo / ".git" / "orch" / "state.db"
    with sqlite3.connect(db) as conn:
        top = conn.execute("SELECT max(db_version) FROM events").fetchone()[0]
        conn.execute("INSERT INTO events(db_version, ts, actor, kind, data) "
                     "VALUES (?, 0, 'forger', 'forged', '{}')", (top + 2,))
    found = _recheck(base, "db_version / events")
    assert any("gap" in v for v in found), found
    # 4. main moved outside the queue (hooks bypassed, as a libgit2 tool could).
    # (Compared by commit, not by history length: two histories can be as long.)
    before = git(repo, "rev-parse", "refs/heads/main").stdout.strip()
    git(repo, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", commits[-1])
    after = git(repo, "rev-parse", "refs/heads/main").stdout.strip()
    assert after == commits[-1] != before
    found = _recheck(base, "main moves not in queue order or not tested")
    assert any("without a landed queue entry" in v for v in found), found


# -- regressions found by the stress run ---------------------------------------------


def test_dirty_check_does_not_rewrite_the_index(tmp_path: Path) -> None:
    """`git status` refreshes and rewrites the index (taking index.lock); in the worktree
    that has main checked out that raced the lander's own `git merge --ff-only`."""
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "a")
    later = time.time() + 30
    os.utime(repo / "a.txt", (later, later))  # stat data now stale, content the same
    index = repo / ".git" / "index"
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    assert gitworktree.dirty(repo) == []
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before


def test_land_while_another_lander_holds_the_lock_is_merge_locked(tmp_path: Path) -> None:
    """The worktree with main checked out is transiently dirty while the lock holder
    fast-forwards it: a second lander must hear 'merge_locked', not 'stash your changes'."""
    repo = setup_repo(tmp_path / "repo", checks=["true"])
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    ctx = Context(cwd=repo, env={})
    try:
        def hold(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
            from dataclasses import replace

            lease = q.Lease(token="other", holder="other-lander", pid=os.getpid(),
                            host=socket.gethostname(), entry="Q-1", acquired_at=now,
                            expires_at=now + 60)
            return replace(state, lease=lease), "merge lock taken by another lander", {}

        q.mutate(ctx, "test", "merge.lock", hold)
        (repo / "README.md").write_text("mid fast-forward\n")
        with pytest.raises(Busy) as err:
            api.call(ctx, "merge.main.land", {})
        assert err.value.code == "merge_locked"
    finally:
        ctx.close()
