"""Roles, same-owner review, risky-path approvals, case rules and the seeds' parameter
names, each refused and accepted through the CLI, JSON lines and MCP (real processes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.state.context import Context
from testing.repos import git, open_session, orch, orch_json
from tests.merge.test_queue import make_branch
from tests.team.fronts import FRONTS, Front
from tests.work.test_tasks import chain, mk

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
POLICY = """[locks]
default_ttl = 1800

[merge]
protected = ["main"]
checks = []
strategy = "merge"
"""


def commit_policy(repo: Path, extra: str) -> None:
    """The team's policy, committed on main (what every rule reads; never the work tree)."""
    (repo / ".orch.toml").write_text(POLICY + extra)
    git(repo, *NO_HOOKS, "commit", "-q", "-am", "policy")


@pytest.fixture(params=FRONTS)
def front(request: pytest.FixtureRequest, repo: Path) -> Iterator[Front]:
    f = Front(str(request.param), repo)
    yield f
    f.close()


def refused(got: tuple[bool, dict[str, Any]], code: str, *words: str) -> dict[str, Any]:
    ok, err = got
    assert not ok and err["code"] == code, err
    for w in words:
        assert w in err["message"], (w, err["message"])
    return err


def accepted(got: tuple[bool, dict[str, Any]]) -> dict[str, Any]:
    ok, out = got
    assert ok, out
    return out


def test_roles_and_same_owner_review(repo: Path, front: Front) -> None:
    commit_policy(repo, '[roles]\nmerge-reviewer = ["rita", "alice"]\n'
                        'main-worker = ["alice"]\n')
    make_branch(repo, "feat", {"docs/feat.md": "feat\n"})
    alice = open_session(repo, "alice")
    alice2 = open_session(repo, "alice")
    bob = open_session(repo, "bob")
    rita = open_session(repo, "rita")
    sam = open_session(repo, "sam")
    # main-worker: only alice may request.
    refused(front.call("merge.request", {"branch": "feat"}, bob), "role_required",
            "main-worker", "alice")
    entry = accepted(front.call("merge.request", {"branch": "feat"}, alice))
    qid = entry["id"]
    # A second session of the same owner is still the author.
    refused(front.call("merge.review", {"id": qid, "approve": True}, alice2), "self_review",
            "of another owner")
    # merge-reviewer: sam does not hold it; the refusal names the role and its holders.
    err = refused(front.call("merge.review", {"id": qid, "approve": True}, sam),
                  "role_required", "merge-reviewer", "rita, alice")
    assert "sam" in err["message"]
    out = accepted(front.call("merge.review", {"id": qid, "approve": True}, rita))
    assert out["state"] == "approved"
    assert [a["owner"] for a in out["approvals"]] == ["rita"]


def test_risky_paths_need_approvals_from_distinct_owners(repo: Path, front: Front) -> None:
    commit_policy(repo, '[roles]\nmerge-reviewer = ["rita", "sam", "alice"]\n\n'
                        '[[approval]]\npaths = ["migrations/"]\napprovals = 2\n'
                        'role = "merge-reviewer"\n')
    make_branch(repo, "risky", {"migrations/001.sql": "create table t;\n"})
    alice, alice2 = open_session(repo, "alice"), open_session(repo, "alice")
    rita, sam = open_session(repo, "rita"), open_session(repo, "sam")
    qid = accepted(front.call("merge.request", {"branch": "risky"}, alice))["id"]
    out = accepted(front.call("merge.review", {"id": qid, "approve": True}, rita))
    assert out["needs"][0]["missing"] == 1 and out["needs"][0]["have"] == ["rita"]
    # The lander refuses it until the second approval; nothing moves.
    main = git(repo, "rev-parse", "main").stdout
    refused(front.call("merge.main.land", {}, None), "approvals_needed", qid,
            "1 more approval", "migrations/001.sql")
    assert git(repo, "rev-parse", "main").stdout == main
    queue = accepted(front.call("merge.main.queue", {}, None))
    (row,) = [e for e in queue["entries"] if e["id"] == qid]
    assert row["needs"][0]["missing"] == 1 and row["needs"][0]["role"] == "merge-reviewer"
    ctx_out = accepted(front.call("merge.review_context", {"id": qid}, None))
    assert ctx_out["needs"][0]["matched"] == ["migrations/001.sql"]
    # The author's owner never counts, from any of its sessions.
    refused(front.call("merge.review", {"id": qid, "approve": True}, alice2), "self_review")
    out = accepted(front.call("merge.review", {"id": qid, "approve": True}, sam))
    assert out["needs"] == []
    landed = accepted(front.call("merge.main.land", {}, None))
    assert landed["landed"] is True, landed
    assert git(repo, "cat-file", "-e", "main:migrations/001.sql", check=False).returncode == 0


