"""The journal ref, rebuild from git alone, and the Markdown mirror."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import Refused
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.state import store
from orch_core.state.context import Context
from orch_core.work import journal
from testing.repos import add_worktree, commit_file, git, open_session, orch, orch_json
from tests.work.test_tasks import chain, mk

TIME_RELATIVE = {"alive"}


def strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in TIME_RELATIVE}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def delete_db(repo: Path) -> None:
    db = repo / ".git" / "orch" / "state.db"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)


def test_rebuild_restores_what_task_list_and_resume_print(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a")
    alice = open_session(wt, "alice")
    bob = open_session(repo, "bob", "--no-bind")
    ids: dict[str, str] = {}
    parent = None
    for level in ("epic", "feature", "testgroup", "case"):
        args = ["task", "create", "--level", level, "--title", f"{level} one"]
        if parent:
            args += ["--parent", parent]
        parent = ids[level] = orch_json(repo, *args)["id"]
    other = orch_json(repo, "task", "create", "--level", "case", "--title", "case two",
                      "--parent", ids["testgroup"], "--priority", "2")["id"]
    steps = [orch_json(repo, "task", "create", "--level", "step", "--title", f"s{i}",
                       "--parent", ids["case"])["id"] for i in range(3)]
    orch(repo, "task", "dep", "add", ids["case"], "--blocks", other, check=True)
    orch(wt, "case", "begin", ids["case"], "--contract", "c", "--lock", "src/api/",
         check=True)
    orch(wt, "step", "check", steps[0], check=True)
    assert commit_file(wt, "src/api/users.py", "# wip\n", "wip").returncode == 0
    orch(wt, "step", "check", steps[1], check=True)
    orch(repo, "work", "ack", session=bob, check=True)
    sync = orch_json(repo, "sync")
    assert sync["synced"] is True
    assert orch_json(repo, "sync")["synced"] is False  # nothing changed since

    before_list = orch_json(repo, "task", "list")
    before_tree = orch_json(repo, "task", "list", "--tree")
    before_resume = orch_json(wt, "resume", "next")
    before_bob = orch_json(repo, "resume", "next", session=bob)
    assert before_resume["case"]["id"] == ids["case"]
    assert before_resume["last_checkpoint"]["commit"] == \
        git(wt, "rev-parse", "HEAD").stdout.strip()

    refused = orch(repo, "rebuild")
    assert refused.returncode == 1 and "--force" in refused.stderr
    delete_db(repo)
    out = orch_json(repo, "rebuild")
    assert out["restored"]["tasks"] == 8 and out["warnings"] == []
    assert strip(orch_json(repo, "task", "list")) == strip(before_list)
    assert strip(orch_json(repo, "task", "list", "--tree")) == strip(before_tree)
    assert strip(orch_json(wt, "resume", "next")) == strip(before_resume)
    assert strip(orch_json(repo, "resume", "next", session=bob)) == strip(before_bob)
    # The rebuilt state keeps working: alice carries on.
    orch(wt, "step", "check", steps[2], check=True)
    assert orch_json(wt, "resume", "next")["case"]["steps"]["done"] == 3
    assert alice in {s["id"] for s in orch_json(repo, "session", "list")["sessions"]}


def test_rebuild_force_keeps_the_old_db_aside(ctx: Context) -> None:
    chain(ctx)
    api.call(ctx, "journal.sync")
    with pytest.raises(Refused) as e:
        api.call(ctx, "journal.rebuild")
    assert e.value.code == "db_exists"
    out = api.call(ctx, "journal.rebuild", {"force": True})
    assert out["moved_aside"] and os.path.exists(out["moved_aside"])
    assert api.call(ctx, "task.list")["count"] == 4


def _rewrite_tip(ctx: Context, files: dict[str, bytes], message: str) -> None:
    pg = ctx.pg
    tip = gitrefs.ref_tip(pg, journal.REF)
    new = gitobjects.write_snapshot(pg, files, tip, message)
    gitrefs.cas_ref(pg, journal.REF, new, tip, message)


def test_corrupt_journal_entries_are_reported_and_skipped(ctx: Context) -> None:
    keep = chain(ctx, "keep")
    lost = chain(ctx, "lost")
    api.call(ctx, "journal.sync")
    tip = gitrefs.ref_tip(ctx.pg, journal.REF) or gitrepo.ZERO_OID
    files = gitobjects.snapshot_files(ctx.pg, tip)
    lines = files["tasks.jsonl"].decode().splitlines()
    # Damage the line of the 'lost' epic: its feature, group and case are orphans now.
    lines = ["{broken" if json.loads(ln)["id"] == lost["epic"] else ln for ln in lines]
    _rewrite_tip(ctx, {**files, "tasks.jsonl": ("\n".join(lines) + "\n").encode()},
                 "damaged tasks")
    # And a newer snapshot that cannot be read at all.
    _rewrite_tip(ctx, {"meta.json": b"not json"}, "damaged snapshot")
    out = api.call(ctx, "journal.rebuild", {"force": True})
    text = "\n".join(out["warnings"])
    assert "unreadable" in text and "trying its parent" in text
    assert "tasks.jsonl line" in text and "not JSON" in text
    assert text.count("journal tasks row") == 3  # the orphans, skipped one by one
    got = {t["id"] for t in api.call(ctx, "task.list")["tasks"]}
    assert got == set(keep.values())


def test_sync_points_push_and_session_close(repo: Path, bare_remote: Path) -> None:
    wt = add_worktree(repo, "wt-p")
    sid = open_session(wt, "alice")
    orch(repo, "task", "create", "--level", "epic", "--title", "E", check=True)
    assert commit_file(wt, "docs/p.md", "p\n", "p").returncode == 0
    c = Context(cwd=repo, env={})
    version = c.store.db_version()
    c.close()
    git(wt, "push", "-q", "origin", "wt-p")
    tip = git(repo, "rev-parse", journal.REF).stdout.strip()
    meta = json.loads(git(repo, "show", f"{tip}:meta.json").stdout)
    assert meta["db_version"] == version
    orch(wt, "session", "close", session=sid, check=True)
    tip2 = git(repo, "rev-parse", journal.REF).stdout.strip()
    assert tip2 != tip
    assert git(repo, "rev-parse", f"{tip2}^").stdout.strip() == tip
    sessions = git(repo, "show", f"{tip2}:sessions.jsonl").stdout
    assert '"status":"closed"' in sessions


def test_journal_sync_is_one_snapshot_per_version(ctx: Context) -> None:
    chain(ctx)
    first = api.call(ctx, "journal.sync")
    again = api.call(ctx, "journal.sync")
    assert first["tip"] == again["tip"] and again["synced"] is False
    # Another process (a fresh store handle) sees the same tip and does not rewrite it.
    fresh = Context(cwd=ctx.cwd, env={})
    with fresh.store.cache_write() as conn:
        fresh.store.set_meta(conn, "journal_tip", "none")
    assert api.call(fresh, "journal.sync")["tip"] == first["tip"]
    fresh.close()
    assert store.events(ctx.store)[-1]["kind"] == "task.create"  # sync adds no event


def test_mirror_outdated_and_refresh(ctx: Context, tmp_path: Path) -> None:
    ids = chain(ctx)
    step = mk(ctx, "step", "write the test", ids["case"])
    st = api.call(ctx, "mirror.status")
    assert st["outdated"] is True and st["md_version"] is None
    out = tmp_path / "STATE.md"
    r = api.call(ctx, "mirror.refresh", {"out": str(out)})
    text = out.read_text()
    assert f"- [ ] **{ids['epic']}** epic x" in text
    assert f"        - [ ] **{step}** write the test (step, queued)" in text
    for section in ("## Sessions", "## Locks", "## Merge queue"):
        assert section in text
    st = api.call(ctx, "mirror.status")
    assert st == {"db_version": r["md_version"], "md_version": r["md_version"],
                  "outdated": False, "path": str(out)}
    sid = str(api.call(ctx, "session.open", {"owner": "a", "bind": False})["session_id"])
    api.call(ctx, "case.begin", {"id": ids["case"], "session": sid})
    api.call(ctx, "step.check", {"id": step, "session": sid})
    assert api.call(ctx, "mirror.status")["outdated"] is True
    assert out.read_text() == text  # nothing refreshes it implicitly
    api.call(ctx, "mirror.refresh", {"out": str(out)})
    assert f"- [x] **{step}** write the test" in out.read_text()
    assert api.call(ctx, "mirror.status")["outdated"] is False
