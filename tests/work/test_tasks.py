"""Task hierarchy rules, statuses, the plan graph (cycles, ready work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import NotFound, Refused, UsageError
from orch_core.state.context import Context
from testing.repos import orch, orch_json


def mk(ctx: Context, level: str, title: str, parent: str | None = None,
       priority: int = 0) -> str:
    params: dict[str, Any] = {"level": level, "title": title, "priority": priority}
    if parent:
        params["parent"] = parent
    return str(api.call(ctx, "task.create", params)["id"])


def chain(ctx: Context, name: str = "x", priority: int = 0) -> dict[str, str]:
    e = mk(ctx, "epic", f"epic {name}")
    f = mk(ctx, "feature", f"feature {name}", e)
    g = mk(ctx, "testgroup", f"group {name}", f)
    c = mk(ctx, "case", f"case {name}", g, priority)
    return {"epic": e, "feature": f, "testgroup": g, "case": c}


def test_hierarchy_rules(ctx: Context) -> None:
    ids = chain(ctx)
    s = mk(ctx, "step", "one step", ids["case"])
    assert api.call(ctx, "task.get", {"id": s})["path"] == [
        {"id": ids[lv], "level": lv, "title": t} for lv, t in
        (("epic", "epic x"), ("feature", "feature x"), ("testgroup", "group x"),
         ("case", "case x"))]
    with pytest.raises(UsageError, match="an epic has no parent"):
        mk(ctx, "epic", "bad", ids["epic"])
    with pytest.raises(UsageError, match="a feature needs a parent epic"):
        mk(ctx, "feature", "orphan")
    with pytest.raises(UsageError, match=r"a case.s parent must be a testgroup; .* is a feature"):
        mk(ctx, "case", "skips a level", ids["feature"])
    with pytest.raises(UsageError, match=r"a step.s parent must be a case; .* is an epic"):
        mk(ctx, "step", "too high", ids["epic"])
    with pytest.raises(NotFound):
        mk(ctx, "feature", "ghost parent", "E-999")
    with pytest.raises(UsageError, match="must be one of"):
        api.call(ctx, "task.create", {"level": "story", "title": "t"})
    # Refusals wrote nothing.
    assert api.call(ctx, "task.list")["count"] == 5


def test_status_and_rollup(ctx: Context) -> None:
    ids = chain(ctx)
    c2 = mk(ctx, "case", "second", ids["testgroup"])
    with pytest.raises(UsageError):
        api.call(ctx, "task.set_status", {"id": c2, "status": "done"})
    api.call(ctx, "task.set_status", {"id": ids["case"], "status": "succeeded"})
    assert api.call(ctx, "task.get", {"id": ids["testgroup"]})["status"] == "running"
    api.call(ctx, "task.set_status", {"id": c2, "status": "canceled", "reason": "dup"})
    for lv in ("testgroup", "feature", "epic"):
        assert api.call(ctx, "task.get", {"id": ids[lv]})["status"] == "succeeded"
    listed = api.call(ctx, "task.list", {"status": "canceled"})["tasks"]
    assert [t["id"] for t in listed] == [c2] and listed[0]["reason"] == "dup"
    # New work under a finished parent reopens it.
    mk(ctx, "case", "third", ids["testgroup"])
    assert api.call(ctx, "task.get", {"id": ids["epic"]})["status"] == "running"


def test_tree_order(ctx: Context) -> None:
    a = chain(ctx, "a")
    b = chain(ctx, "b")
    mk(ctx, "case", "a2", a["testgroup"])
    tree = api.call(ctx, "task.list", {"tree": True})["tasks"]
    assert [(t["title"], t["depth"]) for t in tree] == [
        ("epic a", 0), ("feature a", 1), ("group a", 2), ("case a", 3), ("a2", 3),
        ("epic b", 0), ("feature b", 1), ("group b", 2), ("case b", 3)]
    assert b["case"] in {t["id"] for t in tree}


def test_dependency_cycles_refused(ctx: Context) -> None:
    a, b, c = (chain(ctx, n)["case"] for n in "abc")
    api.call(ctx, "plan.dep.add", {"blocker": a, "blocked": b})
    api.call(ctx, "plan.dep.add", {"blocker": b, "blocked": c})
    with pytest.raises(Refused, match=rf"cycle: {a} -> {b} -> {c} -> {a}") as e:
        api.call(ctx, "plan.dep.add", {"blocker": c, "blocked": a})
    assert e.value.code == "dep_cycle"
    with pytest.raises(Refused, match="itself"):
        api.call(ctx, "plan.dep.add", {"blocker": a, "blocked": a})
    got = api.call(ctx, "task.get", {"id": b})
    assert got["blocked_by"] == [{"id": a, "status": "queued"}] and got["blocks"] == [c]
    api.call(ctx, "plan.dep.remove", {"blocker": b, "blocked": c})
    api.call(ctx, "plan.dep.add", {"blocker": c, "blocked": a})  # no longer a cycle
    with pytest.raises(NotFound):
        api.call(ctx, "plan.dep.remove", {"blocker": b, "blocked": c})


def test_ready_respects_deps_parents_priority_and_holders(ctx: Context) -> None:
    low = chain(ctx, "low", priority=1)
    high = chain(ctx, "high", priority=5)
    waits = chain(ctx, "waits", priority=9)
    api.call(ctx, "plan.dep.add", {"blocker": low["case"], "blocked": waits["feature"]})

    def ready() -> list[str]:
        return [t["id"] for t in api.call(ctx, "plan.ready")["ready"]]

    # The blocked feature hides its case even though it has the highest priority.
    assert ready() == [high["case"], low["case"]]
    api.call(ctx, "task.set_status", {"id": low["case"], "status": "succeeded"})
    assert ready() == [waits["case"], high["case"]]
    api.call(ctx, "task.set_status", {"id": high["feature"], "status": "blocked"})
    assert ready() == [waits["case"]]
    any_level = {t["level"] for t in api.call(ctx, "plan.ready", {"level": "any"})["ready"]}
    assert "step" not in any_level and "case" in any_level


def test_ready_skips_cases_held_by_live_sessions(ctx: Context, repo: Path) -> None:
    ids = chain(ctx)
    other = chain(ctx, "other")
    sid = api.call(ctx, "session.open", {"owner": "a", "bind": False, "ttl": 60})["session_id"]
    api.call(ctx, "case.begin", {"id": ids["case"], "session": sid})
    api.call(ctx, "task.set_status", {"id": ids["case"], "status": "queued"})
    # Queued again, but its holder is alive: not ready for anyone else.
    assert [t["id"] for t in api.call(ctx, "plan.ready")["ready"]] == [other["case"]]


def test_cli_task_commands(repo: Path) -> None:
    e = orch_json(repo, "task", "create", "--level", "epic", "--title", "Shop")["id"]
    f = orch_json(repo, "task", "create", "--level", "feature", "--title", "Cart",
                  "--parent", e)["id"]
    bad = orch(repo, "task", "create", "--level", "case", "--title", "c", "--parent", e)
    assert bad.returncode == 2
    assert "a case's parent must be a testgroup" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert [t["id"] for t in orch_json(repo, "task", "list")["tasks"]] == [e, f]
    tree = orch(repo, "task", "list", "--tree", check=True).stdout
    assert "  [ ] F-2" in tree
    g = orch_json(repo, "task", "create", "--level", "testgroup", "--title", "g",
                  "--parent", f)["id"]
    c1 = orch_json(repo, "task", "create", "--level", "case", "--title", "c1",
                   "--parent", g)["id"]
    c2 = orch_json(repo, "task", "create", "--level", "case", "--title", "c2",
                   "--parent", g, "--priority", "3")["id"]
    orch(repo, "task", "dep", "add", c2, "--blocks", c1, check=True)
    cyc = orch(repo, "task", "dep", "add", c1, "--blocks", c2)
    assert cyc.returncode == 1 and "cycle" in cyc.stderr
    assert [t["id"] for t in orch_json(repo, "task", "ready")["ready"]] == [c2]
    orch(repo, "task", "set-status", c2, "succeeded", check=True)
    assert [t["id"] for t in orch_json(repo, "task", "ready")["ready"]] == [c1]
    orch(repo, "task", "dep", "rm", c2, "--blocks", c1, check=True)
    assert orch_json(repo, "task", "get", c1)["blocked_by"] == []
