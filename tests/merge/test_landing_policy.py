"""What a landing obeys: locks of other sessions, the policy committed on the protected
branch (never the work tree's), a merged policy that parses, diffs read with fixed
options, and fast-forwards where the strategy allows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orch_core.api import dispatch as api
from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from orch_core.merge import queue as q
from orch_core.state.context import Context
from testing.repos import git, orch
from tests.merge.test_landing import approved_branch, land_cli, rev, state_of
from tests.merge.test_queue import edit_line, make_branch, new_session, setup_repo

USERS = "src/api/users.py"
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def _commit_on_main_without_hooks(repo: Path, rel: str, text: str) -> str:
    (repo / rel).write_text(text)
    git(repo, *NO_HOOKS, "commit", "-q", "-am", f"main: {rel}")
    return rev(repo, "HEAD")


def _aside(repo: Path) -> tuple[Path, Path]:
    shim = repo / ".git" / "hooks" / "reference-transaction"
    return shim, shim.with_name("reference-transaction.aside")


@pytest.mark.parametrize("how", ["hooks-off commit", "revert", "cherry-pick"])
def test_a_change_to_another_sessions_locked_path_is_refused_at_landing(
        tmp_path: Path, how: str) -> None:
    repo = setup_repo(tmp_path / "repo", checks=["true"])
    on_main = _commit_on_main_without_hooks(
        repo, USERS, edit_line(repo, USERS, '"ada"', '"adb"'))
    git(repo, "switch", "-q", "-c", "source")
    picked = _commit_on_main_without_hooks(
        repo, USERS, edit_line(repo, USERS, '"adb"', '"eve"'))
    git(repo, "switch", "-q", "main")
    ctx = Context(cwd=repo, env={})
    holder = new_session(ctx, "holder")
    api.call(ctx, "lock.acquire", {"paths": [USERS], "session": holder})
    wt = make_branch(repo, "sneak", {"docs/cover.md": "cover\n"})
    if how == "hooks-off commit":
        (wt / USERS).write_text(edit_line(wt, USERS, '"adb"', '"mallory"'))
        git(wt, *NO_HOOKS, "commit", "-q", "-am", "sneak past the lock")
    else:
        shim, aside = _aside(repo)
        shutil.move(shim, aside)
        try:
            args = ["revert", "--no-edit", on_main] if how == "revert" else [
                "cherry-pick", picked]
            git(wt, *args)
        finally:
            shutil.move(aside, shim)
    wctx = Context(cwd=wt, env={})
    author = new_session(wctx, "author")
    # merge request warns, in its result and in the CLI text.
    queued = api.call(wctx, "merge.request", {"branch": "sneak", "session": author})
    assert USERS in queued["warning"] and holder in queued["warning"], queued
    text = orch(wt, "--session", author, "merge", "request", "sneak").stdout
    assert "warning:" in text and holder in text, text
    reviewer = new_session(wctx, "reviewer")
    api.call(wctx, "merge.review", {"id": queued["id"], "approve": True,
                                    "session": reviewer})
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and not out["landed"] and out["state"] == "failed", out
    assert USERS in out["reason"] and holder in out["reason"] and "holder" in out["reason"]
    assert out["checks"] == []
    assert rev(repo, "main") == old
    st = state_of(repo)
    assert st.lease is None and st.get(queued["id"]).state == q.FAILED
    # The failure reaches the author through `resume next`.
    nxt = json.loads(orch(wt, "--session", author, "resume", "next", "--json").stdout)
    assert nxt["what"] == "fix" and nxt["merge_failures"][0]["id"] == queued["id"]
    assert holder in nxt["merge_failures"][0]["reason"]
    # Once the holder releases, the same entry lands.
    api.call(ctx, "lock.release", {"targets": [USERS], "session": holder})
    again = api.call(wctx, "merge.request", {"branch": "sneak", "session": author})
    assert "warning" not in again
    api.call(wctx, "merge.review", {"id": again["id"], "approve": True, "session": reviewer})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    ctx.close()
    wctx.close()


def test_the_authors_own_lock_and_main_merged_in_are_not_refused(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo", checks=["true"])
    wt = make_branch(repo, "mine", {"docs/mine.md": "mine\n"})
    wctx = Context(cwd=wt, env={})
    author = new_session(wctx, "author")
    api.call(wctx, "lock.acquire", {"paths": [USERS], "session": author})
    (wt / USERS).write_text(edit_line(wt, USERS, '"ada"', '"bob"'))
    git(wt, "commit", "-q", "-am", "my locked file", env={"ORCH_SESSION": author})
    # main changes another session's locked file; merging main in is not the branch's change.
    other = new_session(wctx, "other")
    todos = "src/api/todos.py"
    _commit_on_main_without_hooks(repo, todos, (repo / todos).read_text() + "# main\n")
    api.call(wctx, "lock.acquire", {"paths": [todos], "session": other})
    git(wt, *NO_HOOKS, "merge", "-q", "--no-edit", "main")
    entry = api.call(wctx, "merge.request", {"branch": "mine", "session": author})
    assert "warning" not in entry
    api.call(wctx, "merge.review", {"id": entry["id"], "approve": True, "session": other})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    wctx.close()


def test_the_work_trees_base_chooses_neither_branch_nor_policy(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo", checks=["false"])
    # An unreviewed branch with a weak policy that says it is for main...
    weak = make_branch(repo, "weak", {".orch.toml": '[merge]\nbase = "main"\n'
                                                    'protected = ["main"]\nchecks = []\n'})
    assert (weak / ".orch.toml").exists()
    for n in (1, 2, 3):
        approved_branch(repo, f"feat{n}", {f"docs/f{n}.md": "f\n"})
    old, weak_tip = rev(repo, "main"), rev(repo, "weak")
    lander_wt = tmp_path / "lander"
    git(repo, "worktree", "add", "-q", "--detach", str(lander_wt), "main")
    nopolicy = tmp_path / "wt-nopolicy"
    git(repo, "worktree", "add", "-q", "-b", "nopolicy", str(nopolicy), "main")
    git(nopolicy, "rm", "-q", ".orch.toml")
    git(nopolicy, *NO_HOOKS, "commit", "-q", "-m", "no policy here")
    assert git(repo, "cat-file", "-e", "nopolicy:.orch.toml", check=False).returncode != 0
    for local in ('[merge]\nbase = "weak"\nchecks = []\n',
                  '[merge]\nbase = "nopolicy"\nprotected = ["nopolicy"]\n'):
        (lander_wt / ".orch.toml").write_text(local)
        code, out = land_cli(lander_wt)
        assert code == 1 and out["state"] == "failed" and "`false`" in out["reason"], out
        assert rev(repo, "main") == old and rev(repo, "weak") == weak_tip


def test_without_a_committed_policy_the_defaults_land_and_keep_the_lock_rule(
        tmp_path: Path) -> None:
    from testing.repos import make_repo

    repo = make_repo(tmp_path / "repo", install=False)
    git(repo, "rm", "-q", ".orch.toml")
    git(repo, "commit", "-q", "-m", "no policy")
    orch(repo, "install", check=True)  # writes .orch.toml; nobody commits it
    assert git(repo, "cat-file", "-e", "main:.orch.toml", check=False).returncode != 0
    ctx = Context(cwd=repo, env={})
    holder = new_session(ctx, "holder")
    api.call(ctx, "lock.acquire", {"paths": [USERS], "session": holder})
    wt = make_branch(repo, "sneak", {"docs/x.md": "x\n"})
    (wt / USERS).write_text(edit_line(wt, USERS, '"ada"', '"bob"'))
    git(wt, *NO_HOOKS, "commit", "-q", "-am", "locked")
    author, reviewer = new_session(ctx, "author"), new_session(ctx, "reviewer")
    api.call(ctx, "merge.request", {"branch": "sneak", "session": author})
    api.call(ctx, "merge.review", {"id": "Q-1", "approve": True, "session": reviewer})
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and holder in out["reason"] and rev(repo, "main") == old, out
    make_branch(repo, "fine", {"docs/fine.md": "fine\n"})
    api.call(ctx, "merge.request", {"branch": "fine", "session": author})
    api.call(ctx, "merge.review", {"id": "Q-2", "approve": True, "session": reviewer})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"] and out["checks"] == [], out
    ctx.close()


@pytest.mark.parametrize("policy", [
    '[merge]\nprotected = ["main"]\nchecks = ["make check"\n',       # TOML syntax
    '[merge]\nprotected = ["main"]\nchekcs = ["make check"]\n',      # unknown key
    '[merge]\nprotected = ["main"]\nbase = "elsewhere"\n',           # another base
])
def test_a_malformed_policy_never_reaches_main(tmp_path: Path, policy: str) -> None:
    repo = setup_repo(tmp_path / "repo")
    # Committed with the hooks off and queued from the main worktree: in its own work
    # tree the typo already stops orch, as it would stop every landing on main.
    wt = tmp_path / "wt-typo"
    git(repo, "worktree", "add", "-q", "-b", "typo", str(wt))
    (wt / ".orch.toml").write_text(policy)
    git(wt, *NO_HOOKS, "commit", "-q", "-am", "policy with a typo")
    ctx = Context(cwd=repo, env={})
    author, reviewer = new_session(ctx, "author"), new_session(ctx, "reviewer")
    api.call(ctx, "merge.request", {"branch": "typo", "session": author})
    api.call(ctx, "merge.review", {"id": "Q-1", "approve": True, "session": reviewer})
    ctx.close()
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and out["state"] == "failed" and ".orch.toml" in out["reason"], out
    assert rev(repo, "main") == old and git(repo, "status", "--porcelain").stdout == ""
    # The queue is not jammed: the next entry lands, and so does a good policy change.
    good = (repo / ".orch.toml").read_text().replace("default_ttl = 1800", "default_ttl = 900")
    approved_branch(repo, "fixed", {".orch.toml": good, "docs/n.md": "n\n"})
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    assert git(repo, "show", "main:.orch.toml").stdout == good


@pytest.mark.parametrize("name", ["café.py", "tab\there.py", 'quote"d.py'])
def test_rules_apply_to_quoted_paths_and_under_diff_noprefix(tmp_path: Path,
                                                             name: str) -> None:
    repo = setup_repo(tmp_path / "repo")
    for key, value in (("diff.noprefix", "true"), ("diff.mnemonicPrefix", "true"),
                       ("color.diff", "always"), ("diff.relative", "true"),
                       ("core.quotePath", "true")):
        git(repo, "config", key, value)
    approved_branch(repo, "marker", {f"docs/{name}": "ok\n++ looks like a header\n"
                                                     "<<<<<<< HEAD\n"})
    old = rev(repo, "main")
    code, out = land_cli(repo)
    assert code == 1 and "conflict marker" in out["reason"], out
    assert f"docs/{name}:3" in out["reason"] and rev(repo, "main") == old


def test_added_lines_reads_content_that_looks_like_a_header(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, "odd", {"docs/a b.md": "++ b/not-a-file\n--- a/nor-this\nend\n"})
    r = gitrepo.discover(repo)
    got = githistory.added_lines(r, "main", "odd")
    assert got == [("docs/a b.md", 1, "++ b/not-a-file"), ("docs/a b.md", 2, "--- a/nor-this"),
                   ("docs/a b.md", 3, "end")]
    assert githistory.unquote_path('"b/caf\\303\\251\\t\\"x\\\\"') == 'b/café\t"x\\'


def test_merge_strategy_fast_forwards_to_what_the_upstream_already_has(
        tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    # The team's remote moved on: the branch queued here is exactly origin/main.
    make_branch(repo, "team", {"docs/team.md": "team\n"})
    git(repo, "push", "-q", "--no-verify", "origin", "team:main")  # as another clone did
    git(repo, "fetch", "-q", "origin")
    approved_branch(repo, "team", {"docs/team2.md": "more\n"})  # on top: not published
    git(repo, "push", "-q", "--no-verify", "origin", "team:main")
    git(repo, "fetch", "-q", "origin")
    code, out = land_cli(repo)
    assert code == 0 and out["landed"], out
    assert rev(repo, "main") == rev(repo, "origin/main") == rev(repo, "team")
    assert git(repo, "status", "-sb").stdout.splitlines()[0] == "## main...origin/main"
