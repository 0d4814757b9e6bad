"""No agent waits on a dead one: a worker killed with SIGKILL mid-case frees its paths
at heartbeat + ttl + grace, in the hooks' shell fast path too, and its case is offered
again (real processes; only the clock is moved, with ORCH_CLOCK_OFFSET)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from orch_core.locks import export as lockexport
from testing.repos import ROOT, add_worktree, commit_file, git, open_session, orch, orch_json

WORKER = textwrap.dedent("""
    import subprocess, sys, time
    from pathlib import Path
    from orch_core.api import dispatch as api
    from orch_core.state.context import Context

    wt, case = sys.argv[1:3]
    c = Context(cwd=Path(wt), env={})
    sid = api.call(c, "session.open", {"owner": "worker", "bind": True, "ttl": 30})
    api.call(c, "case.begin", {"id": case, "locks": ["src/api/"]})
    Path(wt, "src/api/users.py").write_text("# half done\\n")
    subprocess.run(["git", "commit", "-qam", "half way"], cwd=wt, check=True)
    print(sid["session_id"], flush=True)
    while True:
        api.call(c, "session.heartbeat", {})
        time.sleep(0.05)
""")


def kinds(repo: Path, *wanted: str) -> list[tuple[str, dict[str, object]]]:
    from orch_core.state.store import open_store

    store = open_store(repo / ".git" / "orch")
    try:
        rows = store.conn.execute("SELECT kind, data FROM events ORDER BY seq").fetchall()
    finally:
        store.close()
    return [(r["kind"], json.loads(r["data"])) for r in rows if r["kind"] in wanted]


def at(seconds: int) -> dict[str, str]:
    return {"ORCH_CLOCK_OFFSET": str(seconds)}


def make_case(repo: Path) -> str:
    ids = []
    parent = None
    for level in ("epic", "feature", "testgroup", "case"):
        args = ["task", "create", "--level", level, "--title", f"{level} users",
                *(["--parent", parent] if parent else [])]
        parent = str(orch_json(repo, *args)["id"])
        ids.append(parent)
    return ids[-1]


def test_a_killed_workers_paths_free_themselves_after_ttl_plus_grace(repo: Path) -> None:
    case = make_case(repo)
    wt = add_worktree(repo, "wt-worker")
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(wt), case], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    dead = proc.stdout.readline().strip()
    assert dead.startswith("s-"), proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    other = add_worktree(repo, "wt-other")
    me = open_session(other, "other")
    # Before ttl (30 s) + grace (60 s): the lock holds, whatever the path to the commit.
    for offset in (0, 45, 85):
        got = commit_file(other, "src/api/users.py", f"# mine {offset}\n", "mine",
                          env={"ORCH_SESSION": me, **at(offset)})
        assert got.returncode != 0 and dead in got.stderr, got.stderr
        git(other, "reset", "-q", "HEAD")
        assert orch(repo, "lock", "check", "src/api/users.py", "--json", session=me,
                    env=at(offset)).returncode == 1
    # The hook index carries the dead session's deadline: the awk alone can tell.
    idx = (repo / ".git" / "orch" / lockexport.EXPORT).read_text().splitlines()
    head, (line,) = idx[0].split("\t"), [ln for ln in idx[1:-1] if f"\t{dead}\t" in ln]
    assert head[4] == lockexport.VERSION
    sess = orch_json(repo, "session", "list")["sessions"]
    (mine,) = [s for s in sess if s["id"] == dead]
    assert int(line.split("\t")[4]) == int(mine["heartbeat_at"] + 30 + 60) + 1
    # After the deadline: accepted, with no manual step.
    got = commit_file(other, "src/api/users.py", "# mine\n", "mine after",
                      env={"ORCH_SESSION": me, **at(95)})
    assert got.returncode == 0, got.stderr
    assert orch(repo, "lock", "check", "src/api/users.py", session=me,
                env=at(95)).returncode == 0
    # The case is offered again, its checkpoint kept; the dead session's locks are reaped
    # with an event naming it.
    ready = orch_json(repo, "task", "ready", env=at(95))
    assert case in [t["id"] for t in ready["ready"]]
    cands = orch_json(repo, "resume", "candidates", env=at(95))["candidates"]
    assert [(c["session"], c["case"]["id"]) for c in cands] == [(dead, case)]
    assert orch_json(repo, "lock", "list", env=at(95))["locks"] == []
    events = dict(kinds(repo, "lock.reap_dead", "session.dead"))
    assert events["lock.reap_dead"]["dead"] == [dead]
    assert events["session.dead"]["session"] == dead
    assert events["session.dead"]["cases"] == [case]
    # A dead session cannot come back by heartbeating.
    got2 = orch(repo, "session", "heartbeat", session=dead, env=at(95))
    assert got2.returncode == 1 and "is dead" in got2.stderr, got2.stderr
    # Whoever attaches gets the case back with its steps and checkpoint.
    rescuer = open_session(repo, "rescuer", "--no-bind")
    out = orch_json(repo, "resume", "attach", dead, session=rescuer, env=at(95))
    assert out["attached"]["cases"] == [case] and out["case"]["holder"] == rescuer
    assert out["case"]["status"] == "running"


def test_the_dead_are_reaped_with_an_event_naming_them(repo: Path) -> None:
    dead = open_session(repo, "gone", "--ttl", "10")
    orch(repo, "lock", "acquire", "docs/", session=dead, check=True)
    me = open_session(repo, "alive")
    assert orch(repo, "lock", "acquire", "docs/a.md", session=me,
                env=at(65)).returncode == 1  # ttl 10 + grace 60: not dead yet
    orch(repo, "lock", "acquire", "docs/a.md", session=me, env=at(75), check=True)
    assert kinds(repo, "lock.acquire")[-1][1]["dead"] == [dead]
    log = git(repo, "log", "-1", "--format=%B", "refs/orch/locks").stdout
    assert f"dead session(s) {dead}" in log


def test_an_index_in_the_old_format_is_stale_and_rebuilt(repo: Path) -> None:
    holder = open_session(repo, "holder")
    orch(repo, "lock", "acquire", "src/api/", session=holder, check=True)
    wt = add_worktree(repo, "wt-me")
    me = open_session(wt, "me")
    idx = repo / ".git" / "orch" / lockexport.EXPORT
    lines = idx.read_text().splitlines()
    head = lines[0].split("\t")
    # The format before the deadline: no VERSION field, and the lease end as EXPIRY.
    old = ["\t".join(head[:4] + head[5:]), *lines[1:]]
    idx.write_text("\n".join(old) + "\n")
    got = commit_file(wt, "src/api/users.py", "# mine\n", "mine", env={"ORCH_SESSION": me})
    assert got.returncode != 0 and holder in got.stderr  # never read as "no locks"
    git(wt, "reset", "-q", "HEAD")
    git(wt, "checkout", "-q", "--", "src/api/users.py")
    assert idx.read_text().split("\n")[0].split("\t")[4] == lockexport.VERSION
    idx.write_text("\n".join(old) + "\n")
    got = commit_file(wt, "docs/free.md", "free\n", "free", env={"ORCH_SESSION": me})
    assert got.returncode == 0, got.stderr
    assert idx.read_text().split("\n")[0].split("\t")[4] == lockexport.VERSION


def test_a_dead_session_cannot_take_a_lock(repo: Path) -> None:
    """A lock taken by a dead session would count for nothing (its locks are freed
    with it): the acquire is refused with the way on, instead of printing "acquired"."""
    sid = orch_json(repo, "session", "open", "--owner", "gone", "--ttl", "60")["session_id"]
    late = {"ORCH_CLOCK_OFFSET": "3600"}
    took = orch(repo, "lock", "acquire", "docs/", session=sid, env=late)
    assert took.returncode == 1 and "is dead" in took.stderr, took.stderr
    assert orch_json(repo, "lock", "list", env=late)["locks"] == []
