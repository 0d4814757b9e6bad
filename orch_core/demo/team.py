"""Demo section: agents talk by mail, the event feed, an agent in tmux, the status overview."""

from __future__ import annotations

import os
import shutil
import subprocess

from orch_core.demo.base import Demo, DemoFailed


def run(d: Demo) -> None:
    d.step("agent-m needs src/web/, which agent-n holds: the refusal names who to ask")
    _m_sid, m_wt = d.add_agent("agent-m")
    n_sid, n_wt = d.add_agent("agent-n")
    d.orch(n_wt, "lock", "acquire", "src/web/", "--task", "restyle")
    d.orch(m_wt, "lock", "acquire", "src/web/pages.py", expect_fail=True)

    d.step("agent-m asks by mail (stored in refs/orch/mail, seen from every worktree)")
    d.orch(m_wt, "mail", "send", "--to", n_sid, "--subject", "may I have src/web/pages.py?",
           "--body", "one line in title(); ten minutes")
    d.say("agent-n's `resume next` mentions the unread message:")
    out = d.orch(n_wt, "resume", "next").stdout
    if "unread mail: 1" not in out:
        raise DemoFailed("resume next did not show the unread message")
    d.orch(n_wt, "mail", "inbox", "--unread")
    d.orch(n_wt, "mail", "read", "M-1")
    d.orch(n_wt, "lock", "release", "src/web/")
    d.orch(n_wt, "mail", "send", "--to", "agent-m", "--subject", "released, go ahead",
           "--re", "M-1")
    d.orch(n_wt, "mail", "ack", "M-1")
    d.orch(m_wt, "mail", "inbox")

    d.step("the event feed: everything that happened, as lines (`--follow` keeps going)")
    d.orch(d.repo, "events", "--kind", "mail")
    d.orch(d.repo, "events", "--limit", "4")
    _tmux_story(d)

    d.step("the overview in one call (the monitor page shows the same, live: "
           "`orch-hooks monitor`)")
    d.orch(d.repo, "status")


def _tmux_story(d: Demo) -> None:
    d.step("an agent in a tmux window: its own session and worktree, ORCH_SESSION set")
    if shutil.which("tmux") is None:
        d.say("tmux is not installed on this machine: `spawn` says so and how to install "
              "it, and everything else works without it")
        d.orch(d.repo, "spawn", "--owner", "agent-t", "--cmd", "sleep 60", expect_fail=True)
        d.orch(d.repo, "team", "status")
        return
    socket = f"orch-demo-{os.getpid()}"
    d.env["ORCH_TMUX_SOCKET"] = socket  # a private tmux server, removed at the end
    try:
        d.orch(d.repo, "spawn", "--owner", "agent-t", "--role", "worker", "--cmd",
               f"{d.orch_bin} lock acquire docs/ --task notes && sleep 60")
        for _ in range(100):
            if d.orch_json(d.repo, "lock", "list")["locks"]:
                break
            subprocess.run(["sleep", "0.1"], check=False)
        d.orch(d.repo, "team", "status")
        d.orch(d.repo, "lock", "list")
        d.step("a command that exits at once is reported; nothing is left running")
        d.orch(d.repo, "spawn", "--owner", "agent-u", "--cmd", "exit 3", expect_fail=True)
        d.step("`team stop` closes the window and the session (its locks are released)")
        d.orch(d.repo, "team", "stop", "agent-t")
        d.orch(d.repo, "team", "status")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
        d.env.pop("ORCH_TMUX_SOCKET", None)
