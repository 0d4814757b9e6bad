"""Lock table semantics through the method registry, on a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import Conflict, NotFound, Refused, UsageError
from orch_core.git import refs as gitrefs
from orch_core.locks import service as locks
from orch_core.locks.table import blob_name
from orch_core.state.context import Context
from testing.repos import git, mark_lock_commit_written


def _open(ctx: Context, owner: str) -> str:
    out = api.call(ctx, "session.open", {"owner": owner, "bind": False})
    return str(out["session_id"])


def _history(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s", locks.REF).stdout.splitlines()


def test_acquire_conflict_names_holder_and_changes_nothing(ctx: Context, repo: Path) -> None:
    a, b = _open(ctx, "agent-a"), _open(ctx, "agent-b")
    api.call(ctx, "lock.acquire", {"paths": ["src/api/"], "task": "T-1", "session": a})
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF)
    with pytest.raises(Conflict) as info:
        api.call(ctx, "lock.acquire", {"paths": ["docs/", "src/api/users.py"], "session": b})
    err = info.value
    assert "agent-a" in err.message and "T-1" in err.message and "src/api/" in err.message
    conflict = err.details["conflicts"][0]
    assert conflict["holder_session"] == a
    assert conflict["owner"] == "agent-a"
    assert conflict["task"] == "T-1"
    assert conflict["lock_path"] == "src/api/"
    assert conflict["expires_at"] > 0
    # all-or-nothing: docs/ was not taken, and the ref did not move
    assert gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF) == tip
    assert [lk["path"] for lk in api.call(ctx, "lock.list", {})["locks"]] == ["src/api/"]


@pytest.mark.parametrize(
    ("held", "held_shared", "want", "want_shared", "blocked"),
    [
        ("src/api/", False, "src/api/users.py", False, True),
        ("src/api/users.py", False, "src/api/", False, True),
        ("src/api/", True, "src/api/users.py", True, False),
        ("src/api/", True, "src/api/users.py", False, True),
        ("src/api/", False, "src/web/", False, False),
        ("src/api", False, "src/api/", False, True),
        ("src/ap/", False, "src/api/", False, False),
    ],
)
def test_conflict_rule(ctx: Context, held: str, held_shared: bool, want: str,
                       want_shared: bool, blocked: bool) -> None:
    a, b = _open(ctx, "a"), _open(ctx, "b")
    api.call(ctx, "lock.acquire", {"paths": [held], "shared": held_shared, "session": a})
    if blocked:
        with pytest.raises(Conflict):
            api.call(ctx, "lock.acquire", {"paths": [want], "shared": want_shared,
                                           "session": b})
    else:
        out = api.call(ctx, "lock.acquire", {"paths": [want], "shared": want_shared,
                                             "session": b})
        assert out["locks"][0]["session"] == b


def test_same_session_reacquire_renews(ctx: Context) -> None:
    a = _open(ctx, "a")
    first = api.call(ctx, "lock.acquire", {"paths": ["docs/"], "ttl": 10, "session": a})
    second = api.call(ctx, "lock.acquire", {"paths": ["docs/"], "ttl": 100, "session": a})
    rows = api.call(ctx, "lock.list", {})["locks"]
    assert len(rows) == 1
    assert second["locks"][0]["expires_at"] > first["locks"][0]["expires_at"]


def test_release_only_holder_unless_forced(ctx: Context, repo: Path) -> None:
    a, b = _open(ctx, "a"), _open(ctx, "b")
    got = api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    lock_id = got["locks"][0]["id"]
    with pytest.raises(Refused, match="held by session"):
        api.call(ctx, "lock.release", {"targets": [lock_id], "session": b})
    with pytest.raises(Refused, match="not you"):
        api.call(ctx, "lock.release", {"targets": ["docs/"], "session": b})
    out = api.call(ctx, "lock.release", {"targets": [lock_id], "force": True, "session": b})
    assert out["force"] is True
    assert api.call(ctx, "lock.list", {})["locks"] == []
    assert _history(repo)[0].startswith("force-release docs/ held by " + a)
    events = ctx.store.conn.execute("SELECT kind FROM events ORDER BY db_version").fetchall()
    assert "lock.force_release" in [e[0] for e in events]


def test_unknown_lock_and_session(ctx: Context) -> None:
    a = _open(ctx, "a")
    with pytest.raises(NotFound):
        api.call(ctx, "lock.release", {"targets": ["L-deadbeef"], "session": a})
    with pytest.raises(NotFound, match="unknown session"):
        api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": "s-nope"})
    with pytest.raises(UsageError):
        api.call(ctx, "lock.acquire", {"paths": ["../etc"], "session": a})
    with pytest.raises(UsageError):
        api.call(ctx, "lock.acquire", {"paths": [], "session": a})
    with pytest.raises(UsageError):
        api.call(ctx, "lock.acquire", {"paths": "docs/", "session": a})


def test_expired_lease_blocks_nobody_and_is_reaped(ctx: Context, repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _open(ctx, "a"), _open(ctx, "b")
    api.call(ctx, "lock.acquire", {"paths": ["src/"], "ttl": 60, "session": a})
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "61")
    assert api.call(ctx, "lock.check", {"paths": ["src/x.py"], "session": b})["ok"]
    assert api.call(ctx, "lock.list", {})["locks"] == []
    assert len(api.call(ctx, "lock.list", {"all": True})["locks"]) == 1
    api.call(ctx, "lock.acquire", {"paths": ["src/api/"], "session": b})
    assert "reaped 1 expired" in git(repo, "log", "-1", "--format=%B", locks.REF).stdout
    assert [lk["session"] for lk in api.call(ctx, "lock.list", {"all": True})["locks"]] == [b]


def test_heartbeat_pushes_expiry(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "ttl": 100, "session": a})
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "90")
    api.call(ctx, "lock.heartbeat", {"session": a})
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "150")
    assert len(api.call(ctx, "lock.list", {})["locks"]) == 1


def test_cache_reloads_when_ref_moves_elsewhere(ctx: Context, repo: Path) -> None:
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["README.md"], "session": a})
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    newest = git(repo, "rev-parse", locks.REF).stdout.strip()
    # The ref moved back to its parent behind the cache's back. The reader reloads,
    # but a ref moved back never drops a lock (locks/trust.py): the locks of both
    # tables count, and the cache stays on the newer one.
    parent = git(repo, "rev-parse", locks.REF + "~1").stdout.strip()
    git(repo, "update-ref", locks.REF, parent)
    fresh = Context(cwd=repo, env={})
    out = api.call(fresh, "lock.list", {})
    assert sorted(lk["path"] for lk in out["locks"]) == ["README.md", "docs/"]
    assert any("older table" in w for w in out["warnings"])
    assert fresh.store.meta("locks_tip") == newest
    fresh.close()
    # Put back, the newest table is read as before.
    git(repo, "update-ref", locks.REF, newest)
    again = Context(cwd=repo, env={})
    assert sorted(lk["path"] for lk in api.call(again, "lock.list", {})["locks"]) == \
        ["README.md", "docs/"]
    again.close()


def test_corrupt_table_line_is_reported_not_fatal(ctx: Context, repo: Path) -> None:
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    name = blob_name(a)
    blob = git(repo, "cat-file", "blob", f"{locks.REF}:{name}").stdout
    bad = blob + "{not json\n" + json.dumps({"id": "x"}) + "\n"
    oid = git(repo, "hash-object", "-w", "--stdin", input=bad).stdout.strip()
    tree = git(repo, "mktree", input=f"100644 blob {oid}\t{name}\n").stdout.strip()
    commit = git(repo, "commit-tree", tree, "-p", locks.REF, "-m", "corrupt").stdout.strip()
    # A table an earlier writer left with bad lines (a commit made by hand is not
    # believed at all: test_damaged_table.py).
    mark_lock_commit_written(repo, commit)
    git(repo, "update-ref", locks.REF, commit)
    out = api.call(Context(cwd=repo, env={}), "lock.list", {})
    assert [lk["path"] for lk in out["locks"]] == ["docs/"]
    assert len(out["warnings"]) == 2


def test_every_change_is_a_commit_with_a_message(ctx: Context, repo: Path) -> None:
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["docs/", "README.md"], "session": a})
    api.call(ctx, "lock.heartbeat", {"session": a})
    api.call(ctx, "lock.release", {"targets": ["docs/"], "session": a})
    subjects = _history(repo)
    assert subjects[0] == f"release docs/ by {a}"
    assert subjects[1] == f"heartbeat 2 lease(s) of {a}"
    assert subjects[2].startswith("acquire docs/, README.md [exclusive]")


def test_session_close_releases_locks(ctx: Context) -> None:
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    out = api.call(ctx, "session.close", {"session": a})
    assert out["status"] == "closed" and len(out["released"]) == 1
    assert api.call(ctx, "lock.list", {})["locks"] == []


def test_db_version_one_event_per_change(ctx: Context) -> None:
    v0 = ctx.store.db_version()
    a = _open(ctx, "a")
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    v1 = ctx.store.db_version()
    assert v1 == v0 + 2
    versions = [r[0] for r in ctx.store.conn.execute(
        "SELECT db_version FROM events ORDER BY db_version")]
    assert versions == list(range(1, v1 + 1))
    with pytest.raises(Exception, match="append-only"):
        ctx.store.conn.execute("DELETE FROM events")
