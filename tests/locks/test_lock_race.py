"""Real processes racing for locks, and writers SIGKILLed mid-operation.

The race: 16 processes with their own sessions take and release overlapping
prefix/file, exclusive/shared locks for a few seconds; then every commit of
refs/orch/locks is replayed (testing.audit) and no state may hold two
conflicting live leases, and every grant a worker was told about must be there.

The kills: a worker loops acquire/release and is SIGKILLed at a random moment,
again and again; after each kill the next acquire must succeed, `doctor` must be
healthy (after `--fix` where needed) and SQLite's integrity_check must say ok.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks.bench_crash import LOCK_ZYGOTE
from benchmarks.bench_locks import RACE_PATHS, new_repo, open_sessions, race
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.hooks import doctor as hookdoctor
from orch_core.hooks import installer
from orch_core.locks import service as locks
from orch_core.locks.table import EXCLUSIVE, SHARED, Lock
from orch_core.state.context import Context
from orch_core.work import sessions
from testing import audit
from testing.repos import ORCH


def test_sixteen_processes_race_without_conflicting_grants(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    new_repo(repo)
    out = race(repo, n_procs=16, duration=3.0)
    assert out["errors"] == [] and out["exit_codes"] == [0] * 16
    au = out["audit"]
    assert au["violation_count"] == 0, au["violations"]
    assert au["missing_grant_count"] == 0, au["missing_grants"]
    assert au["problems"] == []
    assert au["ok"]
    # The race really contended: locks were granted and conflicting requests refused.
    assert out["grants"] > 16 and out["refused"] > 16
    assert au["commits"] >= out["released"] + 1


def _lock(i: int, path: str, session: str, mode: str, expires: float) -> Lock:
    return Lock(id=f"L-{i}", path=path, mode=mode, session=session, owner=session,
                task=None, acquired_at=0, expires_at=expires, ttl=60)


def test_audit_catches_conflicting_state_and_missing_grant(tmp_path: Path) -> None:
    """The checker is not vacuous: a forged conflicting table is reported."""
    from orch_core.locks.table import serialise

    repo = tmp_path / "repo"
    new_repo(repo)
    ctx = Context(cwd=repo, env={})
    try:
        far = time.time() + 3600
        good = [_lock(1, "src/", "s-a", SHARED, far), _lock(2, "src/x.py", "s-b", SHARED, far)]
        # An expired lease conflicting with a live one is fine (the commit time decides).
        stale = [*good, _lock(3, "src/y.py", "s-c", EXCLUSIVE, time.time() - 10)]
        bad = [*good, _lock(4, "src/api/", "s-c", EXCLUSIVE, far)]
        tip = None
        for table in (good, stale, bad):
            files = {"locks.jsonl": serialise(table)}
            new = gitobjects.write_snapshot(ctx.pg, files, tip, "forged")
            gitrefs.cas_ref(ctx.pg, locks.REF, new, tip, "forged")
            tip = new
        ghost = audit.Grant("L-99", "src/z.py", EXCLUSIVE, "s-z")
        report = audit.verify_lock_history(ctx.repo, grants=[audit.Grant("L-2", "src/x.py",
                                                                         SHARED, "s-b"), ghost])
    finally:
        ctx.close()
    assert report.commits == 3
    assert {(v.a.id, v.b.id) for v in report.violations} == {("L-1", "L-4")}
    assert report.missing_grants == [ghost]
    assert not report.ok


# The zygote (a warm parent forking one acquire/release child per trial, SIGKILLed
# after a random delay) is shared with the crash run in benchmarks/bench_crash.py.
ZYGOTE = LOCK_ZYGOTE


def _healthy(ctx: Context) -> tuple[bool, list[str]]:
    rep = hookdoctor.doctor(ctx)
    fixed = False
    if not rep["healthy"]:
        rep = hookdoctor.doctor(ctx, fix=True)
        fixed = True
    bad = [f"{f['check']}: {f['detail']}" for f in rep["findings"]
           if not (f["ok"] or f["fixed"])]
    return rep["healthy"] and not bad, bad + (["(after --fix)"] if fixed else [])


def _integrity(repo: Path) -> str:
    db = repo / ".git" / "orch" / "state.db"
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_sigkill_during_acquire_release_recovers(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A kill inside the ref transaction leaves <ref>.lock for the stale age to clear
    # (5 s in production); shortened so the trials stay quick.
    monkeypatch.setattr(gitrefs, "STALE_GIT_LOCK_SECONDS", 1.0)
    repo = tmp_path / "repo"
    new_repo(repo)
    ctx = Context(cwd=repo, env={})
    installer.install(ctx)
    ctx.close()
    victim, other = open_sessions(repo, 2, "kill")
    zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(repo), victim, *RACE_PATHS],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert zygote.stdin is not None and zygote.stdout is not None
    trials = 24
    fixes = 0
    try:
        for trial in range(trials):
            zygote.stdin.write(f"{trial}\n")
            zygote.stdin.flush()
            _pid, status = zygote.stdout.readline().split()
            assert os.WIFSIGNALED(int(status)) and os.WTERMSIG(int(status)) == signal.SIGKILL
            left = gitrefs.loose_ref_lock_path(gitrepo.discover(repo), locks.REF).exists()
            t0 = time.monotonic()
            c = Context(cwd=repo, env={})
            try:
                # The killed session picks up where it was: its own paths again.
                mine = locks.acquire(c, sessions.get(c, victim), list(RACE_PATHS), ttl=600)
                assert len(mine["locks"]) == len(RACE_PATHS)
                theirs = locks.acquire(c, sessions.get(c, other), [f"elsewhere/{trial}.py"])
                locks.release(c, sessions.get(c, other), [theirs["locks"][0]["id"]])
                locks.release_where(c, "test", "reset after kill",
                                    lambda lk: lk.session == victim)
                ok, bad = _healthy(c)
                assert ok, f"trial {trial}: doctor not healthy: {bad}"
                fixes += bool(bad)
                print(f"trial {trial}: ref lock left {left}, recovered in "
                      f"{time.monotonic() - t0:.2f} s, doctor {bad or 'healthy'}")
            finally:
                c.close()
            assert _integrity(repo) == "ok"
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=10)
        zygote.stdout.close()
    assert trials >= 20
    au = audit.verify_lock_history(gitrepo.discover(repo))
    assert au.ok, au.summary()
    # Besides the 4 commits per trial made here, the killed children wrote their own.
    assert au.commits > trials * 4 + trials
    # The real console script agrees.
    env = dict(os.environ)
    proc = subprocess.run([ORCH, "doctor", "--json"], cwd=repo, capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        proc = subprocess.run([ORCH, "doctor", "--fix", "--json"], cwd=repo,
                              capture_output=True, text=True, env=env)
    report = json.loads(proc.stdout)
    assert all(f["ok"] or f["fixed"] for f in report["findings"]), report


KILLED_IN_TRANSACTION = textwrap.dedent("""
    import sys, time
    import pygit2
    pg = pygit2.Repository(sys.argv[1])
    with pg.transaction() as txn:
        txn.lock_ref(sys.argv[2])
        print("locked", flush=True)
        time.sleep(60)
""")


def test_writer_killed_inside_ref_transaction_does_not_wedge_locks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL between taking <ref>.lock and committing leaves the .lock file behind."""
    monkeypatch.setattr(gitrefs, "STALE_GIT_LOCK_SECONDS", 0.5)
    repo = tmp_path / "repo"
    new_repo(repo)
    sid, other = open_sessions(repo, 2)
    ctx = Context(cwd=repo, env={})
    try:
        installer.install(ctx)
        locks.acquire(ctx, sessions.get(ctx, sid), ["src/"])
        proc = subprocess.Popen([sys.executable, "-c", KILLED_IN_TRANSACTION,
                                 str(repo / ".git"), locks.REF], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        assert gitrefs.loose_ref_lock_path(ctx.repo, locks.REF).exists()
        got = locks.acquire(ctx, sessions.get(ctx, other), ["docs/"])
        assert got["paths"] == ["docs/"]
        assert not gitrefs.loose_ref_lock_path(ctx.repo, locks.REF).exists()
        ok, bad = _healthy(ctx)
        assert ok, bad
    finally:
        ctx.close()
    assert _integrity(repo) == "ok"
    assert audit.verify_lock_history(gitrepo.discover(repo)).ok
