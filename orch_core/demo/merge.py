"""Demo section: the merge queue keeps main green (`make demo`)."""

from __future__ import annotations

import re

from orch_core.demo.base import Demo, DemoFailed


def _queued_id(text: str) -> str:
    m = re.search(r"queued (Q-\d+)", text)
    if m is None:
        raise DemoFailed(f"no queue id in: {text}")
    return m.group(1)


def run(d: Demo) -> None:
    d.step("three agents finish their branches at about the same time")
    _x_sid, x_wt = d.add_agent("agent-x")
    _y_sid, y_wt = d.add_agent("agent-y")
    _z_sid, z_wt = d.add_agent("agent-z")
    d.write(x_wt, "docs/changelog.md", "# Changelog\n\n- grace joins the users\n")
    d.sh(x_wt, "git", "add", "docs/changelog.md")
    d.sh(x_wt, "git", "commit", "-q", "-m", "docs: start a changelog")
    d.write(y_wt, "src/api/todos.py",
            '"""Todo items."""\n\nTODOS: list[tuple[int, str]] = []\n\n\n'
            "def add(user_id: int, text: str) -> int:\n"
            "    TODOS.append((user_id, text.strip()))\n    return len(TODOS)\n")
    d.sh(y_wt, "git", "commit", "-q", "-am", "api: strip todo text")
    d.write(z_wt, "src/web/pages.py",
            '"""HTML pages."""\n\n\ndef title(name: str) -> str:\n'
            '    return f"<h2>todos of {name}</h2>"\n')
    d.sh(z_wt, "git", "commit", "-q", "-am", "web: smaller title")

    d.step("each queues its branch; agent-y's fix is urgent (priority 2)")
    x_id = _queued_id(d.orch(x_wt, "merge", "request").stdout)
    y_id = _queued_id(d.orch(y_wt, "merge", "request", "--priority", "2").stdout)
    z_id = _queued_id(d.orch(z_wt, "merge", "request").stdout)
    d.orch(d.repo, "merge", "queue")

    d.step("agent-x tries to approve its own branch: refused, review needs another session")
    d.orch(x_wt, "merge", "review", x_id, "--approve", expect_fail=True)

    d.step("reviews by other sessions: each reads the context, then approves")
    d.orch(y_wt, "merge", "context", x_id)
    d.orch(y_wt, "merge", "review", x_id, "--approve")
    d.orch(z_wt, "merge", "review", y_id, "--approve")
    d.orch(x_wt, "merge", "review", z_id, "--approve", "--reason", "looks fine to me")

    d.step("someone merges agent-x's branch into main by hand: the gate refuses")
    d.sh(d.repo, "git", "merge", "--no-ff", "--no-edit", "agent-x/work", expect_fail=True)
    d.say("(git had already written the merged files; the hook put exactly those back)")
    d.sh(d.repo, "git", "merge", "--quit")
    if d.sh(d.repo, "git", "status", "--porcelain", show=False).stdout.strip():
        raise DemoFailed("the refused merge left files changed in main's work tree")

    d.step("the lander tests the exact merge and moves main: agent-y first (priority)")
    d.orch(d.repo, "merge", "land")
    d.step("then agent-x, merged onto the new tip and tested again")
    d.orch(d.repo, "merge", "land")
    d.sh(d.repo, "git", "log", "--oneline", "--graph", "-6", "main")

    d.step("agent-z's branch breaks the checks: it stays off main")
    before = d.sh(d.repo, "git", "rev-parse", "main", show=False).stdout.strip()
    d.orch(d.repo, "merge", "land", expect_fail=True)
    after = d.sh(d.repo, "git", "rev-parse", "main", show=False).stdout.strip()
    if before != after:
        raise DemoFailed("main moved although the check failed")
    d.say(f"main is still at {after[:12]}")
    d.orch(d.repo, "merge", "queue")

    d.step("agent-z learns about it in its fix loop")
    d.orch(z_wt, "merge", "failures")

    d.step("the queue's history is plain git, like the lock table's")
    d.sh(d.repo, "git", "log", "--format=%h %s", "-8", "refs/orch/queue")
