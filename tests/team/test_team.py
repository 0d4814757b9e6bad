"""Agents in tmux: real tmux on a private socket, shell scripts as agents.

Every test gets its own tmux socket (ORCH_TMUX_SOCKET, which spawned windows
inherit) and kills that server at teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.repos import ORCH, git, make_repo, open_session, orch, orch_json

TEAM = """
[team]
reviewer_cmd = "sh {reviewer}"
"""


@pytest.fixture
def tmux_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if shutil.which("tmux") is None:
        if os.environ.get("ORCH_REQUIRE_TMUX") == "1":
            pytest.fail("tmux is not installed (ORCH_REQUIRE_TMUX=1: the team tests must run)")
        pytest.skip("tmux is not installed (Debian: `apt-get install -y tmux`)")
    name = f"orch-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ORCH_TMUX_SOCKET", name)
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, check=False)


def _windows(socket: str) -> list[str]:
    proc = subprocess.run(["tmux", "-L", socket, "list-windows", "-a", "-F",
                           "#{window_name} #{pane_dead}"], capture_output=True, text=True,
                          check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def _wait(what: str, check: Any, seconds: float = 120.0) -> Any:
    """Poll until ``check()`` is truthy; a bound so a broken run fails instead of hanging."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _team_repo(tmp_path: Path, extra: str = "") -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo", install=False)
    scripts = tmp_path / "agents"
    scripts.mkdir()
    with (repo / ".orch.toml").open("a") as fh:
        fh.write(TEAM.format(reviewer=scripts / "reviewer.sh") + extra)
    git(repo, "commit", "-q", "-a", "--amend", "-m", "initial import")
    orch(repo, "install", check=True)
    return repo, scripts


def test_worker_and_reviewer_run_the_whole_loop_without_a_human(tmp_path: Path,
                                                                tmux_env: str) -> None:
    repo, scripts = _team_repo(tmp_path)
    py = sys.executable
    get_state = (f"{ORCH} merge queue --json | {py} -c \"import json,sys; q=json.load(sys.stdin);"
                 " e=[x for x in q['entries']+q['finished'] if x['id']==sys.argv[1]];"
                 " print(e[0]['state'] if e else 'none')\" \"$id\"")
    (scripts / "worker.sh").write_text(f"""set -e
while [ ! -e {scripts}/go ]; do sleep 0.1; done
{ORCH} lock acquire src/feature.py --task feature
printf 'FEATURE = 1\\n' > src/feature.py
git add src/feature.py
git commit -q -m "add the feature"
{ORCH} merge request --json > {scripts}/request.json
id=$({py} -c "import json; print(json.load(open('{scripts}/request.json'))['id'])")
while [ "$({get_state})" != approved ]; do sleep 0.2; done
{ORCH} merge land --json > {scripts}/land.json
{ORCH} lock release src/feature.py
echo "$ORCH_SESSION" > {scripts}/worker.done
""")
    (scripts / "reviewer.sh").write_text(f"""set -e
{ORCH} merge review "$ORCH_REVIEW_ID" --approve --reason "looks right"
echo "$ORCH_SESSION $ORCH_REVIEW_ID" > {scripts}/reviewer.done
""")
    spawned = orch_json(repo, "spawn", "--owner", "worker-1", "--role", "worker", "--cmd",
                        f"sh {scripts}/worker.sh")
    (scripts / "go").touch()
    _wait("the worker", lambda: (scripts / "worker.done").exists())
    worker_session = (scripts / "worker.done").read_text().strip()
    assert worker_session == spawned["session_id"]
    reviewer_session, review_id = (scripts / "reviewer.done").read_text().split()
    assert reviewer_session != worker_session
    landed = orch_json(repo, "merge", "queue")["finished"][0]
    assert landed["id"] == review_id and landed["state"] == "landed"
    assert landed["reviewer"] == reviewer_session
    assert git(repo, "show", "main:src/feature.py").stdout == "FEATURE = 1\n"
    # both windows stay, with the exit status, until stopped
    def both_exited() -> dict[str, Any] | None:
        t: dict[str, Any] = orch_json(repo, "team", "status")
        # tmux may see the pane close a moment before it collects the exit status
        done = [c for c in t["children"]
                if c["pane"] == "exited" and c["exit_status"] is not None]
        return t if len(done) == len(t["children"]) == 2 else None

    team = _wait("both agents to exit", both_exited)
    by_role = {c["role"]: c for c in team["children"]}
    assert by_role["worker"]["exit_status"] == 0 and by_role["reviewer"]["exit_status"] == 0
    assert by_role["reviewer"]["review_id"] == review_id
    assert by_role["worker"]["session_state"] == "dead"
    for name in (by_role["worker"]["name"], by_role["reviewer"]["name"]):
        orch(repo, "team", "stop", name, check=True)
    assert _windows(tmux_env) == []
    assert {s["status"] for s in orch_json(repo, "session", "list", "--all")["sessions"]
            if s["id"] in (worker_session, reviewer_session)} == {"closed"}


