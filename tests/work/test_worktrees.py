"""Session-root and child worktrees, merge to parent, and gc that never loses work,
all with real `git worktree`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import OrchError, UsageError
from orch_core.state.context import Context
from orch_core.work import sessions
from testing.repos import commit_file, git, orch, orch_json


def _root(ctx: Context, owner: str = "agent") -> dict[str, Any]:
    out: dict[str, Any] = api.call(ctx, "session.open", {"owner": owner, "worktree": True})
    return out


def _git_worktrees(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain").stdout
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def test_session_open_with_worktree_makes_a_bound_sibling_worktree(ctx: Context,
                                                                    repo: Path) -> None:
    out = _root(ctx, "codex-1")
    path = Path(out["path"])
    assert path.is_dir() and str(path) in _git_worktrees(repo)
    assert repo.resolve() not in path.resolve().parents
    assert path.parent == (repo.parent / "repo.worktrees").resolve()
    assert out["branch"].startswith("orch/codex-1-")
    assert git(path, "branch", "--show-current").stdout.strip() == out["branch"]
    assert out["enter"] == f"cd {path} && export ORCH_SESSION={out['session_id']}"
    sess = sessions.get(ctx, out["session_id"])
    assert sess.worktree == str(path) and sess.branch == out["branch"]
    wt_git_dir = Path(git(path, "rev-parse", "--absolute-git-dir").stdout.strip())
    assert sessions.read_binding(wt_git_dir) == out["session_id"]
    # the main worktree is not taken over by the new session
    assert sessions.read_binding(ctx.repo.git_dir) != out["session_id"]
    kinds = {w["path"]: w["kind"] for w in api.call(ctx, "worktree.list")["worktrees"]}
    assert kinds[str(path)] == "session-root"


def test_cli_session_open_worktree_binds_the_new_worktree(repo: Path) -> None:
    out = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    path = Path(out["path"])
    listed = orch_json(path, "session", "list")
    assert listed["current"] == out["session_id"]
    human = orch(repo, "worktree", "list", check=True).stdout
    assert "session-root" in human and str(path) in human


def test_worktree_root_inside_the_working_tree_is_refused(repo: Path) -> None:
    (repo / ".orch.toml").write_text('[worktrees]\nroot = "nested/wt"\n')
    c = Context(cwd=repo, env={})
    try:
        with pytest.raises(UsageError) as e:
            api.call(c, "session.open", {"worktree": True})
        assert e.value.code == "bad_config"
        assert "inside the working tree" in e.value.message
        assert _git_worktrees(repo) == [str(repo)]
    finally:
        c.close()


def test_configured_root_is_used(repo: Path, tmp_path: Path) -> None:
    (repo / ".orch.toml").write_text(f'[worktrees]\nroot = "{tmp_path / "elsewhere"}"\n')
    c = Context(cwd=repo, env={})
    try:
        out = _root(c)
        assert Path(out["path"]).parent == (tmp_path / "elsewhere").resolve()
    finally:
        c.close()


def test_resume_work_without_candidates_starts_fresh(ctx: Context) -> None:
    out = api.call(ctx, "session.open", {"owner": "b", "intent": "resume_work",
                                         "worktree": True})
    assert out["candidates"] == [] and Path(out["path"]).is_dir()


def test_child_worktree_merges_into_its_session_root(ctx: Context) -> None:
    root = _root(ctx)
    child = api.call(ctx, "worktree.create", {"parent": root["session_id"], "name": "tests"})
    cpath, rpath = Path(child["path"]), Path(root["path"])
    assert child["kind"] == "child" and child["parent"] == root["path"]
    assert child["branch"].startswith(root["branch"])
    env = {"ORCH_SESSION": root["session_id"]}
    assert commit_file(cpath, "src/new_module.py", "x = 1\n", "child work",
                       env=env).returncode == 0
    out = api.call(ctx, "worktree.merge_to_parent", {"child": child["branch"]})
    assert out["merged"] and out["conflicts"] == []
    assert (rpath / "src/new_module.py").read_text() == "x = 1\n"
    assert git(rpath, "rev-parse", "HEAD").stdout.strip() == out["head"]
    # main did not move
    main_log = git(rpath, "log", "--format=%s", "main").stdout
    assert "child work" not in main_log


def test_merge_to_parent_reports_conflicts_and_changes_nothing(ctx: Context) -> None:
    root = _root(ctx)
    child = api.call(ctx, "worktree.create", {"parent": root["path"]})
    cpath, rpath = Path(child["path"]), Path(root["path"])
    env = {"ORCH_SESSION": root["session_id"]}
    assert commit_file(rpath, "README.md", "parent version\n", "p", env=env).returncode == 0
    assert commit_file(cpath, "README.md", "child version\n", "c", env=env).returncode == 0
    before = git(rpath, "rev-parse", "HEAD").stdout
    out = api.call(ctx, "worktree.merge_to_parent", {"child": str(cpath)})
    assert not out["merged"] and out["conflicts"] == ["README.md"]
    assert git(rpath, "rev-parse", "HEAD").stdout == before
    assert git(rpath, "status", "--porcelain").stdout == ""
    assert (rpath / "README.md").read_text() == "parent version\n"


def test_child_of_unknown_root_is_not_found(ctx: Context) -> None:
    with pytest.raises(OrchError) as e:
        api.call(ctx, "worktree.create", {"parent": "s-nothere"})
    assert e.value.code == "unknown_worktree"


# --- gc: nothing is ever lost ------------------------------------------------------------

def _close(ctx: Context, sid: str) -> None:
    api.call(ctx, "session.close", {"session": sid})


def test_gc_removes_a_clean_worktree_of_a_closed_session(ctx: Context, repo: Path) -> None:
    root = _root(ctx)
    alive = _root(ctx, "still-working")
    _close(ctx, root["session_id"])
    out = api.call(ctx, "worktree.gc")
    assert [r["path"] for r in out["removed"]] == [root["path"]]
    assert "rescue_ref" not in out["removed"][0]
    assert out["removed"][0]["branch_deleted"]
    assert not Path(root["path"]).exists()
    assert git(repo, "branch", "--list", root["branch"]).stdout == ""
    assert Path(alive["path"]).is_dir()
    assert str(repo) in _git_worktrees(repo)
    assert api.call(ctx, "worktree.rescued")["rescued"] == []


def test_gc_rescues_uncommitted_and_untracked_work(ctx: Context, repo: Path) -> None:
    root = _root(ctx)
    path = Path(root["path"])
    (path / "README.md").write_text("edited but never committed\n")
    (path / "notes.txt").write_text("untracked scratch\n")
    git(path, "add", "README.md")
    (path / "README.md").write_text("edited twice, second edit unstaged\n")
    _close(ctx, root["session_id"])
    out = api.call(ctx, "worktree.gc")
    item = out["removed"][0]
    ref = item["rescue_ref"]
    assert ref.startswith("refs/orch/rescue/") and item["uncommitted"] == 2
    assert not path.exists()
    assert git(repo, "show", f"{ref}:README.md").stdout == "edited twice, second edit unstaged\n"
    assert git(repo, "show", f"{ref}:notes.txt").stdout == "untracked scratch\n"
    assert git(repo, "rev-parse", f"{ref}^").stdout == git(repo, "rev-parse", "main").stdout
    listed = api.call(ctx, "worktree.rescued")["rescued"]
    assert [r["ref"] for r in listed] == [ref]
    assert listed[0]["session"] == root["session_id"] and listed[0]["uncommitted"] == 2
    assert "reset --mixed HEAD~1" in listed[0]["restore"]


def test_gc_rescues_commits_that_are_on_no_other_branch(ctx: Context, repo: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    root = _root(ctx)
    path = Path(root["path"])
    env = {"ORCH_SESSION": root["session_id"]}
    assert commit_file(path, "src/only_here.py", "y = 2\n", "unmerged work",
                       env=env).returncode == 0
    tip = git(path, "rev-parse", "HEAD").stdout.strip()
    # The session is not closed but dead: its heartbeat expired long ago.
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", str(10 * 24 * 3600))
    out = api.call(ctx, "worktree.gc")
    item = out["removed"][0]
    assert item["session_state"] == "dead" and item["unique_commits"] == 1
    assert git(repo, "rev-parse", item["rescue_ref"]).stdout.strip() == tip
    assert git(repo, "show", f"{item['rescue_ref']}:src/only_here.py").stdout == "y = 2\n"
    assert not path.exists()
    # The branch itself stays (it may be queued for main); only the worktree went.
    assert not item["branch_deleted"]
    assert git(repo, "rev-parse", root["branch"]).stdout.strip() == tip
    assert [p.name for p in path.parent.iterdir() if "orch-gc" in p.name] == []


def test_gc_without_rescue_leaves_unsaved_work_alone(ctx: Context) -> None:
    root = _root(ctx)
    path = Path(root["path"])
    (path / "draft.txt").write_text("keep me\n")
    _close(ctx, root["session_id"])
    out = api.call(ctx, "worktree.gc", {"rescue": False})
    assert out["removed"] == [] and out["kept"][0]["path"] == root["path"]
    assert (path / "draft.txt").read_text() == "keep me\n"
    dry = api.call(ctx, "worktree.gc", {"dry_run": True})
    assert dry["removed"][0]["would_rescue"] and path.exists()


def test_gc_keeps_a_branch_that_is_checked_out_elsewhere_merged(ctx: Context,
                                                                repo: Path) -> None:
    """A branch whose commits are also on another branch is deleted; nothing unique."""
    root = _root(ctx)
    path = Path(root["path"])
    env = {"ORCH_SESSION": root["session_id"]}
    assert commit_file(path, "src/shared.py", "z = 3\n", "shared", env=env).returncode == 0
    tip = git(path, "rev-parse", "HEAD").stdout.strip()
    git(repo, "branch", "keeper", tip)
    _close(ctx, root["session_id"])
    out = api.call(ctx, "worktree.gc")
    assert out["removed"][0]["unique_commits"] == 0
    assert "rescue_ref" not in out["removed"][0]
    assert git(repo, "rev-parse", "keeper").stdout.strip() == tip


def test_gc_cli_end_to_end(repo: Path) -> None:
    out = orch_json(repo, "session", "open", "--owner", "z", "--worktree")
    path = Path(out["path"])
    (path / "wip.txt").write_text("wip\n")
    orch(path, "session", "close", check=True, env={"ORCH_SESSION": out["session_id"]})
    gc = orch_json(repo, "worktree", "gc")
    assert gc["removed"][0]["rescue_ref"].startswith("refs/orch/rescue/")
    text = orch(repo, "worktree", "rescued", check=True).stdout
    assert "refs/orch/rescue/" in text and "restore:" in text
    rescued = json.loads(orch(repo, "worktree", "rescued", "--json", check=True).stdout)
    assert rescued["rescued"][0]["path"] == str(path)


# --- scheduler ------------------------------------------------------------------------

def test_decide_small_task_takes_locks(ctx: Context) -> None:
    out = api.call(ctx, "scheduler.decide_worktree",
                   {"paths": ["src/"], "duration": 5, "participants": 1})
    assert out["decision"] == "lock" and out["score"] < out["threshold"]
    assert out["inputs"]["overlap"] == 0.0


def test_decide_overlap_with_other_locks_pushes_to_worktree(ctx: Context) -> None:
    other = api.call(ctx, "session.open", {"owner": "other", "bind": False})["session_id"]
    api.call(ctx, "lock.acquire", {"paths": ["src/"], "session": other})
    me = api.call(ctx, "session.open", {"owner": "me", "bind": False})["session_id"]
    out = api.call(ctx, "scheduler.decide_worktree",
                   {"paths": ["src/app.py", "README.md"], "duration": 20, "risk": "medium",
                    "participants": 2, "session": me})
    assert out["inputs"]["overlapping_paths"] == ["src/app.py"]
    assert out["factors"]["overlap"] == pytest.approx(0.5)
    assert out["decision"] == "worktree"
    assert any("locked by other sessions" in r for r in out["reasons"])


def test_decide_weights_come_from_config(repo: Path) -> None:
    (repo / ".orch.toml").write_text("[scheduler]\nthreshold = 100.0\n")
    out = orch_json(repo, "worktree", "decide", "src/", "--files", "40", "--risk", "high",
                    "--duration", "120")
    assert out["threshold"] == 100.0 and out["decision"] == "lock"
    assert out["factors"]["files"] == pytest.approx(2.0)


def test_merge_to_parent_refuses_when_the_parent_has_another_branch(ctx: Context) -> None:
    """The merge goes into the recorded parent branch, never into whatever the parent
    worktree has checked out now."""
    root = _root(ctx)
    child = api.call(ctx, "worktree.create", {"parent": root["session_id"]})
    cpath, rpath = Path(child["path"]), Path(root["path"])
    env = {"ORCH_SESSION": root["session_id"]}
    assert commit_file(cpath, "src/child.py", "c = 1\n", "child work", env=env).returncode == 0
    git(rpath, "switch", "-q", "-c", "elsewhere")
    before = {b: git(rpath, "rev-parse", b).stdout for b in ("elsewhere", root["branch"])}
    with pytest.raises(OrchError) as e:
        api.call(ctx, "worktree.merge_to_parent", {"child": child["branch"]})
    assert e.value.code == "parent_switched" and "elsewhere" in e.value.message
    assert {b: git(rpath, "rev-parse", b).stdout for b in before} == before
    git(rpath, "switch", "-q", "--detach")
    with pytest.raises(OrchError) as e:
        api.call(ctx, "worktree.merge_to_parent", {"child": child["branch"]})
    assert e.value.code == "parent_switched" and "detached" in e.value.message
    git(rpath, "switch", "-q", root["branch"])
    out = api.call(ctx, "worktree.merge_to_parent", {"child": child["branch"]})
    assert out["merged"] and git(rpath, "log", "-1", "--format=%s", root["branch"]).stdout
    assert "child work" not in git(rpath, "log", "--format=%s", "elsewhere").stdout
