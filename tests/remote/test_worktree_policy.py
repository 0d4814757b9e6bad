"""Remote mode set up the README's way: ``install --remote origin`` in each clone, the
``[remote]`` table only in the work tree; the queue and landings follow the remote
exactly as the lock commands do."""

from __future__ import annotations

import json
from pathlib import Path

from testing.gitdaemon import make_bare
from testing.repos import commit_file, git, make_repo, open_session, orch, orch_json


def _clone(url: str, where: Path) -> Path:
    git(where.parent, "clone", "-q", url, str(where))
    orch(where, "install", "--remote", "origin", check=True)
    return where


def test_a_landing_in_a_worktree_remote_mode_moves_the_remotes_main(tmp_path: Path) -> None:
    (tmp_path / "served").mkdir()
    bare = make_bare(tmp_path / "served" / "team.git")
    seed = make_repo(tmp_path / "seed", install=False)
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    orch(tmp_path, "server", "install", str(bare), check=True)
    a, b = _clone(str(bare), tmp_path / "a"), _clone(str(bare), tmp_path / "b")
    assert "[remote]" in (a / ".orch.toml").read_text()
    assert "[remote]" not in git(bare, "show", "main:.orch.toml").stdout
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    git(a, "switch", "-q", "-c", "feat")
    made = commit_file(a, "docs/feat.md", "feature\n", "feat", env={"ORCH_SESSION": sa})
    assert made.returncode == 0, made.stderr
    git(a, "push", "-q", "origin", "feat", env={"ORCH_SESSION": sa})
    entry = orch_json(a, "merge", "request", session=sa)["id"]
    assert entry in git(bare, "show", "refs/orch/queue:queue.json").stdout
    git(b, "switch", "-q", "-c", "bob-work")  # the uncommitted [remote] table comes along
    # B has fetched neither the branch nor the queue: review and land fetch them.
    review = orch_json(b, "merge", "review", entry, "--approve", session=sb)
    assert "warning" not in review, review
    before = git(bare, "rev-parse", "main").stdout.strip()
    out = orch_json(b, "merge", "land", session=sb)
    assert out["landed"], out
    after = git(bare, "rev-parse", "main").stdout.strip()
    assert after == out["main_after"] != before
    queue = json.loads(git(bare, "show", "refs/orch/queue:queue.json").stdout)
    assert next(e for e in queue["entries"] if e["id"] == entry)["state"] == "landed"


def test_a_remote_that_takes_no_push_is_named_as_such(tmp_path: Path) -> None:
    seed = make_repo(tmp_path / "seed", install=False)
    bundle = tmp_path / "team.bundle"
    git(seed, "bundle", "create", str(bundle), "--all")
    c = tmp_path / "c"
    git(tmp_path, "clone", "-q", str(bundle), str(c))
    refused = orch(c, "install", "--remote", "origin")
    assert refused.returncode == 1 and "does not accept pushes" in refused.stderr, refused
    assert "cannot be reached" not in refused.stderr
    assert "[remote]" not in (c / ".orch.toml").read_text()
    # A clone already in remote mode whose remote became read-only: not "retry later".
    (tmp_path / "served").mkdir()
    bare = make_bare(tmp_path / "served" / "team.git")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    a = _clone(str(bare), tmp_path / "a")
    sa = open_session(a, "alice")
    git(a, "remote", "set-url", "origin", str(bundle))
    proc = orch(a, "lock", "acquire", "docs/", "--json", session=sa)
    assert proc.returncode == 1 and "remote_read_only" in proc.stdout + proc.stderr, proc
