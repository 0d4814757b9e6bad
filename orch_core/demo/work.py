"""Demo section: a case walked step by step, its checkpoint note, a lost context, resume."""

from __future__ import annotations

import sys
import time

from orch_core.demo.base import Demo

TTL = 3


def run(d: Demo) -> None:
    d.step("the plan: epic > feature > testgroup > case > steps")
    ids: dict[str, str] = {}
    parent: str | None = None
    for level, title in (("epic", "Todo service v2"), ("feature", "Web pages"),
                         ("testgroup", "Page rendering"), ("case", "render the todo list")):
        args = ["task", "create", "--level", level, "--title", title]
        if parent:
            args += ["--parent", parent]
        parent = ids[level] = str(d.orch_json(d.repo, *args)["id"])
    steps = [str(d.orch_json(d.repo, "task", "create", "--level", "step", "--title", title,
                             "--parent", ids["case"])["id"])
             for title in ("write a failing test", "render items", "escape HTML")]
    d.orch(d.repo, "task", "list", "--tree")
    d.orch(d.repo, "task", "ready")

    d.step(f"agent-c (session TTL {TTL}s) takes the case and locks src/web/ in one step")
    wt = d.base / "wt-agent-c"
    d.sh(d.repo, "git", "worktree", "add", "-q", "-b", "agent-c/work", str(wt))
    old = str(d.orch_json(wt, "session", "open", "--owner", "agent-c", "--ttl",
                          str(TTL))["session_id"])
    d.say(f"agent-c: session {old} bound to wt-agent-c")
    d.orch(wt, "case", "begin", ids["case"], "--contract", "TODOS holds (id, title) pairs",
           "--lock", "src/web/")

    d.step("agent-c checks two steps and commits: the note says where the work stands")
    d.orch(wt, "step", "check", steps[0])
    d.write(wt, "src/web/pages.py",
            '"""Pages of the todo service."""\n\n\ndef render(todos: list[str]) -> str:\n'
            '    return "<ul>" + "".join(f"<li>{t}</li>" for t in todos) + "</ul>"\n')
    d.orch(wt, "step", "check", steps[1])
    d.sh(wt, "git", "commit", "-q", "-am", "web: render the todo list")
    d.sh(wt, "git", "log", "--notes=orch", "-1")

    d.step("agent-c's terminal dies (no close, no heartbeat): its context is lost")
    d.say(f"... {TTL + 1} seconds pass; the session's heartbeat expires")
    time.sleep(TTL + 1)

    d.step("a new agent enters the worktree and asks what was interrupted")
    new = str(d.orch_json(wt, "session", "open", "--owner", "agent-d", "--intent",
                          "resume_work")["session_id"])
    d.say(f"agent-d: session {new} bound to wt-agent-c")
    d.orch(wt, "resume", "candidates")
    d.orch(wt, "resume", "attach", old)

    d.step("resume next tells agent-d exactly what to do")
    out = d.orch(wt, "resume", "next")
    if f"NEXT: step {steps[2]}" not in out.stdout or "last checkpoint" not in out.stdout:
        # The class of the running demo module (it may run as __main__).
        failed = sys.modules[type(d).__module__].DemoFailed
        raise failed("resume next did not name the open step and the checkpoint")
    d.orch(wt, "work", "current-ref")

    d.step("agent-d finishes the case and leaves a next action for whoever comes after")
    d.orch(wt, "step", "check", steps[2])
    d.orch(wt, "case", "complete", ids["case"], "--next",
           "add paging once the list passes 50 items")
    d.orch(wt, "mirror", "refresh")
    d.orch(wt, "mirror", "status")

    d.step("agent-d closes its session: locks released, work state journaled to git")
    d.orch(wt, "session", "close")
    d.sh(d.repo, "git", "log", "--format=%h %s", "-2", "refs/orch/work")
    d.say("(`orch-hooks rebuild` recreates the state database from these refs and the notes)")
