"""Resume after a lost context: SIGKILL of the owner, candidates, attach, current-ref."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orch_core.api import dispatch as api
from orch_core.errors import Refused
from orch_core.state.context import Context
from orch_core.work import sessions
from testing.repos import ROOT, add_worktree, commit_file, git, orch, orch_json
from tests.work.test_tasks import chain, mk

WORKER = textwrap.dedent("""
    import subprocess, sys, time
    from pathlib import Path
    from orch_core.api import dispatch as api
    from orch_core.state.context import Context

    wt, case, step = sys.argv[1:4]
    c = Context(cwd=Path(wt), env={})
    sid = api.call(c, "session.open", {"owner": "worker", "bind": True, "ttl": 30})
    api.call(c, "case.begin", {"id": case, "locks": ["src/api/"]})
    api.call(c, "step.check", {"id": step})
    Path(wt, "src/api/users.py").write_text("# half done\\n")
    subprocess.run(["git", "commit", "-qam", "half way"], cwd=wt, check=True)
    print(sid["session_id"], flush=True)
    while True:
        api.call(c, "session.heartbeat", {})
        time.sleep(0.05)
""")


def test_resume_after_sigkill_and_attach(repo: Path, ctx: Context,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ids = chain(ctx, "api")
    steps = [mk(ctx, "step", f"step {i}", ids["case"]) for i in range(3)]
    wt = add_worktree(repo, "wt-worker")
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(wt), ids["case"], steps[0]],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    old = proc.stdout.readline().strip()
    assert old.startswith("s-"), proc.stderr.read() if proc.stderr else ""
    head = git(wt, "rev-parse", "HEAD").stdout.strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes the pipes
    me = str(api.call(ctx, "session.open", {"owner": "rescuer", "bind": False})["session_id"])
    # Its heartbeat has not expired yet: not a candidate, and attach is refused.
    assert api.call(ctx, "resume.candidates.list")["candidates"] == []
    with pytest.raises(Refused, match="still alive") as e:
        api.call(ctx, "resume.candidates.attach", {"from_session": old, "session": me})
    assert e.value.code == "session_alive"
    # Past its ttl (30 s) but inside its grace (60 s): interrupted, not dead yet.
    monkeypatch.setenv("ORCH_CLOCK_OFFSET", "45")
    api.call(ctx, "session.heartbeat", {"session": me})
    cands = api.call(ctx, "resume.candidates.list")["candidates"]
    assert [c["session"] for c in cands] == [old]
    assert cands[0]["case"]["id"] == ids["case"]
    assert cands[0]["case"]["steps"] == {"done": 1, "total": 3}
    assert cands[0]["locks"] == ["src/api/"]
    # The interrupted session's locks still hold others off until someone takes them.
    assert api.call(ctx, "lock.check", {"paths": ["src/api/users.py"],
                                        "session": me})["ok"] is False
    out = api.call(ctx, "resume.candidates.attach", {"from_session": old, "session": me})
    assert out["attached"]["from"] == old and out["attached"]["cases"] == [ids["case"]]
    assert out["attached"]["worktree"] == str(wt)
    assert out["case"]["id"] == ids["case"] and out["case"]["holder"] == me
    assert [s["id"] for s in out["case"]["steps"]["done_steps"]] == [steps[0]]
    assert [s["id"] for s in out["case"]["steps"]["open_steps"]] == steps[1:]
    assert out["next_action"] == f"step {steps[1]}: step 1"
    # The rescuer has not committed yet: the case's checkpoint is the worker's commit.
    assert out["last_checkpoint"]["commit"] == head
    assert out["last_checkpoint"]["steps"] == {"done": 1, "total": 3}
    assert [lk["path"] for lk in out["locks"]] == ["src/api/"]
    assert out["worktree"] == str(wt) and out["branch"] == "wt-worker"
    held = api.call(ctx, "lock.list")["locks"]
    assert [(lk["path"], lk["session"]) for lk in held] == [("src/api/", me)]
    assert sessions.read_binding(Path(git(wt, "rev-parse", "--absolute-git-dir")
                                      .stdout.strip())) == me
    assert sessions.get(ctx, old).status == "closed"
    assert api.call(ctx, "resume.candidates.list")["candidates"] == []
    # The rescuer now commits in the worktree as itself; the old checkpoint is the worker's.
    old_next = api.call(ctx, "resume.next", {"session": old})
    assert old_next["last_checkpoint"]["commit"] == head
    assert old_next["last_checkpoint"]["steps"] == {"done": 1, "total": 3}
    assert commit_file(wt, "src/api/users.py", "# done\n", "finish").returncode == 0
    mine = api.call(ctx, "resume.next", {"session": me})["last_checkpoint"]
    assert mine["commit"] == git(wt, "rev-parse", "HEAD").stdout.strip()
    assert mine["case"] == ids["case"]


def test_resume_next_without_case_offers_ready_work(ctx: Context) -> None:
    first = chain(ctx, "first", priority=1)
    second = chain(ctx, "second", priority=7)
    sid = str(api.call(ctx, "session.open", {"owner": "a", "bind": False})["session_id"])
    out = api.call(ctx, "resume.next", {"session": sid})
    assert out["case"] is None and out["what"] == "begin"
    assert out["ready"]["id"] == second["case"]
    assert second["case"] in out["next_action"]
    api.call(ctx, "case.begin", {"id": second["case"], "session": sid})
    api.call(ctx, "case.complete", {"id": second["case"], "next": "wire it to the UI",
                                    "session": sid})
    out = api.call(ctx, "resume.next", {"session": sid})
    assert out["last_case"]["next_action"] == "wire it to the UI"
    assert out["ready"]["id"] == first["case"]


def test_stale_base_warning(repo: Path, ctx: Context) -> None:
    wt = add_worktree(repo, "wt-stale")
    c = Context(cwd=wt, env={})
    sid = str(api.call(c, "session.open", {"owner": "a", "bind": True})["session_id"])
    api.call(c, "lock.acquire", {"paths": ["src/web/"]})
    base = api.call(ctx, "resume.next", {"session": sid})["base"]
    assert base["behind"] == 0 and base["stale"] is False
    # main moves on (landed elsewhere; hooks bypassed to simulate another clone's push)
    (repo / "src/web/pages.py").write_text("# changed on main\n")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-qam", "main changes web")
    base = api.call(ctx, "resume.next", {"session": sid})["base"]
    assert base["behind"] == 1 and base["stale"] is True
    assert base["changed_held_paths"] == ["src/web/pages.py"]
    human = orch(wt, "resume", "next", check=True).stdout
    assert "WARNING stale base" in human and "src/web/pages.py" in human
    c.close()


def test_current_ref_and_ack(repo: Path, ctx: Context) -> None:
    ids = chain(ctx)
    step = mk(ctx, "step", "do it", ids["case"])
    sid = str(api.call(ctx, "session.open", {"owner": "a", "bind": True})["session_id"])
    api.call(ctx, "case.begin", {"id": ids["case"]})
    ref = api.call(ctx, "work.current_ref")
    assert ref["changed"] is True and ref["case"] == ids["case"]
    assert f"next: step {step}: do it" in ref["text"] and "steps 0/1 done" in ref["text"]
    api.call(ctx, "work.current_ref.ack")
    ref = api.call(ctx, "work.current_ref")
    assert ref["changed"] is False and "unchanged since your last ack" in ref["text"]
    api.call(ctx, "step.check", {"id": step})
    ref = api.call(ctx, "work.current_ref")
    assert ref["changed"] is True and "step.check" in ref["text"]
    # Through the console script, and printed by post-checkout when a worktree is entered.
    assert orch_json(repo, "work", "current-ref", session=sid)["case"] == ids["case"]
    wt = repo.parent / "entered"
    proc = git(repo, "worktree", "add", "-q", "-b", "entered", str(wt),
               env={"ORCH_SESSION": sid})
    assert f"case {ids['case']}" in proc.stderr
    assert "all steps done" in proc.stderr
