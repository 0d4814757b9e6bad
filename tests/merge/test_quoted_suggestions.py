"""Every value put into a command line shown to a user is shell-quoted: a branch
named `x$(touch${IFS}pwned)` never turns a suggestion into a command that runs it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from orch_core.api import dispatch as api
from orch_core.merge import queue as q
from orch_core.state.context import Context
from testing.repos import git
from tests.merge.test_queue import make_branch, new_session, request, setup_repo

EVIL = "x$(touch${IFS}pwned)"


def _run_suggestions(text: str, cwd: Path) -> list[str]:
    """Run each `orch-hooks ...` suggestion of ``text`` with `echo` in its place."""
    said = []
    for cmd in re.findall(r"`(orch-hooks [^`]*)`", text):
        out = subprocess.run(["sh", "-c", "echo " + cmd.removeprefix("orch-hooks ")],
                             cwd=cwd, capture_output=True, text=True)
        said.append(out.stdout.strip())
    return said


def test_gate_refusal_quotes_the_branch(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    wt = repo.parent / "wt-evil"
    git(repo, "worktree", "add", "-q", "-b", EVIL, str(wt))
    (wt / "docs").mkdir(exist_ok=True)
    (wt / "docs/evil.md").write_text("x\n")
    git(wt, "add", "docs/evil.md")
    git(wt, "commit", "-q", "-m", "evil")
    proc = git(repo, "merge", "--no-edit", EVIL, check=False)
    assert proc.returncode != 0
    assert "orch-hooks merge request 'x$(touch${IFS}pwned)'" in proc.stderr
    said = _run_suggestions(proc.stderr, repo)
    assert f"merge request {EVIL}" in said
    assert not (repo / "pwned").exists()
    git(repo, "merge", "--abort", check=False)


def test_resume_next_quotes_the_branch_of_a_rejected_landing(tmp_path: Path) -> None:
    repo = setup_repo(tmp_path / "repo")
    make_branch(repo, EVIL, {"docs/evil.md": "x\n"})
    wt = repo.parent / f"wt-{EVIL}"
    ctx = Context(cwd=wt, env={})
    try:
        author = new_session(ctx, "author")
        entry = request(ctx, author, EVIL)
        reviewer = new_session(ctx, "reviewer")
        api.call(ctx, "merge.review", {"id": entry["id"], "approve": False,
                                       "reason": "no", "session": reviewer})
        failures = q.failures_for_session(ctx, author)
    finally:
        ctx.close()
    assert failures
    todo = failures[0]["next_action"]
    assert "`orch-hooks merge request 'x$(touch${IFS}pwned)'`" in todo
    assert _run_suggestions(todo, repo) == [f"merge request {EVIL}"]
    assert not (repo / "pwned").exists()
