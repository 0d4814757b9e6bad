"""The JSON-lines server: the real `orch-hooks serve` process, driven over pipes.

Property tests throw random and malformed lines at one long-lived server and
check that every line gets exactly one response, that no bad request changes
state (db_version and the lock ref), and that the server keeps serving.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_core.api import dispatch as api
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.servers import jsonl as server
from orch_core.state.context import Context
from orch_core.state.store import open_store
from testing.repos import ORCH, git

ISSUE_5_METHODS = [
    "workspace.init", "session.open", "session.list", "session.close", "session.heartbeat",
    "task.create", "task.list", "task.get", "plan.dep.add", "plan.dep.remove", "plan.ready",
    "scheduler.decide_worktree", "worktree.create", "worktree.list", "worktree.merge_to_parent",
    "worktree.gc", "lock.acquire", "lock.heartbeat", "lock.release", "lock.list", "lock.check",
    "case.begin", "step.check", "case.complete", "resume.next", "resume.candidates.list",
    "resume.candidates.attach", "work.current_ref", "work.current_ref.ack", "merge.request",
    "merge.review", "merge.review_context", "merge.main.queue", "merge.main.land",
    "mirror.status", "mirror.refresh", "rpc.describe",
]


class Served:
    """A running `orch-hooks serve` with line-level send/receive."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        full = dict(os.environ)
        full.update(env or {})
        self.proc = subprocess.Popen([ORCH, "serve"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full)
        self.buf = b""
        self.n = 0

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout: float = 20.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"no response within {timeout}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"server closed stdout (rc {self.proc.poll()})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        out: dict[str, Any] = json.loads(line)
        return out

    def pending(self) -> bool:
        """Is anything more on stdout right now (beyond what was read)?"""
        assert self.proc.stdout is not None
        if self.buf:
            return True
        ready, _, _ = select.select([self.proc.stdout.fileno()], [], [], 0.05)
        return bool(ready)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.n += 1
        rid = f"r{self.n}"
        self.send_raw(json.dumps({"id": rid, "method": method, "params": params or {}})
                      .encode())
        resp = self.read()
        assert resp["id"] == rid
        return resp

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        rest = self.proc.stdout.read() if self.proc.stdout else b""
        err = self.proc.stderr.read() if self.proc.stderr else b""
        rc = self.proc.wait(timeout=20)
        self._close_pipes()
        assert rest == b"", f"unexpected output after the last response: {rest!r}"
        return rc, err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None and not f.closed:
                f.close()


@pytest.fixture
def served(repo: Path) -> Any:
    s = Served(repo)
    yield s
    s.kill()


def state_of(repo: Path) -> tuple[int, str | None]:
    store = open_store(repo / ".git" / "orch")
    try:
        return store.db_version(), gitrefs.read_ref_file(repo / ".git", "refs/orch/locks")
    finally:
        store.close()


def test_agent_flow_and_clean_exit(served: Served) -> None:
    a = served.call("session.open", {"owner": "agent-a", "bind": False})["result"]
    b = served.call("session.open", {"owner": "agent-b", "bind": False})["result"]
    got = served.call("lock.acquire", {"paths": ["src/api/"], "session": a["session_id"],
                                       "task": "C-1"})
    assert got["result"]["paths"] == ["src/api/"]
    check = served.call("lock.check", {"paths": ["src/api/users.py"],
                                       "session": b["session_id"]})["result"]
    assert not check["ok"] and check["paths"][0]["conflicts"][0]["holder_session"] == a["id"]
    refused = served.call("lock.acquire", {"paths": ["src/api/x.py"],
                                           "session": b["session_id"]})["error"]
    assert refused["code"] == "lock_conflict" and refused["hint"]
    assert refused["details"]["conflicts"][0]["task"] == "C-1"
    assert refused["details"]["schema"] == api.get("lock.acquire").schema
    rel = served.call("lock.release", {"targets": ["src/api/"], "session": a["session_id"]})
    assert len(rel["result"]["released"]) == 1
    assert served.call("lock.check", {"paths": ["src/api/users.py"],
                                      "session": b["session_id"]})["result"]["ok"]
    rc, err = served.close()
    assert rc == 0 and "Traceback" not in err


def test_rpc_describe_lists_every_registered_method(served: Served) -> None:
    got = served.call("rpc.describe")["result"]["methods"]
    names = [m["name"] for m in got]
    assert names == sorted(api.load())
    for m in got:
        assert m["params"]["type"] == "object" and m["summary"]


def test_every_method_named_in_issue_5_is_registered() -> None:
    """Fails until every area's methods are registered; the servers expose the registry."""
    missing = [n for n in ISSUE_5_METHODS if n not in api.load()]
    assert missing == []


def test_bad_lines_get_errors_with_schemas(served: Served) -> None:
    served.send_raw(b"this is not json")
    r = served.read()
    assert r["id"] is None and r["error"]["code"] == "parse_error"
    assert r["error"]["details"]["request_schema"] == server.REQUEST_SCHEMA
    served.send_raw(b"[1, 2]")
    assert served.read()["error"]["code"] == "invalid_request"
    served.send_raw(b'{"id": 7, "method": "no.such"}')
    r = served.read()
    assert r["id"] == 7 and r["error"]["code"] == "unknown_method"
    assert "lock.acquire" in r["error"]["details"]["methods"]
    r = served.call("lock.acquire", {})
    assert r["error"]["code"] == "invalid_params" and "paths" in r["error"]["message"]
    assert r["error"]["details"]["schema"] == api.get("lock.acquire").schema
    r = served.call("lock.acquire", {"paths": "src/"})
    assert r["error"]["code"] == "invalid_params"
    served.send_raw(b'{"id": {"x": 1}, "method": "session.list"}')
    assert served.read()["id"] is None
    served.send_raw(b'{"id": 1, "method": "session.list", "params": {}, "extra": 1}')
    assert served.read()["error"]["code"] == "invalid_request"
    served.send_raw(b"[" * 100000)
    assert served.read()["error"]["code"] == "parse_error"
    served.send_raw(b'{"id": 2, "method": "session.list", "params": {"all": NaN}}')
    assert served.read()["error"]["code"] == "parse_error"
    served.send_raw(b'{"id": 3, "method": "session.open", "params": {"owner": "\\ud800"}}')
    assert served.read()["error"]["code"] == "parse_error"
    served.send_raw(b'{"id": 4,\r "method": "session.list"}')  # \r is not a line break
    assert served.read()["id"] == 4
    served.send_raw(b"")
    assert served.read()["error"]["code"] == "parse_error"
    served.send_raw(b"\xff\xfe")
    assert served.read()["error"]["code"] == "parse_error"
    assert not served.pending()
    rc, err = served.close()
    assert rc == 0 and "Traceback" not in err


# --- property tests --------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                           allow_infinity=False)
    | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=12,
)

