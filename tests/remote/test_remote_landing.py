"""Remote mode: the queue lives on the remote, and a landing pushes main together with
the queue record of it, in one atomic push that the server hook checks."""

from __future__ import annotations

import json
from pathlib import Path

from testing.repos import commit_file, git, open_session, orch, orch_json
from tests.remote.conftest import Server, clone


def test_landing_from_another_clone_moves_main_on_the_remote(server: Server,
                                                             tmp_path: Path) -> None:
    orch(server.bare.parent, "server", "install", str(server.bare), check=True)
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    git(a, "switch", "-q", "-c", "feat")
    made = commit_file(a, "docs/feat.md", "feature\n", "add feature notes",
                       env={"ORCH_SESSION": sa})
    assert made.returncode == 0, made.stderr
    git(a, "push", "-q", "origin", "feat", env={"ORCH_SESSION": sa})
    entry = orch_json(a, "merge", "request", session=sa)["id"]
    # B sees the entry the remote holds after a fetch, reviews it and lands it.
    orch(b, "remote", "fetch", check=True)
    listed = orch_json(b, "merge", "queue")
    assert entry in json.dumps(listed)
    orch(b, "merge", "review", entry, "--approve", session=sb, check=True)
    before = git(server.bare, "rev-parse", "main").stdout.strip()
    out = orch_json(b, "merge", "land", session=sb)
    assert out["landed"], out
    after = git(server.bare, "rev-parse", "main").stdout.strip()
    assert after == out["main_after"] != before
    queue = json.loads(git(server.bare, "show", "refs/orch/queue:queue.json").stdout)
    landed = next(e for e in queue["entries"] if e["id"] == entry)
    assert landed["state"] == "landed" and landed["landed_as"] == after
    assert landed["landed_on"] == before and queue["lease"] is None
    # A follows main from the remote; a hand-made move of main is still refused there.
    git(a, "switch", "-q", "main")
    git(a, "pull", "-q", "--ff-only", "origin", "main")
    assert git(a, "rev-parse", "main").stdout.strip() == after
    forged = git(a, "-c", "core.hooksPath=/dev/null", "push", "origin",
                 f"{before}:refs/heads/main", "--force", check=False)
    assert forged.returncode != 0 and "merge queue" in forged.stderr


def test_landing_refuses_a_main_behind_the_remote(server: Server, tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    for n in (1, 2):
        git(a, "switch", "-q", "-c", f"f{n}", "origin/main")
        made = commit_file(a, f"docs/f{n}.md", "x\n", f"f{n}", env={"ORCH_SESSION": sa})
        assert made.returncode == 0, made.stderr
        git(a, "push", "-q", "origin", f"f{n}", env={"ORCH_SESSION": sa})
        entry = orch_json(a, "merge", "request", session=sa)["id"]
        orch(b, "merge", "review", entry, "--approve", session=sb, check=True)
    assert orch_json(b, "merge", "land", session=sb)["landed"]
    # A's main is behind the remote's now: A's lander refuses to build on it.
    git(a, "switch", "-q", "main")
    refused = orch(a, "merge", "land", session=sa)
    assert refused.returncode == 1 and "pull --ff-only" in refused.stderr
    git(a, "pull", "-q", "--ff-only", "origin", "main")
    assert orch_json(a, "merge", "land", session=sa)["landed"]
    assert git(server.bare, "rev-parse", "main").stdout == git(a, "rev-parse", "main").stdout
