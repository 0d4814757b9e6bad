"""The event feed: `orch-hooks events`, filters, --follow on a real process."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

from orch_core.api import dispatch as api
from orch_core.state.context import Context
from testing.repos import ORCH, open_session, orch, orch_json


def test_events_list_since_and_kind(repo: Path) -> None:
    sid = open_session(repo, "alice")
    orch(repo, "lock", "acquire", "src/", session=sid, check=True)
    orch(repo, "lock", "release", "src/", session=sid, check=True)
    every = orch_json(repo, "events")["events"]
    kinds = [e["kind"] for e in every]
    assert kinds[-3:] == ["session.open", "lock.acquire", "lock.release"]
    assert [e["id"] for e in every] == sorted(e["id"] for e in every)
    assert every[-2]["actor"] == sid and every[-2]["data"]["paths"] == ["src/"]
    locks = orch_json(repo, "events", "--kind", "lock")["events"]
    assert [e["kind"] for e in locks] == ["lock.acquire", "lock.release"]
    assert [e["kind"] for e in orch_json(repo, "events", "--kind", "lock.release")
            ["events"]] == ["lock.release"]
    since = orch_json(repo, "events", "--since", str(every[-2]["id"]))
    assert [e["kind"] for e in since["events"]] == ["lock.release"]
    assert since["last"] == every[-1]["id"]
    text = orch(repo, "events", "--limit", "1", check=True).stdout.strip().splitlines()
    assert len(text) == 1 and text[0].split()[0] == str(every[-1]["id"])
    assert "lock.release" in text[0]
    assert orch(repo, "events", "--since", "-1").returncode == 2
    assert orch(repo, "events", "--limit", "0").returncode == 2


def test_follow_prints_a_new_lock(repo: Path) -> None:
    sid = open_session(repo, "alice")
    last = orch_json(repo, "events", "--limit", "1")["last"]
    proc = subprocess.Popen([ORCH, "events", "--follow", "--json", "--since", str(last),
                             "--kind", "lock"], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        time.sleep(0.3)  # let it reach its wait; the feed must not miss what comes next
        orch(repo, "lock", "acquire", "docs/", session=sid, check=True)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "events --follow printed nothing"
        ev = json.loads(proc.stdout.readline())
        assert ev["kind"] == "lock.acquire" and ev["data"]["paths"] == ["docs/"]
        # sleeping between polls, not spinning: well under a core over a second
        before = _cpu_seconds(proc.pid)
        time.sleep(1.0)
        assert _cpu_seconds(proc.pid) - before < 0.5
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_events_wait_returns_at_once_when_there_are_some(repo: Path) -> None:
    open_session(repo, "alice")
    ctx = Context(cwd=repo, env={})
    try:
        got = api.call(ctx, "events.wait", {"since": 0, "timeout": 30})
        assert got["events"][0]["kind"] == "session.open"
        none = api.call(ctx, "events.wait", {"since": got["last"], "timeout": 0})
        assert none["events"] == [] and none["last"] == got["last"]
    finally:
        ctx.close()
