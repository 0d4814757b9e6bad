"""Hand-made writes of the shared refs, pushed past every client hook: the server hook
refuses what the orch commands would never write (README, "Remote mode")."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from testing.gitdaemon import make_bare
from testing.repos import commit_file, git, open_session, orch, orch_json
from tests.remote.conftest import Server, _seed, clone

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Server]:
    """A bare team.git by path with the server hook installed (a path push runs the
    hook with our environment, so REMOTE_USER plays an authenticating server)."""
    base = tmp_path / "served"
    base.mkdir()
    bare = make_bare(base / "team.git")
    _seed(tmp_path, str(bare))
    orch(base, "server", "install", str(bare), check=True)
    yield Server(bare, str(bare), None)


def _push(repo: Path, *refspecs: str, user: str | None = None,
          opts: tuple[str, ...] = ()) -> tuple[int, str]:
    env = {"REMOTE_USER": user} if user else {}
    args = [a for o in opts for a in ("-o", o)]
    proc = git(repo, *NO_HOOKS, "push", "--no-verify", "--atomic", *args, "origin",
               *refspecs, check=False, env=env)
    return proc.returncode, proc.stderr


def _commit(repo: Path, tree: str, parent: str, msg: str = "forged") -> str:
    return git(repo, "commit-tree", tree, "-p", parent, "-m", msg).stdout.strip()


def _lock_table(repo: Path) -> tuple[str, str]:
    orch(repo, "remote", "fetch", check=True)
    tip = git(repo, "rev-parse", "refs/orch/locks").stdout.strip()
    return tip, git(repo, "ls-tree", tip).stdout


def test_a_table_dropping_or_rewriting_another_sessions_lease_is_refused(
        team: Server, tmp_path: Path) -> None:
    a, b = clone(team, tmp_path / "a"), clone(team, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    orch(a, "lock", "acquire", "src/x.py", session=sa, check=True)
    tip, listing = _lock_table(b)
    # Dropped: a tree without alice's blob.
    kept = "".join(ln + "\n" for ln in listing.splitlines() if sa not in ln)
    dropped = _commit(b, git(b, "mktree", input=kept).stdout.strip(), tip)
    code, err = _push(b, f"{dropped}:refs/orch/locks", user="bob")
    assert code != 0 and "removes lease" in err and sa in err, err
    code, err = _push(b, f"{dropped}:refs/orch/locks")  # no session named at all
    assert code != 0 and "removes lease" in err, err
    # Rewritten in place: the same lease id, bob's session.
    blob = git(b, "show", f"{tip}:locks-{sa}.jsonl").stdout
    moved = git(b, "hash-object", "-w", "--stdin",
                input=blob.replace(sa, sb).replace('"alice"', '"bob"')).stdout.strip()
    moved_tree = git(b, "mktree", input=kept + f"100644 blob {moved}\tlocks-{sb}.jsonl\n")
    rewritten = _commit(b, moved_tree.stdout.strip(), tip, f"take\n\norch-sessions: {sb}")
    code, err = _push(b, f"{rewritten}:refs/orch/locks", user="bob")
    assert code != 0 and "rewrites lease" in err, err
    # Claiming alice's session while authenticated as bob proves nothing.
    claimed = _commit(b, git(b, "mktree", input=kept).stdout.strip(), tip,
                      f"release\n\norch-sessions: {sa}")
    code, err = _push(b, f"{claimed}:refs/orch/locks", user="bob")
    assert code != 0 and "removes lease" in err, err
    # A table holding only a malformed blob (every lease gone) is refused.
    junk = git(b, "hash-object", "-w", "--stdin", input="{not json\n").stdout.strip()
    tree = git(b, "mktree", input=f"100644 blob {junk}\tlocks-{sb}.jsonl\n").stdout.strip()
    code, err = _push(b, f"{_commit(b, tree, tip)}:refs/orch/locks")
    assert code != 0 and "malformed" in err, err
    assert sa in git(team.bare, "ls-tree", "refs/orch/locks").stdout
    # The commands themselves still pass: alice releases, bob takes the path.
    orch(a, "lock", "release", "src/x.py", session=sa, check=True)
    orch(b, "lock", "acquire", "src/x.py", session=sb, check=True)
    orch(b, "lock", "release", "src/x.py", session=sb, check=True)


def test_a_non_commit_object_for_an_orch_ref_is_refused(team: Server, tmp_path: Path) -> None:
    a = clone(team, tmp_path / "a")
    sa = open_session(a, "alice")
    orch(a, "lock", "acquire", "docs/", session=sa, check=True)
    tip, _listing = _lock_table(a)
    tag = git(a, "mktag", input=f"object {tip}\ntype commit\ntag t\n"
              "tagger T <t@example.com> 0 +0000\n\nx\n").stdout.strip()
    for ref in ("refs/orch/locks", "refs/orch/queue", "refs/orch/mail", "refs/notes/orch"):
        code, err = _push(a, f"{tag}:{ref}")
        assert code != 0 and "not a commit" in err, (ref, err)
    # A tag left there before the hook refused them: the clients' doctor names it and
    # the server's admin repairs it.
    git(a, "push", "-q", "origin", f"{tag}:refs/tags/t")
    git(team.bare, "update-ref", "refs/orch/locks", tag)
    orch(a, "remote", "fetch", check=True)
    report = json.loads(orch(a, "doctor", "--json").stdout)
    bad = [f for f in report["findings"] if f["check"].startswith("refs/orch-remote/")]
    assert bad and not bad[0]["ok"] and "server repair" in bad[0]["detail"], report
    out = orch_json(team.bare.parent, "server", "repair", str(team.bare))
    assert out["repaired"] == [{"ref": "refs/orch/locks", "was": tag, "now": tip}]
    orch(a, "lock", "release", "docs/", session=sa, check=True)


def test_a_malformed_queue_is_one_clean_refusal(team: Server, tmp_path: Path) -> None:
    a = clone(team, tmp_path / "a")
    oid = git(a, "hash-object", "-w", "--stdin", input="[1, 2]").stdout.strip()
    tree = git(a, "mktree", input=f"100644 blob {oid}\tqueue.json\n").stdout.strip()
    root = git(a, "commit-tree", tree, "-m", "queue").stdout.strip()
    code, err = _push(a, f"{root}:refs/orch/queue")
    lines = [ln for ln in err.splitlines() if "orch-hooks:" in ln]
    assert code != 0 and len(lines) == 1 and "malformed queue.json" in lines[0], err
    assert "server hook failed" not in err


def _queue_write(repo: Path, change: Mapping[str, object], entry: str) -> str:
    tip = git(repo, "rev-parse", "refs/orch/queue").stdout.strip()
    data = json.loads(git(repo, "show", f"{tip}:queue.json").stdout)
    for e in data["entries"]:
        if e["id"] == entry:
            e.update(change)
    oid = git(repo, "hash-object", "-w", "--stdin", input=json.dumps(data)).stdout.strip()
    tree = git(repo, "mktree", input=f"100644 blob {oid}\tqueue.json\n").stdout.strip()
    return _commit(repo, tree, tip)


def test_main_moves_only_to_the_approved_merge(team: Server, tmp_path: Path) -> None:
    b = clone(team, tmp_path / "b")
    sb = open_session(b, "bob")
    git(b, "switch", "-q", "-c", "feat")
    made = commit_file(b, "docs/feat.md", "x\n", "feat", env={"ORCH_SESSION": sb})
    assert made.returncode == 0, made.stderr
    git(b, "push", "-q", "origin", "feat", env={"ORCH_SESSION": sb})
    entry = orch_json(b, "merge", "request", session=sb)["id"]
    orch(b, "remote", "fetch", check=True)
    old_main = git(b, "rev-parse", "origin/main").stdout.strip()
    # An invented reviewer approves bob's entry: refused when the server knows the
    # pusher, and so is an approval by the author's own owner.
    fake = {"state": "approved", "reviewer": "S-x",
            "approvals": [{"session": "S-x", "owner": "carol", "at": 1.0}]}
    code, err = _push(b, f"{_queue_write(b, fake, entry)}:refs/orch/queue", user="bob")
    assert code != 0 and "authenticated user bob" in err, err
    own = dict(fake, approvals=[{"session": "S-x", "owner": "bob", "at": 1.0}])
    code, err = _push(b, f"{_queue_write(b, own, entry)}:refs/orch/queue")
    assert code != 0 and "author's owner" in err, err
    # Without authentication the approval passes (README: forge limits) ...
    code, err = _push(b, f"{_queue_write(b, fake, entry)}:refs/orch/queue")
    assert code == 0, err
    git(b, "fetch", "-q", "origin", "+refs/orch/queue:refs/orch/queue")
    # ... but the landing must be the merge of old main and the approved tip.
    _raw = git(b, "commit-tree", git(b, "rev-parse", "feat^{tree}").stdout.strip(),
               "-p", old_main, "-m", "anything").stdout.strip()
    landed = {"state": "landed", "landed_as": _raw, "landing_result": _raw,
              "landed_on": old_main}
    code, err = _push(b, f"{_queue_write(b, landed, entry)}:refs/orch/queue",
                      f"{_raw}:refs/heads/main")
    assert code != 0 and "not the merge of" in err, err
    assert git(team.bare, "rev-parse", "main").stdout.strip() == old_main