def test_mirror_refresh_needs_the_role_and_requests_reach_the_manager(
        repo: Path, front: Front) -> None:
    commit_policy(repo, '[roles]\ndoc-mirror-manager = ["dora"]\n')
    bob, dora = open_session(repo, "bob"), open_session(repo, "dora")
    refused(front.call("mirror.refresh", {}, bob), "role_required", "doc-mirror-manager",
            "dora")
    assert accepted(front.call("mirror.request", {"reason": "new epic"}, bob))["pending"]
    nxt = accepted(front.call("resume.next", {}, dora))
    assert [r["owner"] for r in nxt["mirror_requests"]] == ["bob"]
    assert nxt["what"] == "mirror" and "mirror refresh" in nxt["next_action"]
    accepted(front.call("mirror.refresh", {}, dora))
    assert accepted(front.call("resume.next", {}, dora))["mirror_requests"] == []
    # bob, not the manager, is not told about requests.
    assert "mirror_requests" not in accepted(front.call("resume.next", {}, bob))


def test_case_rules(repo: Path, ctx: Context, front: Front) -> None:
    commit_policy(repo, "[cases]\nrequire_contract = true\n")
    first = chain(ctx, "first")
    second = chain(ctx, "second")
    blocker = mk(ctx, "case", "the blocker", first["testgroup"])
    api.call(ctx, "plan.dep.add", {"blocker": blocker, "blocked": first["case"]})
    w = open_session(repo, "worker")
    other = open_session(repo, "other")
    contract = {"contract": "users table exists"}
    refused(front.call("case.begin", {"id": first["case"]}, w), "contract_required",
            "require_contract")
    refused(front.call("case.begin", {"id": first["case"], **contract}, w), "blocked_by",
            blocker)
    accepted(front.call("case.begin", {"id": first["case"], **contract, "force": True}, w))
    forced = ctx.store.conn.execute(
        "SELECT data FROM events WHERE kind='case.begin' ORDER BY seq DESC LIMIT 1").fetchone()
    assert json.loads(forced[0])["forced"] == [f"blockers {blocker}"]
    refused(front.call("case.begin", {"id": second["case"], **contract}, w), "case_running",
            first["case"])
    # Another live session may not cancel the worker's case without --force.
    refused(front.call("task.set_status", {"id": first["case"], "status": "canceled"}, other),
            "case_held", w)
    stamp = repo / ".git" / "orch" / "stamp" / f"{w}.json"
    assert first["case"] in stamp.read_text()
    accepted(front.call("task.set_status", {"id": first["case"], "status": "canceled",
                                            "force": True}, other))
    # The worker's next commit no longer carries the canceled case.
    assert first["case"] not in stamp.read_text()
    accepted(front.call("case.begin", {"id": second["case"], **contract}, w))


@pytest.mark.parametrize("kind", ["jsonl", "mcp"])
def test_the_seeds_parameter_names(repo: Path, ctx: Context, kind: str) -> None:
    """The CLI names parameters by its own flags; the seeds' JSON names are for the
    JSON-lines and MCP front ends, which share the one dispatcher."""
    f = Front(kind, repo)
    try:
        ids = chain(ctx, "api")
        opened = accepted(f.raw("session.open", {"owner_or_session": "seed-agent",
                                                  "terminal_fingerprint": "tty-7",
                                                  "bind": False}))
        sid = opened["session_id"]
        assert opened["owner"] == "seed-agent"
        got = accepted(f.raw("lock.acquire", {"session_id": sid, "path": "src/api/",
                                              "task_id": ids["case"]}))
        lock_id = got["locks"][0]["id"]
        assert got["locks"][0]["task"] == ids["case"]
        assert accepted(f.raw("task.get", {"task_id": ids["case"]}))["id"] == ids["case"]
        assert accepted(f.raw("task.get", {"feature_id": ids["feature"]}))["level"] == "feature"
        # A name and its alias that disagree is a usage error, and changes nothing.
        other = open_session(repo, "someone")
        err = refused(f.raw("lock.release", {"session_id": sid, "session": other,
                                             "lock_id": lock_id}), "invalid_params",
                      "'session'", "'session_id'")
        assert err["details"]["aliases"]["lock_id"] == "targets"
        assert orch_json(repo, "lock", "list")["locks"][0]["id"] == lock_id
        # The same value twice is fine.
        accepted(f.raw("lock.release", {"session_id": sid, "session": sid,
                                        "lock_id": lock_id}))
        described = accepted(f.raw("rpc.describe", {}))
        by_name = {m["name"]: m for m in described["methods"]}
        assert by_name["lock.release"]["aliases"]["lock_id"] == "targets"
        assert by_name["session.open"]["aliases"]["terminal_fingerprint"] == "fingerprint"
        assert by_name["worktree.merge_to_parent"]["aliases"]["source_worktrees"] == "child"
    finally:
        f.close()
    assert orch(repo, "lock", "list", "--json").returncode == 0
