"""The Case lifecycle: ownership between sessions, locks taken with the case, steps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import Conflict, Refused
from orch_core.state import store
from orch_core.state.context import Context
from testing.repos import open_session, orch, orch_json
from tests.work.test_tasks import chain, mk


def session(ctx: Context, owner: str, ttl: int = 600) -> str:
    return str(api.call(ctx, "session.open", {"owner": owner, "bind": False,
                                              "ttl": ttl})["session_id"])


def case_with_steps(ctx: Context, n: int = 2) -> tuple[dict[str, str], list[str]]:
    ids = chain(ctx)
    return ids, [mk(ctx, "step", f"step {i}", ids["case"]) for i in range(n)]


def test_case_ownership_between_two_sessions(ctx: Context) -> None:
    ids, steps = case_with_steps(ctx)
    a, b = session(ctx, "alice"), session(ctx, "bob")
    got = api.call(ctx, "case.begin", {"id": ids["case"], "session": a,
                                       "contract": "cart is empty", "fixtures": ["f.json"]})
    assert got["holder"] == a and got["status"] == "running"
    assert got["contract"] == "cart is empty" and got["fixtures"] == ["f.json"]
    with pytest.raises(Refused, match=f"held by live session {a} \\(alice\\)") as e:
        api.call(ctx, "case.begin", {"id": ids["case"], "session": b})
    assert e.value.code == "case_held"
    for name, params in (("step.check", {"id": steps[0]}),
                         ("case.complete", {"id": ids["case"], "next": "x", "force": True}),
                         ("case.fail", {"id": ids["case"], "reason": "x"})):
        with pytest.raises(Refused, match="held by live session"):
            api.call(ctx, name, {**params, "session": b})
    assert api.call(ctx, "task.get", {"id": ids["case"]})["holder"] == a
    # Beginning it again as the holder is fine (idempotent).
    api.call(ctx, "case.begin", {"id": ids["case"], "session": a})


def test_dead_holder_does_not_block(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, _ = case_with_steps(ctx)
    a = session(ctx, "alice", ttl=5)
    api.call(ctx, "case.begin", {"id": ids["case"], "session": a})
    # Dead: past heartbeat + ttl (5 s) + grace (60 s); before that it is only interrupted.
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "66")
    b = session(ctx, "bob")
    got = api.call(ctx, "case.begin", {"id": ids["case"], "session": b})
    assert got["holder"] == b and got["previous_holder"] == a


def test_steps_complete_fail_and_events(ctx: Context) -> None:
    ids, steps = case_with_steps(ctx, 2)
    a = session(ctx, "alice")
    v0 = ctx.store.db_version()
    api.call(ctx, "case.begin", {"id": ids["case"], "session": a})
    r = api.call(ctx, "step.check", {"id": steps[0], "session": a})
    assert r["steps"]["done"] == 1 and r["steps"]["total"] == 2
    with pytest.raises(Refused, match="1 open step") as e:
        api.call(ctx, "case.complete", {"id": ids["case"], "next": "ship it", "session": a})
    assert e.value.code == "steps_open"
    api.call(ctx, "step.check", {"id": steps[1], "session": a})
    r = api.call(ctx, "step.uncheck", {"id": steps[1], "session": a})
    assert [s["id"] for s in r["steps"]["open_steps"]] == [steps[1]]
    api.call(ctx, "step.check", {"id": steps[1], "session": a})
    done = api.call(ctx, "case.complete", {"id": ids["case"], "next": "ship it",
                                           "session": a})
    assert done["status"] == "succeeded" and done["next_action"] == "ship it"
    assert api.call(ctx, "task.get", {"id": ids["epic"]})["status"] == "succeeded"
    kinds = [e["kind"] for e in store.events(ctx.store, v0)]
    assert kinds == ["case.begin", "step.check", "step.check", "step.uncheck", "step.check",
                     "case.complete"]
    assert api.call(ctx, "session.list")["sessions"][0]["current_case"] is None
    # A finished case cannot be begun again; failing another records the reason.
    with pytest.raises(Refused, match="already succeeded"):
        api.call(ctx, "case.begin", {"id": ids["case"], "session": a})
    other = mk(ctx, "case", "other", ids["testgroup"])
    api.call(ctx, "case.begin", {"id": other, "session": a})
    failed = api.call(ctx, "case.fail", {"id": other, "reason": "flaky fixture",
                                         "session": a})
    assert failed["status"] == "failed" and failed["reason"] == "flaky fixture"


def test_begin_takes_locks_all_or_nothing(ctx: Context) -> None:
    ids, _ = case_with_steps(ctx)
    second = chain(ctx, "second")["case"]
    a, b = session(ctx, "alice"), session(ctx, "bob")
    got = api.call(ctx, "case.begin", {"id": ids["case"], "session": a,
                                       "locks": ["src/api/", "README.md"]})
    assert sorted(lk["path"] for lk in got["locks"]) == ["README.md", "src/api/"]
    held = api.call(ctx, "lock.list")["locks"]
    assert {lk["task"] for lk in held} == {ids["case"]}
    with pytest.raises(Conflict):
        api.call(ctx, "case.begin", {"id": second, "session": b,
                                     "locks": ["docs/", "src/api/users.py"]})
    # Nothing taken: no case, no partial locks.
    assert api.call(ctx, "task.get", {"id": second})["holder"] is None
    assert all(lk["session"] == a for lk in api.call(ctx, "lock.list")["locks"])


def test_case_cli_through_console_script(repo: Path) -> None:
    sid = open_session(repo, "alice")
    ids: dict[str, Any] = {}
    parent = None
    for level in ("epic", "feature", "testgroup", "case"):
        args = ["task", "create", "--level", level, "--title", level.title()]
        if parent:
            args += ["--parent", parent]
        parent = ids[level] = orch_json(repo, *args)["id"]
    step = orch_json(repo, "task", "create", "--level", "step", "--title", "write it",
                     "--parent", ids["case"])["id"]
    out = orch(repo, "case", "begin", ids["case"], "--contract", "input ok", "--fixture",
               "tests/fixtures/a.json", "--lock", "src/", session=sid, check=True).stdout
    assert "steps 0/1 done" in out and "locked src/" in out
    refused = orch(repo, "case", "complete", ids["case"], "--next", "deploy", session=sid)
    assert refused.returncode == 1 and "open step" in refused.stderr
    assert "--force" in refused.stderr
    orch(repo, "step", "check", step, session=sid, check=True)
    done = orch_json(repo, "case", "complete", ids["case"], "--next", "deploy", session=sid)
    assert done["status"] == "succeeded"
    assert os.path.exists(repo / ".git" / "orch" / "stamp" / f"{sid}.json")