def test_one_reviewer_per_entry(tmp_path: Path, tmux_env: str) -> None:
    repo, scripts = _team_repo(tmp_path)
    (scripts / "reviewer.sh").write_text("sleep 60\n")
    wt = Path(orch_json(repo, "session", "open", "--owner", "dev", "--worktree")["path"])
    (wt / "src" / "a.py").write_text("A = 1\n")
    git(wt, "add", "src/a.py")
    git(wt, "commit", "-q", "-m", "a")
    first = orch_json(wt, "merge", "request")
    assert first["reviewer_dispatch"]["dispatched"] is True
    (wt / "src" / "a.py").write_text("A = 2\n")
    git(wt, "commit", "-q", "-a", "-m", "a again")
    again = orch_json(wt, "merge", "request")
    assert again["id"] == first["id"]
    assert again["reviewer_dispatch"]["dispatched"] is False
    assert "already" in again["reviewer_dispatch"]["reason"]
    reviewers = [c for c in orch_json(repo, "team", "status")["children"]
                 if c["role"] == "reviewer"]
    assert len(reviewers) == 1 and reviewers[0]["pane"] == "running"
    assert reviewers[0]["review_id"] == first["id"]


def test_seventh_child_is_refused_and_stop_frees_a_place(repo: Path, tmux_env: str) -> None:
    for i in range(6):
        orch(repo, "spawn", "--owner", f"a{i}", "--cmd", "sleep 120", check=True)
    proc = orch(repo, "spawn", "--owner", "a6", "--cmd", "sleep 120")
    assert proc.returncode == 1
    assert "6 children are running, the most [team] max_concurrent_children = 6 allows" \
        in proc.stderr
    assert len(_windows(tmux_env)) == 6
    status = orch_json(repo, "team", "status")
    assert status["running"] == 6 and {c["session_state"] for c in status["children"]} \
        == {"alive"}
    stopped = orch_json(repo, "team", "stop", "a0")
    assert stopped["stopped"] is True
    sess = [s for s in orch_json(repo, "session", "list", "--all")["sessions"]
            if s["id"] == stopped["session"]]
    assert sess[0]["status"] == "closed"
    orch(repo, "spawn", "--owner", "a6", "--cmd", "sleep 120", check=True)
    assert len(_windows(tmux_env)) == 6


def test_a_command_that_exits_at_once_is_reported_and_cleaned_up(repo: Path,
                                                                 tmux_env: str) -> None:
    proc = orch(repo, "spawn", "--owner", "broken", "--cmd", "echo no such agent; exit 7",
                "--json")
    assert proc.returncode == 1
    import json

    err = json.loads(proc.stdout)["error"]
    assert err["code"] == "spawn_exited" and err["details"]["exit_status"] == 7
    assert "no such agent" in err["details"]["output"]
    assert _windows(tmux_env) == []
    sessions = orch_json(repo, "session", "list", "--all")["sessions"]
    assert [s["status"] for s in sessions if s["owner"] == "broken"] == ["closed"]
    assert orch_json(repo, "team", "status")["children"] == []


def test_spawned_agent_gets_its_session_and_worktree(repo: Path, tmux_env: str,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "seen"
    got = orch_json(repo, "spawn", "--owner", "codex-1", "--role", "worker", "--cmd",
                    f"echo \"$ORCH_SESSION $PWD\" > {out}; {ORCH} lock acquire docs/; "
                    "sleep 120")
    sid, cwd = _wait("the agent", lambda: out.exists() and out.read_text().split())
    assert sid == got["session_id"] and Path(cwd).resolve() == Path(got["worktree"]).resolve()
    _wait("its lock", lambda: orch_json(repo, "lock", "list")["locks"])
    boss = open_session(repo, "boss")
    orch(repo, "mail", "send", "--to", "worker", "--subject", "status?", session=boss,
         check=True)
    # The agent reads its mail where it runs: its own worktree, bound to its session.
    assert orch_json(Path(got["worktree"]), "mail", "inbox", session=sid)["unread"] == 1
    text = orch(repo, "team", "status", check=True).stdout
    assert "codex-1 [worker]" in text and "running" in text and "(alive)" in text
    orch(repo, "team", "stop", "codex-1", check=True)
    assert orch_json(repo, "lock", "list")["locks"] == []
    assert _windows(tmux_env) == []
    assert orch(repo, "team", "stop", "nobody").returncode == 1


def test_without_tmux_spawn_says_how_to_install_and_the_rest_works(repo: Path,
                                                                  tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git", "sh"):
        found = shutil.which(tool)
        assert found is not None
        (bare / tool).symlink_to(found)
    env = {"PATH": str(bare)}
    proc = orch(repo, "spawn", "--owner", "x", "--cmd", "true", env=env)
    assert proc.returncode == 1
    assert "tmux is not installed" in proc.stderr and "apt-get install tmux" in proc.stderr
    status = orch_json(repo, "team", "status", env=env)
    assert status["tmux_missing"] is True and status["children"] == []
    assert "tmux is not installed" in orch(repo, "team", "status", env=env).stdout
    assert orch_json(repo, "status", env=env)["team"]["tmux_missing"] is True
    sid = open_session(repo, "solo")
    orch(repo, "lock", "acquire", "src/", session=sid, env=env, check=True)
    assert orch_json(repo, "session", "list", env=env)["sessions"][0]["owner"] == "solo"