WRONG: dict[str, st.SearchStrategy[Any]] = {
    "string": st.integers() | st.booleans() | st.lists(st.text(max_size=3), max_size=2),
    "integer": st.text(max_size=5) | st.booleans() | st.floats(allow_nan=False,
                                                              allow_infinity=False),
    "number": st.text(max_size=5) | st.booleans(),
    "boolean": st.text(max_size=5) | st.integers() | st.none().map(lambda _: [1]),
    "array": st.text(min_size=1, max_size=5) | st.integers() | st.lists(st.integers(),
                                                                         min_size=1,
                                                                         max_size=3),
    "object": st.text(max_size=5) | st.integers(),
}


@st.composite
def invalid_call(draw: st.DrawFn) -> bytes:
    """A request to a real method whose params break its schema in at least one way."""
    methods = api.load()
    m = methods[draw(st.sampled_from(sorted(methods)))]
    props = m.params
    how = draw(st.sampled_from(["unknown_key", "wrong_type", "missing", "not_object"]))
    params: Any = {}
    if how == "unknown_key" or (how == "wrong_type" and not props) or (
            how == "missing" and not m.required):
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in props))
        params = {key: draw(JSON)}
    elif how == "wrong_type":
        key = draw(st.sampled_from(sorted(props)))
        kind = props[key].get("type", "string")
        params = {key: draw(WRONG[kind if isinstance(kind, str) else "string"])}
    elif how == "missing":
        params = {}
    else:
        params = draw(st.lists(JSON, max_size=3) | st.text(max_size=5) | st.integers())
    req = {"id": draw(st.integers() | st.text(max_size=6)), "method": m.name,
           "params": params}
    return json.dumps(req).encode()


def _no_newline(b: bytes) -> bool:
    return b"\n" not in b


