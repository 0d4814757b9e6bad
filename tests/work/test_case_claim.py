"""A case belongs to its holder until the holder is dead (alive or interrupted):
taking it needs --force, is journaled, and ends the old session's claim for good
(real git, the installed console script; only the clock moves, ORCH_CLOCK_OFFSET)."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import orch, orch_json
from tests.team.test_dead_worker import at, kinds, make_case


def test_an_interrupted_holder_keeps_its_case_until_forced(repo: Path) -> None:
    case = make_case(repo)
    d = orch_json(repo, "session", "open", "--owner", "erin", "--no-bind",
                  "--ttl", "1")["session_id"]
    orch(repo, "case", "begin", case, session=d, check=True)
    alice = orch_json(repo, "session", "open", "--owner", "alice", "--worktree")
    wa = Path(alice["path"])
    # Past ttl, before ttl + grace: interrupted, not dead. Not offered, not taken.
    assert case not in [t["id"] for t in orch_json(repo, "task", "ready", env=at(2))["ready"]]
    got = orch(wa, "case", "begin", case, env=at(2))
    assert got.returncode == 1 and "interrupted session" in got.stderr, got.stderr
    assert "--force" in got.stderr and "Traceback" not in got.stderr
    assert orch_json(repo, "task", "get", case)["holder"] == d
    # Forced: the event says whose it was, the old session's claim is gone.
    orch(wa, "case", "begin", case, "--force", env=at(2), check=True)
    (_, ev), = [k for k in kinds(repo, "case.begin") if k[1]["session"] != d]
    assert ev["took_from"] == d and ev["forced"] == [f"held by {d}"]
    # The old holder heartbeats back to alive: it does not run the case again.
    orch(repo, "session", "heartbeat", session=d, env=at(3), check=True)
    nxt = orch_json(repo, "resume", "next", session=d, env=at(3))
    assert nxt["alive"] and nxt["case"] is None and nxt["what"] == "taken"
    assert nxt["taken"]["case"] == case and nxt["taken"]["by"] == alice["session_id"]
    text = orch(repo, "resume", "next", session=d, env=at(3), check=True).stdout
    assert f"case {case} was taken by session {alice['session_id']}" in text
    for args in (["case", "complete", case, "--next", "x"], ["case", "fail", case,
                                                             "--reason", "x"]):
        refused = orch(repo, *args, session=d, env=at(3))
        assert refused.returncode == 1 and "held by live session" in refused.stderr
    sessions = {s["id"]: s for s in orch_json(repo, "status", env=at(3))["sessions"]}
    assert sessions[d]["current_case"] is None
    assert sessions[alice["session_id"]]["current_case"] == case


def test_candidates_and_attach_never_offer_a_case_taken_since(repo: Path) -> None:
    case = make_case(repo)
    d = orch_json(repo, "session", "open", "--owner", "erin", "--no-bind",
                  "--ttl", "1")["session_id"]
    orch(repo, "case", "begin", case, session=d, check=True)
    orch(repo, "lock", "acquire", "docs/", session=d, check=True)
    cands = orch_json(repo, "resume", "candidates", env=at(2))["candidates"]
    assert [(c["session"], c["case"]["id"]) for c in cands] == [(d, case)]
    alice = orch_json(repo, "session", "open", "--owner", "alice", "--no-bind")
    orch(repo, "case", "begin", case, "--force", session=alice["session_id"], env=at(2),
         check=True)
    # Still a candidate for its lock, no longer for the case.
    cands = orch_json(repo, "resume", "candidates", env=at(2))["candidates"]
    assert [(c["session"], c["case"]) for c in cands] == [(d, None)]
    bob = orch_json(repo, "session", "open", "--owner", "bob", "--no-bind")["session_id"]
    out = orch_json(repo, "resume", "attach", d, session=bob, env=at(2))
    assert out["attached"]["cases"] == [] and out["case"] is None
    assert case not in out["next_action"], out["next_action"]
    assert orch_json(repo, "task", "get", case)["holder"] == alice["session_id"]
    # NEXT names something that is accepted.
    if out["what"] == "begin":
        orch(repo, "case", "begin", out["ready"]["id"], session=bob, env=at(2), check=True)
    got = orch(repo, "case", "complete", case, "--next", "x", session=bob, env=at(2))
    assert got.returncode == 1, got.stdout
    assert json.loads(orch(repo, "task", "get", case, "--json").stdout)["status"] == "running"
