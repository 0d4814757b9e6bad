"""The one compare-and-swap loop (git/refs.py) and its two object stores (git/odb.py)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.bench_locks import new_repo, race
from orch_core.errors import Busy
from orch_core.git import odb as gitodb
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.locks import service as locks
from orch_core.merge import queue
from orch_core.state.context import Context
from orch_core.work import journal, sessions
from testing.repos import ORCH, git, open_session


def _lock_write(ctx: Context, sid: str, i: int) -> None:
    locks.acquire(ctx, sessions.get(ctx, sid), [f"src/stale{i}/"])


def _queue_write(ctx: Context, sid: str, i: int) -> None:
    queue.mutate(ctx, sid, "queue.test",
                 lambda st, now: (replace(st, seq=st.seq + 1), f"bump {i}", {"seq": st.seq + 1}))


def _journal_write(ctx: Context, sid: str, i: int) -> None:
    sessions.get(ctx, sid)
    with ctx.store.write(sid, "test.bump", {"i": i}):
        pass
    journal.sync(ctx)


WRITERS: dict[str, tuple[str, Callable[[Context, str, int], None]]] = {
    "locks": (locks.REF, _lock_write),
    "queue": (queue.REF, _queue_write),
    "work": (journal.REF, _journal_write),
}


@pytest.mark.parametrize("one_shot", [False, True], ids=["in-process", "plumbing"])
@pytest.mark.parametrize("which", sorted(WRITERS))
def test_a_stale_ref_lock_is_waited_out_and_recovered_on_every_orch_ref(
        repo: Path, monkeypatch: pytest.MonkeyPatch, which: str, one_shot: bool) -> None:
    """A writer SIGKILLed inside its ref update leaves ``<ref>.lock``; the next writer of
    refs/orch/queue (or work) waits for it to turn stale and removes it, as the lock
    table's writer does, instead of giving up after its retries (~1 s)."""
    stale_after = 2.0
    monkeypatch.setattr(gitrefs, "STALE_GIT_LOCK_SECONDS", stale_after)
    ref, write = WRITERS[which]
    sid = open_session(repo, "tester")
    ctx = Context(cwd=repo, env={}, one_shot=one_shot)
    try:
        write(ctx, sid, 0)  # the ref exists
        tip = gitrefs.read_ref_file(ctx.repo.common_dir, ref)
        assert tip is not None
        lock = gitrefs.loose_ref_lock_path(ctx.repo, ref)
        lock.write_text(f"{tip}\n")  # what `git update-ref` killed mid-update leaves
        t0 = time.monotonic()
        write(ctx, sid, 1)
        waited = time.monotonic() - t0
        assert not lock.exists()
        assert gitrefs.read_ref_file(ctx.repo.common_dir, ref) != tip
        assert waited >= stale_after - 0.1
        parents = git(repo, "rev-list", "--parents", "-n", "1", ref).stdout.split()
        assert parents[1:] == [tip]  # the new commit sits on the old tip: nothing lost
        assert isinstance(ctx.odb, gitodb.Plumbing) == one_shot
    finally:
        ctx.close()


def test_a_lock_file_that_never_turns_stale_ends_in_busy(repo: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitrefs, "STALE_GIT_LOCK_SECONDS", 1.0)
    sid = open_session(repo, "tester")
    ctx = Context(cwd=repo, env={})
    try:
        _queue_write(ctx, sid, 0)
        lock = gitrefs.loose_ref_lock_path(ctx.repo, queue.REF)
        stop = time.monotonic() + 30

        def attempt(tip: gitrepo.Oid | None) -> gitrefs.Proposal[str]:
            os.utime(lock)  # a live git process keeps it fresh
            assert time.monotonic() < stop
            return gitrefs.Proposal("x", ctx.odb.write_snapshot({"f": b"x"}, tip, "m"), "m")

        lock.write_text("")
        with pytest.raises(Busy, match="held by another git process"):
            gitrefs.update(ctx.repo, ctx.odb, queue.REF, attempt, writer="queue",
                           max_attempts=5)
    finally:
        ctx.close()


def test_plumbing_and_pygit2_write_the_same_commits(repo: Path) -> None:
    """Same inputs, same commit ids: history written by the CLI and by a server replays
    the same way (and neither takes the user's signing, encoding or hook config)."""
    git(repo, "config", "commit.gpgSign", "true")
    git(repo, "config", "i18n.commitEncoding", "ISO-8859-1")
    ctx = Context(cwd=repo, env={})
    try:
        pg = gitodb.InProcess(ctx.pg)
        pl = gitodb.Plumbing(ctx.repo)
        msg = "acquire src/ü [exclusive]\n\nreaped 1 expired lease(s)"
        files = {"b.jsonl": b"{}\n", "a.jsonl": b"x\n", "locks-s-1.jsonl": b""}
        a = pg.write_snapshot(files, None, msg, when=1_700_000_000)
        b = pl.write_snapshot(files, None, msg, when=1_700_000_000)
        assert a == b
        changes: dict[str, bytes | None] = {"a.jsonl": None, "c.jsonl": b"new\n",
                                            "missing": None}
        a2 = pg.write_tree_update(a, changes, "second", when=1_700_000_001)
        b2 = pl.write_tree_update(b, changes, "second", when=1_700_000_001)
        assert a2 == b2
        assert pl.files(b2) == pg.files(a2) == {"b.jsonl": b"{}\n", "c.jsonl": b"new\n",
                                               "locks-s-1.jsonl": b""}
        assert pl.read_file(b2, "c.jsonl") == b"new\n" and pl.read_file(b2, "a.jsonl") is None
        fresh = {"x.jsonl": b"not stored yet 1\n", "y.jsonl": b"not stored yet 2\n"}
        assert pl.write_snapshot(fresh, b2, "fresh", when=1_700_000_002) == \
            pg.write_snapshot(fresh, a2, "fresh", when=1_700_000_002)
        pl.cas("refs/orch/test", b2, None, "create")
        with pytest.raises(gitrefs.CasMismatch):
            pl.cas("refs/orch/test", a, None, "must not exist")
        with pytest.raises(gitrefs.CasMismatch):
            pl.cas("refs/orch/test", a, a, "wrong old value")
        pl.cas("refs/orch/test", a, b2, "back")
        assert pg.tip("refs/orch/test") == pl.tip("refs/orch/test") == a
    finally:
        ctx.close()


def test_one_shot_lock_commands_do_not_import_pygit2(repo: Path) -> None:
    sid = open_session(repo, "tester")
    env = dict(os.environ, ORCH_SESSION=sid)
    import subprocess

    for args in (("lock", "acquire", "src/"), ("lock", "release", "src/")):
        proc = subprocess.run([sys.executable, "-X", "importtime", ORCH, *args], cwd=repo,
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "orch_core.locks.service" in imported
        assert "pygit2" not in imported, args


def test_processes_racing_through_git_plumbing_grant_no_conflicting_locks(
        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    new_repo(repo)
    out = race(repo, n_procs=8, duration=3.0, one_shot=True)
    assert out["odb"] == ["Plumbing"]
    assert out["errors"] == [] and out["exit_codes"] == [0] * 8
    au = out["audit"]
    assert au["violation_count"] == 0, au["violations"]
    assert au["missing_grant_count"] == 0, au["missing_grants"]
    assert au["ok"] and out["grants"] > 8
