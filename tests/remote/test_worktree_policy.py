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


def _served(tmp_path: Path) -> Path:
    """A bare remote holding the sample project's main."""
    (tmp_path / "served").mkdir()
    bare = make_bare(tmp_path / "served" / "team.git")
    seed = make_repo(tmp_path / "seed", install=False)
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    return bare


def test_a_landing_in_a_worktree_remote_mode_moves_the_remotes_main(tmp_path: Path) -> None:
    bare = _served(tmp_path)
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


def test_a_work_tree_cannot_switch_where_lock_truth_lives(tmp_path: Path) -> None:
    """A session that writes ``[remote]`` into its work tree's .orch.toml (or a forged
    remote-policy cache) does not move this clone to another lock table: bob's live
    lock stays, and alice is refused on his path."""
    repo = make_repo(tmp_path / "repo")
    bob_wt = tmp_path / "wt-bob"
    git(repo, "worktree", "add", "-q", "-b", "bob-work", str(bob_wt))
    sa, sb = open_session(repo, "alice"), open_session(bob_wt, "bob")
    orch(bob_wt, "lock", "acquire", "src/", check=True, session=sb)
    evil = make_bare(tmp_path / "evil.git")
    git(repo, "remote", "add", "evil", str(evil))
    policy = repo / ".orch.toml"
    policy.write_text(policy.read_text() + '\n[remote]\nname = "evil"\n')
    common = repo / ".git" / "orch"
    (common / "remote-policy").write_text(
        f"main\t{git(repo, 'rev-parse', 'main').stdout.strip()}\tevil\n")
    took = orch(repo, "lock", "acquire", "src/", session=sa)
    assert took.returncode == 1 and "bob" in took.stdout + took.stderr, took
    listed = orch_json(repo, "lock", "list", session=sa)
    assert [lk["session"] for lk in listed["locks"]] == [sb]
    assert "refs/orch/locks" not in git(evil, "for-each-ref").stdout
    changed = commit_file(bob_wt, "src/bob.py", "b\n", "bob's own path",
                          env={"ORCH_SESSION": sb})
    assert changed.returncode == 0, changed.stderr


def test_install_remote_is_recorded_in_the_clone_config(tmp_path: Path) -> None:
    bare = _served(tmp_path)
    a = _clone(str(bare), tmp_path / "a")
    assert git(a, "config", "--get", "orch.remote").stdout.strip() == "origin"
    assert git(a, "config", "--get-all", "orch.protected").stdout.split() == ["refs/heads/main"]
    # Deleting the work tree's [remote] table changes nothing: the record decides.
    policy = a / ".orch.toml"
    policy.write_text(policy.read_text().split("[remote]")[0])
    assert orch_json(a, "remote", "status")["remote"] == "origin"
