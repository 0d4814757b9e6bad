"""Real method results have exactly the keys their TypedDicts in api/results.py name."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, NotRequired, get_args, get_origin, get_type_hints, is_typeddict

from orch_core.api import dispatch as api
from orch_core.api import results as R
from orch_core.state.context import Context
from testing.repos import commit_file, git


def conforms(td: Any, value: Any, where: str = "result") -> None:
    """Keys of ``value`` match TypedDict ``td``, recursively through lists and unions."""
    if is_typeddict(td):
        assert isinstance(value, dict), where
        required = td.__required_keys__
        allowed = required | td.__optional_keys__
        assert required <= set(value), (where, sorted(required - set(value)))
        assert set(value) <= allowed, (where, sorted(set(value) - allowed))
        hints = get_type_hints(td)
        for key, hint in hints.items():
            if key in value:
                conforms(hint, value[key], f"{where}.{key}")
        return
    origin = get_origin(td)
    if origin is NotRequired:
        conforms(get_args(td)[0], value, where)
    elif origin is list:
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            conforms(get_args(td)[0], item, f"{where}[{i}]")
    elif origin in (typing.Union, types.UnionType):
        shapes = [a for a in get_args(td) if a is not type(None)]
        if value is not None and len(shapes) == 1:
            conforms(shapes[0], value, where)


def test_results_match_their_types(ctx: Context, repo: Path) -> None:
    def call(name: str, **params: Any) -> Any:
        return api.call(ctx, name, params)

    a = call("session.open", owner="a", bind=False)
    conforms(R.SessionOpened, a)
    b = call("session.open", owner="b", bind=False)
    sa, sb = a["session_id"], b["session_id"]
    conforms(R.SessionListing, call("session.list"))
    conforms(R.SessionJson, call("session.heartbeat", session=sa))
    conforms(R.LockAcquired, call("lock.acquire", paths=["docs/", "README.md"], session=sa,
                                  task="T-1"))
    conforms(R.LockListing, call("lock.list"))
    check = call("lock.check", paths=["docs/x.md", "src/y.py"], session=sb)
    conforms(R.LockCheck, check)
    assert not check["ok"] and check["paths"][0]["conflicts"]
    conforms(R.LockCheck, call("lock.check", paths=["src/"]))
    conforms(R.LockRenewed, call("lock.heartbeat", session=sa))
    conforms(R.LockReleased, call("lock.release", targets=["README.md"], session=sa))
    conforms(R.LockReleased, call("lock.release", targets=["docs/"], force=True, session=sb))
    ids = {}
    parent = None
    for level in ("epic", "feature", "testgroup", "case", "step"):
        t = call("task.create", level=level, title=level, parent=parent)
        conforms(R.TaskJson, t)
        parent = ids[level] = t["id"]
    conforms(R.TaskListing, call("task.list"))
    conforms(R.TaskListing, call("task.list", tree=True))
    conforms(R.TaskDetail, call("task.get", id=ids["case"]))
    conforms(R.TaskJson, call("task.set_status", id=ids["epic"], status="blocked"))
    conforms(R.Resume, call("resume.next", session=sa))
    call("task.set_status", id=ids["epic"], status="queued")
    call("case.begin", id=ids["case"], locks=["src/"], session=sa)
    conforms(R.Resume, call("resume.next", session=sa))
    git(repo, "checkout", "-q", "-b", "feat")
    commit_file(repo, "docs/feat.md", "feat\n", "feat")
    c = Context(cwd=repo, env={})
    try:
        s = api.call(c, "session.open", {"owner": "f", "bind": True})["session_id"]
        conforms(R.QueueEntryJson, api.call(c, "merge.request", {"session": s}))
        conforms(R.QueueListing, api.call(c, "merge.main.queue", {}))
        conforms(R.SessionClosed, api.call(c, "session.close", {"session": s}))
    finally:
        c.close()
    conforms(R.SessionClosed, call("session.close", session=sa))


def test_a_worktree_session_is_a_session_opened(ctx: Context) -> None:
    conforms(R.SessionOpened, api.call(ctx, "session.open", {"owner": "w", "worktree": True}))
