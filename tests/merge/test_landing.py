"""The lander: exact-merge checks, failures, timeouts, main moving, SIGKILL at any point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.merge import queue as q
from orch_core.state.context import Context
from testing.repos import ORCH, git, orch
from tests.merge.test_queue import edit_line, make_branch, new_session, request, setup_repo


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).stdout.strip()


def state_of(repo: Path) -> q.QueueState:
    tip = rev(repo, q.REF)
    return q.parse(gitobjects.cat_blob(gitrepo.discover(repo), f"{tip}:{q.FILE}"))


def approved_branch(repo: Path, name: str, files: dict[str, str],
                    priority: int | None = None) -> tuple[str, str]:
    """A branch with a session of its own, queued and approved; (author, reviewer)."""
    wt = repo.parent / f"wt-{name}"
    make_branch(repo, name, files)
    wctx = Context(cwd=wt, env={})
    author = new_session(wctx, f"author-{name}")
    entry = request(wctx, author, name, priority)
    reviewer = new_session(wctx, f"reviewer-{name}")
    api.call(wctx, "merge.review", {"id": entry["id"], "approve": True, "session": reviewer})
    wctx.close()
    return author, reviewer


def land_cli(repo: Path, *, env: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, Any]]:
    proc = orch(repo, "merge", "land", "--json", env=env)
    return proc.returncode, json.loads(proc.stdout or "{}")


def landing_worktrees(repo: Path) -> list[str]:
    """The lander's worktrees: at most its one persistent, locked, clean worktree."""
    out = git(repo, "worktree", "list", "--porcelain").stdout
    found = [ln[len("worktree "):] for ln in out.splitlines()
             if ln.startswith("worktree ") and "/orch/landing/" in ln]
    assert all(p.endswith("/orch/landing/work") for p in found), found
    for p in found:
        assert git(Path(p), "status", "--porcelain", "--ignored").stdout == ""
    return found


