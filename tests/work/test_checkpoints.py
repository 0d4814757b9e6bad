"""Checkpoint notes on real commits: content, concurrency, amend, rebase, corrupt notes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from orch_core.api import dispatch as api
from orch_core.state.context import Context
from orch_core.work import checkpoints, stamp
from testing.repos import add_worktree, commit_file, git
from tests.work.test_tasks import chain, mk


def notes_of(cwd: Path, rev: str = "HEAD") -> list[dict[str, Any]]:
    out = git(cwd, "notes", "--ref=orch", "show", rev).stdout
    objs, warnings = stamp.parse_note(out)
    assert warnings == []
    return objs


def bound_session(wt: Path, owner: str) -> tuple[Context, str]:
    c = Context(cwd=wt, env={})
    sid = str(api.call(c, "session.open", {"owner": owner, "bind": True})["session_id"])
    return c, sid


def test_note_carries_case_path_steps_and_next(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a")
    c, sid = bound_session(wt, "alice")
    ids = chain(c, "cart")
    steps = [mk(c, "step", f"step {i}", ids["case"]) for i in range(3)]
    api.call(c, "case.begin", {"id": ids["case"], "locks": ["src/"]})
    api.call(c, "step.check", {"id": steps[0]})
    assert commit_file(wt, "src/a.py", "x = 1\n", "first").returncode == 0
    note = notes_of(wt)[-1]
    assert note["session"] == sid and note["owner"] == "alice"
    assert note["case"] == {"id": ids["case"], "title": "case cart",
                            "epic": f"{ids['epic']} epic cart",
                            "feature": f"{ids['feature']} feature cart",
                            "testgroup": f"{ids['testgroup']} group cart"}
    assert note["steps"] == {"done": 1, "total": 3}
    assert note["next"] == f"step {steps[1]}: step 1"
    assert note["locks"] == ["src/"]
    assert note["base"] == git(wt, "merge-base", "HEAD", "main").stdout.strip()
    assert isinstance(note["db_version"], int)
    # Readable as-is through plain git.
    shown = git(wt, "log", "--notes=orch", "-1").stdout
    assert f'"case":{{"id":"{ids["case"]}"' in shown
    # The index sees it.
    cp = checkpoints.last_for_session(c, sid)
    assert cp is not None and cp["case"] == ids["case"]
    assert cp["commit"] == git(wt, "rev-parse", "HEAD").stdout.strip()
    # No current case: still a note with session, owner and base.
    api.call(c, "step.check", {"id": steps[1]})
    api.call(c, "case.complete", {"id": ids["case"], "next": "n", "force": True})
    assert commit_file(wt, "src/b.py", "y = 2\n", "second").returncode == 0
    note = notes_of(wt)[-1]
    assert note["session"] == sid and "case" not in note and note["base"]
    c.close()


def test_note_without_session(repo: Path) -> None:
    wt = add_worktree(repo, "anon")
    assert commit_file(wt, "docs/x.md", "x\n", "anon").returncode == 0
    note = notes_of(wt)[-1]
    assert note["session"] is None and note["owner"] == "Test User"


def test_twenty_concurrent_commits_keep_twenty_notes(repo: Path) -> None:
    wts: list[tuple[Path, str]] = []
    for i in range(20):
        wt = add_worktree(repo, f"wt-{i}")
        c, sid = bound_session(wt, f"agent-{i}")
        if i % 2:
            ids = chain(c, f"n{i}")
            api.call(c, "case.begin", {"id": ids["case"]})
        c.close()
        (wt / f"file-{i}.txt").write_text(f"{i}\n")
        git(wt, "add", f"file-{i}.txt")
        wts.append((wt, sid))
    go = repo.parent / "GO"
    procs = [subprocess.Popen(
        ["sh", "-c", f'while [ ! -e "{go}" ]; do sleep 0.001; done; '
                     f'exec git commit -q -m "commit {i}"'],
        cwd=wt, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i, (wt, _sid) in enumerate(wts)]
    time.sleep(0.2)
    go.touch()
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    listed = git(repo, "notes", "--ref=orch", "list").stdout.split("\n")
    annotated = {line.split()[1] for line in listed if line.strip()}
    for i, (wt, sid) in enumerate(wts):
        head = git(wt, "rev-parse", "HEAD").stdout.strip()
        assert head in annotated, f"worktree {i} lost its note"
        note = notes_of(wt)[-1]
        assert note["session"] == sid
        assert ("case" in note) == bool(i % 2)
    assert len(annotated) == 20


def test_notes_follow_amend_and_rebase(repo: Path) -> None:
    wt = add_worktree(repo, "feature")
    c, sid = bound_session(wt, "alice")
    ids = chain(c, "r")
    api.call(c, "case.begin", {"id": ids["case"]})
    for n in range(3):
        assert commit_file(wt, f"src/f{n}.py", f"v = {n}\n", f"feature {n}").returncode == 0
    git(wt, "commit", "--amend", "-q", "-m", "feature 2 (amended)")
    amended = notes_of(wt)
    assert amended and all(n["session"] == sid for n in amended)
    assert amended[-1]["case"]["id"] == ids["case"]
    # Rebase the three commits onto another branch.
    other = add_worktree(repo, "other")
    assert commit_file(other, "docs/other.md", "o\n", "other work").returncode == 0
    git(wt, "rebase", "-q", "other")
    revs = git(wt, "rev-list", "other..HEAD").stdout.split()
    assert len(revs) == 3
    for rev in revs:
        notes = notes_of(wt, rev)
        assert notes and notes[-1]["session"] == sid
        assert notes[-1]["case"]["id"] == ids["case"]
    cp = checkpoints.last_for_session(c, sid)
    rows = c.store.conn.execute("SELECT commit_oid, ts FROM checkpoints").fetchall()
    assert cp is not None and cp["commit"] in revs, (cp, revs, [tuple(r) for r in rows])
    c.close()


def test_corrupt_note_is_reported_and_skipped(repo: Path, ctx: Context) -> None:
    sid = str(api.call(ctx, "session.open", {"owner": "alice", "bind": True})["session_id"])
    wt = add_worktree(repo, "wt-c")
    git(wt, "commit", "-q", "--allow-empty", "-m", "good")
    good = git(wt, "rev-parse", "HEAD").stdout.strip()
    git(wt, "notes", "--ref=orch", "add", "-f", "-m",
        json.dumps({"v": 1, "session": sid, "owner": "alice", "db_version": 1}), good)
    git(wt, "commit", "-q", "--allow-empty", "-m", "bad")
    bad = git(wt, "rev-parse", "HEAD").stdout.strip()
    git(wt, "notes", "--ref=orch", "add", "-f", "-m", "{not json", bad)
    warnings = checkpoints.ensure_index(ctx)
    assert any(bad[:12] in w and "not JSON" in w for w in warnings)
    cp = checkpoints.last_for_session(ctx, sid)
    assert cp is not None and cp["commit"] == good
    out = api.call(ctx, "resume.next", {"session": sid})
    assert out["last_checkpoint"]["commit"] == good
    assert any("not JSON" in w for w in out["warnings"])
