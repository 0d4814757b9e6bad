"""The merge queue: order, priority, review by another session, prediction, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import NotFound, Refused, UsageError
from orch_core.git import objects as gitobjects
from orch_core.merge import queue as q
from orch_core.state.context import Context
from testing.repos import ORCH, add_worktree, git, make_repo, orch

ORCH_TOML = """[locks]
default_ttl = 1800

[merge]
protected = ["main"]
checks = {checks}
strategy = "{strategy}"
check_timeout = {timeout}
rules = [{{ pattern = "^(<<<<<<<|>>>>>>>)", message = "conflict marker" }}]
"""


def setup_repo(path: Path, checks: list[str] | None = None, strategy: str = "merge",
               timeout: int = 60) -> Path:
    """sample_repo with the given merge policy committed before the hooks go in."""
    make_repo(path, install=False)
    (path / ".orch.toml").write_text(ORCH_TOML.format(
        checks=json.dumps(checks if checks is not None else ["make check"]),
        strategy=strategy, timeout=timeout))
    git(path, "commit", "-q", "-am", "merge policy")
    orch(path, "install", check=True)
    return path


def new_session(ctx: Context, owner: str) -> str:
    out = api.call(ctx, "session.open", {"owner": owner, "bind": False})
    return str(out["session_id"])


def make_branch(repo: Path, name: str, files: dict[str, str], session: str | None = None,
                msg: str | None = None) -> Path:
    """A worktree on a new branch ``name`` from main with one commit of ``files``."""
    wt = repo.parent / f"wt-{name.replace('/', '-')}"
    if not wt.exists():
        add_worktree(repo, wt.name, name)
    env = {"ORCH_SESSION": session} if session else None
    for rel, text in files.items():
        p = wt / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        git(wt, "add", rel)
    git(wt, "commit", "-q", "-m", msg or f"{name}: change", env=env)
    return wt


def edit_line(repo: Path, rel: str, old: str, new: str) -> str:
    text = (repo / rel).read_text()
    assert old in text, (rel, old)
    return text.replace(old, new, 1)


def queue_tip(repo: Path) -> str:
    return git(repo, "rev-parse", "-q", "--verify", q.REF, check=False).stdout.strip()


@pytest.fixture
def mrepo(tmp_path: Path) -> Path:
    return setup_repo(tmp_path / "repo")


@pytest.fixture
def mctx(mrepo: Path) -> Iterator[Context]:
    c = Context(cwd=mrepo, env={})
    yield c
    c.close()


def request(ctx: Context, sid: str, branch: str, priority: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"branch": branch, "session": sid}
    if priority is not None:
        params["priority"] = priority
    out: dict[str, Any] = api.call(ctx, "merge.request", params)
    return out


def ids_in_order(ctx: Context) -> list[str]:
    return [e["id"] for e in api.call(ctx, "merge.main.queue", {})["entries"]]


def test_order_priority_and_positions(mrepo: Path, mctx: Context) -> None:
    a, b = new_session(mctx, "a"), new_session(mctx, "b")
    make_branch(mrepo, "one", {"docs/one.md": "one\n"})
    make_branch(mrepo, "two", {"docs/two.md": "two\n"})
    make_branch(mrepo, "three", {"docs/three.md": "three\n"})
    e1 = request(mctx, a, "one")
    e2 = request(mctx, b, "two")
    e3 = request(mctx, a, "three", priority=5)
    assert (e1["id"], e2["id"], e3["id"]) == ("Q-1", "Q-2", "Q-3")
    assert ids_in_order(mctx) == ["Q-3", "Q-1", "Q-2"]
    listing = api.call(mctx, "merge.main.queue", {})
    assert [e["position"] for e in listing["entries"]] == [1, 2, 3]
    assert all(e["state"] == "queued" and e["conflicts"] == [] for e in listing["entries"])
    # Re-requesting an active branch updates its entry instead of queueing it twice.
    make_branch(mrepo, "one", {"docs/one.md": "one, again\n"})
    again = request(mctx, a, "one", priority=9)
    assert again["id"] == "Q-1" and again["priority"] == 9
    assert ids_in_order(mctx) == ["Q-1", "Q-3", "Q-2"]
    # The queue is a CAS ref whose history is the audit log; the cache follows it.
    log = git(mrepo, "log", "--format=%s", q.REF).stdout
    assert "request Q-2: two" in log and "re-request Q-1" in log
    rows = mctx.store.conn.execute("SELECT id FROM queue ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["Q-1", "Q-2", "Q-3"]
    assert mctx.store.meta("queue_tip") == queue_tip(mrepo)


def test_review_needs_another_session(mrepo: Path, mctx: Context) -> None:
    author = new_session(mctx, "author")
    other = new_session(mctx, "reviewer")
    wt = make_branch(mrepo, "feat", {"docs/feat.md": "feat\n"})
    out = orch(wt, "merge", "request", "feat", "--json", session=author, check=True)
    entry = json.loads(out.stdout)
    assert entry["id"] == "Q-1"
    before = queue_tip(mrepo)
    self_review = orch(mrepo, "merge", "review", "Q-1", "--approve", session=author)
    assert self_review.returncode == 1
    assert "reviewer must be a different session" in self_review.stderr
    assert "Traceback" not in self_review.stderr
    assert queue_tip(mrepo) == before
    ok = orch(mrepo, "merge", "review", "Q-1", "--approve", session=other)
    assert ok.returncode == 0, ok.stderr
    assert api.call(mctx, "merge.main.queue", {})["entries"][0]["state"] == "approved"
    assert api.call(mctx, "merge.main.queue", {})["entries"][0]["reviewer"] == other
    # Rejection carries the reason to the author's fix list.
    make_branch(mrepo, "other", {"docs/other.md": "x\n"})
    request(mctx, author, "other")
    api.call(mctx, "merge.review", {"id": "Q-2", "approve": False, "reason": "needs tests",
                                    "session": other})
    fails = q.failures_for_session(mctx, author)
    assert [(f["id"], f["state"]) for f in fails] == [("Q-2", "rejected")]
    assert "needs tests" in fails[0]["reason"]
    assert "merge request other" in fails[0]["next_action"]


def test_conflict_prediction_true_and_false_positives(mrepo: Path, mctx: Context) -> None:
    a, b, r = new_session(mctx, "a"), new_session(mctx, "b"), new_session(mctx, "r")
    users = "src/api/users.py"
    # Same line, different text: a real conflict.
    make_branch(mrepo, "left", {users: edit_line(mrepo, users, '"ada"', '"ada lovelace"')})
    make_branch(mrepo, "right", {users: edit_line(mrepo, users, '"ada"', '"countess"')})
    # Same file, a far-away region: overlapping paths that merge cleanly.
    text = (mrepo / users).read_text()
    make_branch(mrepo, "tail", {users: text + "\n\nEXTRA = 1\n"})
    # Different files: nothing to merge at all.
    make_branch(mrepo, "docs", {"docs/new.md": "new\n"})
    request(mctx, a, "left")
    api.call(mctx, "merge.review", {"id": "Q-1", "approve": True, "session": r})
    request(mctx, b, "right")
    request(mctx, b, "tail")
    request(mctx, b, "docs")
    entries = {e["branch"]: e for e in api.call(mctx, "merge.main.queue", {})["entries"]}
    assert entries["right"]["conflicts"] == [
        {"with": "Q-1", "branch": "left", "files": [users]}]
    assert entries["tail"]["conflicts"] == []
    assert entries["docs"]["conflicts"] == []
    assert entries["left"]["conflicts"] == []
    # Prediction never touches a working tree.
    assert git(mrepo, "status", "--porcelain").stdout == ""
    ctx_out = api.call(mctx, "merge.review_context", {"id": "Q-2"})
    assert ctx_out["conflicts"][0]["files"] == [users]
    assert "countess" in ctx_out["diff"] and users in ctx_out["diffstat"]


def test_entry_conflicting_with_main_becomes_conflicted(mrepo: Path, mctx: Context) -> None:
    a, r = new_session(mctx, "a"), new_session(mctx, "r")
    users = "src/api/users.py"
    make_branch(mrepo, "first", {users: edit_line(mrepo, users, '"linus"', '"first"')})
    make_branch(mrepo, "second", {users: edit_line(mrepo, users, '"linus"', '"second"')},
                session=a)
    request(mctx, a, "first")
    request(mctx, a, "second")
    api.call(mctx, "merge.review", {"id": "Q-1", "approve": True, "session": r})
    api.call(mctx, "merge.review", {"id": "Q-2", "approve": True, "session": r})
    landed = api.call(mctx, "merge.main.land", {"session": r})
    assert landed["landed"], (landed["reason"], landed.get("log_tail"))
    entries = {e["id"]: e for e in api.call(mctx, "merge.main.queue", {})["entries"]}
    assert entries["Q-2"]["state"] == "conflicted"
    assert entries["Q-2"]["conflicts"][0]["files"] == [users]
    fails = q.failures_for_session(mctx, a)
    assert fails[0]["id"] == "Q-2" and users in fails[0]["reason"]
    # The author fixes the branch on top of main and re-requests: conflicts clear.
    wt = repo_wt(mrepo, "second")
    git(wt, "merge", "-q", "main", check=False)
    (wt / users).write_text(edit_line(mrepo, users, '"first"', '"first and second"'))
    git(wt, "add", users)
    git(wt, "commit", "-q", "--no-edit", "-m", "merge main")
    again = request(mctx, a, "second")
    assert again["id"] == "Q-2" and again["state"] == "queued" and again["conflicts"] == []
    assert q.failures_for_session(mctx, a) == []


def repo_wt(repo: Path, branch: str) -> Path:
    return repo.parent / f"wt-{branch}"


def test_cancel_rules(mrepo: Path, mctx: Context) -> None:
    a, b = new_session(mctx, "a"), new_session(mctx, "b")
    make_branch(mrepo, "feat", {"docs/f.md": "f\n"})
    request(mctx, a, "feat")
    with pytest.raises(Refused) as e:
        api.call(mctx, "merge.cancel", {"id": "Q-1", "session": b})
    assert e.value.code == "not_author"
    out = api.call(mctx, "merge.cancel", {"id": "Q-1", "session": a})
    assert out["state"] == "canceled"
    assert ids_in_order(mctx) == []
    with pytest.raises(Refused):
        api.call(mctx, "merge.cancel", {"id": "Q-1", "session": a})


def test_bad_input_is_refused_cleanly(mrepo: Path, mctx: Context) -> None:
    a = new_session(mctx, "a")
    make_branch(mrepo, "feat", {"docs/f.md": "f\n"})
    request(mctx, a, "feat")
    before = queue_tip(mrepo)
    main_before = git(mrepo, "rev-parse", "main").stdout
    cases: list[tuple[list[str], int, str]] = [
        (["merge", "review", "Q-99", "--approve"], 1, "unknown queue entry 'Q-99'"),
        (["merge", "context", "Q-99"], 1, "unknown queue entry"),
        (["merge", "cancel", "Q-42"], 1, "unknown queue entry"),
        (["merge", "request", "no-such-branch"], 1, "no local branch 'no-such-branch'"),
        (["merge", "request", "main"], 2, "protected branch"),
        (["merge", "land"], 1, "nothing approved to land"),
        (["merge", "review", "Q-1"], 2, "--approve or --reject"),
    ]
    for args, code, text in cases:
        proc = orch(mrepo, *args, session=a)
        assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        assert text in proc.stderr + proc.stdout, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    with pytest.raises(NotFound):
        api.call(mctx, "merge.review_context", {"id": "Q-7"})
    with pytest.raises(UsageError):
        api.call(mctx, "merge.review", {"id": "Q-1", "session": a})  # approve missing
    assert queue_tip(mrepo) == before
    assert git(mrepo, "rev-parse", "main").stdout == main_before


def test_malformed_orch_toml_names_file_line_and_key(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    ctx = Context(cwd=repo, env={})
    a, r = new_session(ctx, "a"), new_session(ctx, "r")
    make_branch(repo, "feat", {"docs/f.md": "f\n"})
    request(ctx, a, "feat")
    api.call(ctx, "merge.review", {"id": "Q-1", "approve": True, "session": r})
    ctx.close()
    before = queue_tip(repo)
    # Work on the policy in a detached worktree of main (main itself is protected).
    lander_wt = tmp_path / "lander"
    git(repo, "worktree", "add", "-q", "--detach", str(lander_wt), "main")
    text = (lander_wt / ".orch.toml").read_text()
    (lander_wt / ".orch.toml").write_text(text.replace('strategy = "merge"',
                                                       "strategy = 3"))
    proc = orch(lander_wt, "merge", "land", session=r)
    assert proc.returncode == 2, proc.stderr
    assert ".orch.toml:7: [merge] strategy: expected str" in proc.stderr
    (lander_wt / ".orch.toml").write_text(text.replace("check_timeout = 60",
                                                       "check_timeout = 60\nchecks_x = 1"))
    proc = orch(lander_wt, "merge", "queue")
    assert proc.returncode == 2 and "checks_x" in proc.stderr, proc.stderr
    assert queue_tip(repo) == before
    assert "Traceback" not in proc.stderr


def test_concurrent_requests_from_processes_lose_nothing(mrepo: Path, mctx: Context) -> None:
    n = 6
    sids = [new_session(mctx, f"agent{i}") for i in range(n)]
    for i in range(n):
        make_branch(mrepo, f"b{i}", {f"docs/b{i}.md": f"{i}\n"})
    procs = [subprocess.Popen([ORCH, "merge", "request", f"b{i}", "--json"], cwd=mrepo,
                              env={**_env(), "ORCH_SESSION": sids[i]},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    ids = sorted(json.loads(o[0])["id"] for o in outs)
    assert ids == sorted(f"Q-{i}" for i in range(1, n + 1))
    state = q.parse(gitobjects.cat_blob(mctx.repo, f"{q.REF}:{q.FILE}"))
    assert sorted(e.branch for e in state.entries) == sorted(f"b{i}" for i in range(n))


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("ORCH_SESSION", None)
    return env


def test_queue_json_read_has_positions(mrepo: Path, mctx: Context) -> None:
    a = new_session(mctx, "a")
    make_branch(mrepo, "feat", {"docs/f.md": "f\n"})
    request(mctx, a, "feat")
    proc = orch(mrepo, "merge", "queue", "--json")
    data = json.loads(proc.stdout)
    assert data["entries"][0]["position"] == 1 and data["merge_lock"] is None
    text = orch(mrepo, "merge", "queue").stdout
    assert "#1 Q-1" in text and "feat" in text
    assert sys.executable  # the console script runs under this interpreter's venv