def test_land_moves_main_to_tested_merge_and_releases_locks(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feature notes\n"})
    wt = repo.parent / "wt-feat"
    wctx = Context(cwd=wt, env={})
    author = new_session(wctx, "author")
    api.call(wctx, "lock.acquire", {"paths": ["docs/"], "release_on_land": True,
                                    "session": author})
    api.call(wctx, "lock.acquire", {"paths": ["src/web/"], "session": author})
    api.call(wctx, "merge.request", {"session": author})  # the session's branch: feat
    reviewer = new_session(wctx, "reviewer")
    api.call(wctx, "merge.review", {"id": "Q-1", "approve": True, "session": reviewer})
    old = rev(repo, "main")
    feat = rev(repo, "feat")
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    new = rev(repo, "main")
    assert new == out["main_after"] != old
    assert git(repo, "rev-list", "--parents", "-n1", "main").stdout.split()[1:] == [old, feat]
    # The clean worktree that has main checked out followed the new tip.
    assert rev(repo, "HEAD") == new and (repo / "docs/feat.md").exists()
    assert git(repo, "status", "--porcelain").stdout == ""
    assert [c["command"] for c in out["checks"]] == ["make check"]
    assert all(c["ok"] for c in out["checks"])
    # Only the release-on-land lock went.
    assert [lk["path"] for lk in out["released_locks"]] == ["docs/"]
    held = api.call(wctx, "lock.list", {})["locks"]
    assert [lk["path"] for lk in held] == ["src/web/"]
    st = state_of(repo)
    assert st.lease is None and st.get("Q-1").state == q.LANDED
    assert st.get("Q-1").landed_as == new
    assert len(landing_worktrees(repo)) <= 1
    assert "landed Q-1 (feat)" in git(repo, "log", "--format=%s", q.REF).stdout
    wctx.close()


def test_failing_check_keeps_main_and_tells_the_author(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    users = "src/api/users.py"
    author, _ = approved_branch(repo, "broken", {users: edit_line(repo, users, '"ada"',
                                                                  '"bob"')})
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and not out["landed"]
    assert out["state"] == "failed" and "make check" in out["reason"]
    assert "AssertionError" in out["log_tail"]
    assert rev(repo, "main") == old
    st = state_of(repo)
    assert st.lease is None and st.get("Q-1").state == q.FAILED
    ctx = Context(cwd=repo, env={})
    fails = q.failures_for_session(ctx, author)
    assert [f["id"] for f in fails] == ["Q-1"] and "make check" in fails[0]["reason"]
    assert "AssertionError" in fails[0]["log_tail"]
    out2 = api.call(ctx, "merge.failures", {"session": author})
    assert out2["failures"][0]["next_action"].endswith("`orch-hooks merge request broken`")
    ctx.close()
    assert len(landing_worktrees(repo)) <= 1
    # The author's `resume next` leads with the fix.
    proc = orch(repo.parent / "wt-broken", "--session", author, "resume", "next", "--json")
    nxt = json.loads(proc.stdout)
    assert nxt["what"] == "fix" and nxt["merge_failures"][0]["id"] == "Q-1"
    assert "merge request broken" in nxt["next_action"]
    text = orch(repo.parent / "wt-broken", "--session", author, "resume", "next").stdout
    assert "merge queue: Q-1 broken failed: check `make check` failed" in text


@pytest.mark.parametrize(("check", "timeout", "expect"), [
    ("sleep 30", 1, "timed out after 1 s"),
    ("no-such-tool --run", 60, "exit 127"),
])
def test_hanging_or_missing_check_fails_cleanly(tmp_path: Path, check: str, timeout: int,
                                                expect: str) -> None:
    repo = setup_repo(tmp_path / "repo", checks=[check], timeout=timeout)
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    old = rev(repo, "main")
    t0 = time.monotonic()
    code, out = land_cli(repo)
    assert time.monotonic() - t0 < 15
    assert code == 1 and out["state"] == "failed" and expect in out["reason"], out
    assert rev(repo, "main") == old
    assert state_of(repo).lease is None


def test_rule_on_added_lines_refuses_before_checks(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "marker", {"docs/notes.md": "ok\n<<<<<<< HEAD\nmine\n"})
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and "conflict marker" in out["reason"], out
    assert "docs/notes.md:2" in out["reason"]
    assert out["checks"] == [] and rev(repo, "main") == old


def test_main_moving_during_landing_rebuilds_and_retests(tmp_path: Path) -> None:
    mark = tmp_path / "moved-once"
    hotfix_ref = tmp_path / "hotfix-oid"
    repo = setup_repo(tmp_path / "repo")
    # The policy on main gets a first check that moves main once, mid-landing, to a
    # commit "someone else" made. The lander reads the policy committed on main.
    mover = (f"if [ ! -e {mark} ]; then touch {mark}; git -C {repo} -c core.hooksPath=/dev/null "
             f"update-ref refs/heads/main $(cat {hotfix_ref}); fi")
    text = (repo / ".orch.toml").read_text()
    (repo / ".orch.toml").write_text(
        text.replace('checks = ["make check"]', f"checks = {json.dumps([mover, 'make check'])}"))
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-am", "policy with a mover")
    git(repo, "checkout", "-q", "-b", "hotfix")
    (repo / "docs/hotfix.md").write_text("hotfix\n")
    git(repo, "add", "docs/hotfix.md")
    git(repo, "commit", "-q", "-m", "hotfix")
    hotfix = rev(repo, "hotfix")
    hotfix_ref.write_text(hotfix)
    git(repo, "checkout", "-q", "--detach", "main")
    lander_wt = tmp_path / "lander"
    git(repo, "worktree", "add", "-q", "--detach", str(lander_wt), "main")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    code, out = land_cli(lander_wt)
    assert code == 0 and out["landed"], out
    assert out["main_before"] == hotfix
    parents = git(repo, "rev-list", "--parents", "-n1", "main").stdout.split()
    assert parents[1] == hotfix and parents[2] == rev(repo, "feat")
    assert len(out["checks"]) == 4  # both checks ran again on the rebuilt merge
    assert git(repo, "show", "main:docs/hotfix.md").stdout == "hotfix\n"


def test_dirty_protected_worktree_refuses_landing(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    (repo / "README.md").write_text("local edit\n")
    old, qtip = rev(repo, "main"), rev(repo, q.REF)
    proc = orch(repo, "merge", "land")
    assert proc.returncode == 1
    assert "uncommitted changes" in proc.stderr and "README.md" in proc.stderr
    assert rev(repo, "main") == old and rev(repo, q.REF) == qtip


@pytest.mark.parametrize("strategy", ["ff", "rebase"])
def test_strategies(tmp_path: Path, strategy: str) -> None:
    repo = setup_repo(tmp_path / "repo", strategy=strategy)
    approved_branch(repo, "first", {"docs/first.md": "1\n"}, priority=1)
    approved_branch(repo, "second", {"docs/second.md": "2\n"})  # also on the old main
    first_tip = rev(repo, "first")
    code, out = land_cli(repo)
    assert code == 0 and out["landed"] and out["branch"] == "first", out
    if strategy == "ff":
        assert rev(repo, "main") == first_tip
    code, out = land_cli(repo)
    if strategy == "ff":
        assert code == 1 and "not based on the tip" in out["reason"]
        assert rev(repo, "main") == first_tip
    else:
        assert code == 0 and out["landed"], out
        history = git(repo, "rev-list", "--max-parents=1", "--count", "main").stdout
        merges = git(repo, "rev-list", "--min-parents=2", "--count", "main").stdout
        assert int(merges) == 0 and int(history) >= 4
        assert (repo / "docs/first.md").exists() and (repo / "docs/second.md").exists()


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"lander exited {proc.returncode}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


def _paused_lander(repo: Path, point: str,
                   extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "ORCH_LANDER_PAUSE": point, **(extra or {})}
    env.pop("ORCH_SESSION", None)
    proc = subprocess.Popen([ORCH, "merge", "land", "--json"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(repo / ".git" / "orch" / f"lander-paused-{point}", proc)
    return proc


@pytest.mark.parametrize("point", ["locked", "tested", "target", "moved"])
def test_sigkill_of_the_lander_never_breaks_main_or_sticks_the_queue(
        tmp_path: Path, point: str) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    old = rev(repo, "main")
    proc = _paused_lander(repo, point)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    st = state_of(repo)
    assert st.lease is not None and st.get("Q-1").state == q.LANDING
    main_now = rev(repo, "main")
    # Main is the old tip or the tested merge the lease recorded, nothing else.
    assert main_now in {old, st.lease.target}
    assert main_now == (st.lease.target if point == "moved" else old)
    # The lease of a dead lander frees at once; the next landing finishes the job.
    code, out = land_cli(repo)
    assert code == 0, out
    if point == "moved":
        assert out["recovered"] == ["Q-1"] and not out.get("id")
    else:
        assert out["landed"] and out["id"] == "Q-1"
    st = state_of(repo)
    assert st.lease is None and st.get("Q-1").state == q.LANDED
    assert rev(repo, "main") == st.get("Q-1").landed_as
    assert git(repo, "merge-base", "--is-ancestor", "feat", "main", check=False).returncode == 0
    assert len(landing_worktrees(repo)) <= 1
    assert git(repo, "status", "--porcelain").stdout == ""


def test_lease_of_a_live_but_stuck_lander_expires(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    stuck = _paused_lander(repo, "tested")
    try:
        proc = orch(repo, "merge", "land")
        assert proc.returncode == 1 and "merge lock is held" in proc.stderr
        ttl = 900
        code, out = land_cli(repo, env={"ORCH_CLOCK_OFFSET": str(ttl + 60)})
        assert code == 0 and out["landed"] and out["id"] == "Q-1", out
    finally:
        stuck.send_signal(signal.SIGKILL)
        stuck.communicate()
    assert state_of(repo).get("Q-1").state == q.LANDED


def test_lander_runs_the_policy_committed_on_main_not_the_local_copy(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo", checks=["false"])
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    old = rev(repo, "main")
    # A session weakens the checks in its own work tree before landing: no effect.
    lander_wt = tmp_path / "lander"
    git(repo, "worktree", "add", "-q", "--detach", str(lander_wt), "main")
    text = (lander_wt / ".orch.toml").read_text()
    (lander_wt / ".orch.toml").write_text(text.replace('checks = ["false"]', "checks = []"))
    code, out = land_cli(lander_wt)
    assert code == 1 and out["state"] == "failed" and "false" in out["reason"], out
    assert rev(repo, "main") == old


def test_release_on_land_spares_locks_taken_for_the_authors_next_branch(
        tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "feat", {"docs/feat.md": "feature notes\n"})
    wt = repo.parent / "wt-feat"
    wctx = Context(cwd=wt, env={})
    author = new_session(wctx, "author")
    api.call(wctx, "lock.acquire", {"paths": ["docs/"], "release_on_land": True,
                                    "session": author})
    api.call(wctx, "merge.request", {"branch": "feat", "session": author})
    # The author moves on to its next branch before feat lands.
    git(wt, "switch", "-q", "-c", "next")
    api.call(wctx, "lock.acquire", {"paths": ["src/api/"], "release_on_land": True,
                                    "session": author})
    reviewer = new_session(wctx, "reviewer")
    api.call(wctx, "merge.review", {"id": "Q-1", "approve": True, "session": reviewer})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    assert [lk["path"] for lk in out["released_locks"]] == ["docs/"]
    held = api.call(wctx, "lock.list", {})["locks"]
    assert [(lk["path"], lk["branch"]) for lk in held] == [("src/api/", "next")]
    wctx.close()


def test_worktree_list_names_the_landers_worktree(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    approved_branch(repo, "feat", {"docs/f.md": "f\n"})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    listed = json.loads(orch(repo, "worktree", "list", "--json").stdout)["worktrees"]
    kinds = {Path(w["path"]).name: w["kind"] for w in listed}
    assert kinds.get("work") == "lander"