malformed_line = st.one_of(
    st.binary(max_size=40).filter(_no_newline),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))
    .filter(_no_newline),
    JSON.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"id": st.integers(), "method": st.text(max_size=12)
                           .filter(lambda n: n not in api.load())})
    .map(lambda d: json.dumps(d).encode()),
    st.fixed_dictionaries({"id": JSON, "method": JSON}).map(lambda d: json.dumps(d).encode()),
    invalid_call(),
)

PROPS = settings(max_examples=60, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow,
                                        HealthCheck.function_scoped_fixture])


def _sentinel_ok(s: Served, tag: int) -> None:
    """The next response is the sentinel's: nothing extra was written."""
    s.send_raw(json.dumps({"id": f"sentinel-{tag}", "method": "session.list"}).encode())
    assert s.read()["id"] == f"sentinel-{tag}"
    assert not s.pending()


def test_property_bad_requests_change_nothing_and_get_one_error_each(repo: Path) -> None:
    s = Served(repo)
    # some state to protect: a session holding a lock
    sid = s.call("session.open", {"owner": "holder", "bind": False})["result"]["session_id"]
    s.call("lock.acquire", {"paths": ["src/"], "session": sid})
    counter = iter(range(10**6))

    @PROPS
    @given(st.lists(malformed_line, min_size=1, max_size=5))
    def prop(lines: list[bytes]) -> None:
        before = state_of(repo)
        for line in lines:
            s.send_raw(line)
        for _ in lines:
            resp = s.read()
            assert set(resp) == {"id", "error"}, resp
            err = resp["error"]
            assert {"code", "message", "hint", "retryable"} <= set(err)
            assert err["code"] != "internal", err
            assert "schema" in err.get("details", {}) or "request_schema" in err.get(
                "details", {}) or "methods" in err.get("details", {})
        _sentinel_ok(s, next(counter))
        assert state_of(repo) == before
        assert s.proc.poll() is None

    try:
        prop()
        rc, err = s.close()
        assert rc == 0 and "Traceback" not in err
    finally:
        s.kill()


def test_property_random_requests_one_response_each_server_survives(repo: Path) -> None:
    s = Served(repo)
    reads = sorted(n for n, m in api.load().items() if not m.mutates)
    counter = iter(range(10**6))
    request = st.fixed_dictionaries(
        {"id": st.integers() | st.text(max_size=5) | st.none(),
         "method": st.sampled_from(reads) | st.text(max_size=10)},
        optional={"params": st.dictionaries(st.text(max_size=6), JSON, max_size=2)},
    ).map(lambda d: json.dumps(d).encode())

    @PROPS
    @given(st.lists(request | malformed_line, min_size=1, max_size=6))
    def prop(lines: list[bytes]) -> None:
        for line in lines:
            s.send_raw(line)
        for _ in lines:
            resp = s.read()
            assert ("result" in resp) != ("error" in resp)
            if "error" in resp:
                assert resp["error"]["code"] != "internal", resp
        _sentinel_ok(s, next(counter))
        assert s.proc.poll() is None

    try:
        prop()
        rc, err = s.close()
        assert rc == 0 and "Traceback" not in err
    finally:
        s.kill()


def test_handle_line_in_process_matches_the_protocol(ctx: Context) -> None:
    r = server.handle_line(ctx, b'{"id": "x", "method": "session.list"}')
    assert r["id"] == "x" and "sessions" in r["result"]
    r = server.handle_line(ctx, b'{"method": "lock.check", "params": {"paths": ["../x"]}}')
    assert r["id"] is None and r["error"]["code"] == "bad_path"
    assert r["error"]["details"]["schema"] == api.get("lock.check").schema
    assert server.encode({"id": 1, "result": {"x": float("nan")}}).startswith(b'{"id": 1')


def test_agent_guide_covers_the_agent_workflow(repo: Path) -> None:
    proc = subprocess.run([ORCH, "agent-guide"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    for needle in ("session open", "--worktree", "lock acquire", "lock check", "step check",
                   "resume next", "merge request", "case begin"):
        assert needle in proc.stdout, needle
    assert len(proc.stdout.splitlines()) < 40


def test_long_lived_context_writes_the_same_table_as_a_fresh_one(repo: Path) -> None:
    """The server's memoised lock-table writes are byte-identical to a from-scratch write."""
    from orch_core.locks import export as lockexport
    from orch_core.locks import service as locks
    from orch_core.locks.table import blob_name, serialise

    ctx = Context(cwd=repo, env={})
    try:
        a = api.call(ctx, "session.open", {"owner": "a", "bind": False})["session_id"]
        b = api.call(ctx, "session.open", {"owner": "b", "bind": False})["session_id"]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("lock.acquire", {"paths": ["src/api/", "README.md"], "session": a}),
            ("lock.acquire", {"paths": ["src/web/"], "session": b, "shared": True}),
            ("lock.heartbeat", {"session": a}),
            ("lock.release", {"targets": ["README.md"], "session": a}),
            ("lock.acquire", {"paths": ["docs/"], "session": b}),
            ("session.close", {"session": a}),
        ]
        for name, params in steps:
            api.call(ctx, name, params)
            tip = gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF)
            assert tip is not None
            table, warnings = locks.read_table(ctx.repo, tip)
            assert warnings == []
            names = git(repo, "ls-tree", "--name-only", tip).stdout.split()
            holders = sorted({lk.session for lk in table})
            assert names == sorted(blob_name(sid) for sid in holders)
            for sid in holders:
                blob = gitobjects.cat_blob(ctx.repo, f"{tip}:{blob_name(sid)}") or b""
                assert blob == serialise([lk for lk in table if lk.session == sid])
            fresh = Context(cwd=repo, env={})
            try:
                assert sorted(locks.snapshot(ctx).locks, key=lambda lk: lk.id) == sorted(
                    table, key=lambda lk: lk.id)
                export = _without_nonce((ctx.repo.orch_dir / lockexport.EXPORT).read_text())
                lockexport.write_export(fresh, locks.snapshot(ctx).tip, locks.snapshot(ctx).locks)
                assert _without_nonce((ctx.repo.orch_dir / lockexport.EXPORT).read_text()) == export
            finally:
                fresh.close()
    finally:
        ctx.close()


def _without_nonce(export: str) -> str:
    """The lock index minus the per-write nonce (last field of header and trailer), its
    lock lines sorted (the awk reads them into a hash: order carries nothing)."""
    lines = export.splitlines()
    return "\n".join([lines[0].rsplit("\t", 1)[0], *sorted(lines[1:-1]),
                      lines[-1].rsplit("\t", 1)[0]])


def agent_flow_steps(call: Any, commit: Any) -> dict[str, Any]:
    """open (own worktree) -> tasks -> case -> lock -> step -> commit -> complete -> queue."""
    opened = call("session.open", {"owner": "flow-agent", "worktree": True})
    sid = opened["session_id"]
    ids: dict[str, str] = {}
    parent = None
    for level in ("epic", "feature", "testgroup", "case", "step"):
        params = {"level": level, "title": f"{level} of the flow", "session": sid}
        if parent:
            params["parent"] = parent
        parent = ids[level] = call("task.create", params)["id"]
    call("case.begin", {"id": ids["case"], "session": sid})
    call("lock.acquire", {"paths": ["src/web/"], "session": sid, "task": ids["case"]})
    call("step.check", {"id": ids["step"], "session": sid})
    commit(Path(opened["path"]))
    call("case.complete", {"id": ids["case"], "next": "nothing left", "session": sid})
    queued = call("merge.request", {"session": sid})
    return {"opened": opened, "ids": ids, "queued": queued}


def flow_commit(wt: Path) -> None:
    (wt / "src/web/flow.txt").write_text("written by the flow\n")
    git(wt, "add", "src/web/flow.txt")
    git(wt, "commit", "-q", "-m", "flow: add flow.txt")


def check_flow(out: dict[str, Any]) -> None:
    wt = Path(out["opened"]["path"])
    note = git(wt, "notes", "--ref=orch", "show", "HEAD").stdout
    assert out["opened"]["session_id"] in note and out["ids"]["case"] in note
    assert out["queued"]["branch"] == out["opened"]["branch"]
    assert out["queued"]["state"] == "queued"


def test_whole_agent_flow_through_json_lines_alone(served: Served) -> None:
    def call(method: str, params: dict[str, Any]) -> Any:
        resp = served.call(method, params)
        assert "result" in resp, resp
        return resp["result"]

    check_flow(agent_flow_steps(call, flow_commit))
    rc, err = served.close()
    assert rc == 0 and "Traceback" not in err
