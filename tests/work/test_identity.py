"""A session id is a name, not a credential: acting as a session of another owner
(releasing its locks, taking locks or committing in its name) needs an explicit
override and is journaled naming both (work/identity.py, README "Identity")."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from testing.repos import add_worktree, commit_file, git, open_session, orch, orch_json


@pytest.fixture
def two(repo: Path) -> tuple[Path, Path, str, str]:
    wa, wb = add_worktree(repo, "wt-a"), add_worktree(repo, "wt-b")
    a = open_session(wa, "alice")
    b = open_session(wb, "bob")
    orch(wa, "lock", "acquire", "src/api/", check=True)
    return wa, wb, a, b


def _events(repo: Path, kind: str) -> list[dict[str, object]]:
    db = sqlite3.connect(repo / ".git" / "orch" / "state.db")
    try:
        rows = db.execute("SELECT data FROM events WHERE kind=?", (kind,)).fetchall()
    finally:
        db.close()
    return [json.loads(r[0]) for r in rows]


def test_releasing_another_owners_lock_by_its_id_needs_force(
        two: tuple[Path, Path, str, str], repo: Path) -> None:
    _wa, wb, a, _b = two
    for how in (["--session", a], []):
        env = {} if how else {"ORCH_SESSION": a}
        proc = orch(wb, *how, "lock", "release", "src/api/", env=env)
        assert proc.returncode == 1 and "another owner's session" in proc.stderr, proc.stderr
        assert "alice" in proc.stderr and "bob" in proc.stderr
    assert [lk["path"] for lk in orch_json(wb, "lock", "list")["locks"]] == ["src/api/"]
    assert _events(repo, "session.act_for") == []
    out = orch_json(wb, "--session", a, "lock", "release", "--force", "src/api/")
    assert [r["path"] for r in out["released"]] == ["src/api/"]
    acted = _events(repo, "session.act_for")
    assert len(acted) == 1 and acted[0]["session"] == a and acted[0]["owner"] == "alice"
    assert acted[0]["by"] == "bob"


def test_acting_for_another_owner_needs_act_for_and_is_journaled(
        two: tuple[Path, Path, str, str], repo: Path) -> None:
    _wa, wb, a, b = two
    proc = orch(wb, "--session", a, "lock", "acquire", "docs/")
    assert proc.returncode == 1 and "acting for another owner's session" in proc.stderr
    out = orch_json(wb, "--act-for", "--session", a, "lock", "acquire", "docs/")
    assert out["locks"][0]["session"] == a
    assert [(e["session"], e["by"]) for e in _events(repo, "session.act_for")] == [(a, "bob")]
    # Your own sessions need nothing: the bound one, one of the same owner, one opened here.
    b2 = open_session(wb, "bob")
    assert orch(wb, "--session", b2, "lock", "acquire", "docs/x.md").returncode == 1  # a's
    assert orch(wb, "--session", b2, "lock", "acquire", "src/web/").returncode == 0
    assert orch(wb, "--session", b, "lock", "acquire", "src/web/a.py").returncode == 1
    assert len(_events(repo, "session.act_for")) == 1


def test_committing_as_another_owners_session_is_refused(
        bare_remote: Path, two: tuple[Path, Path, str, str]) -> None:
    """ORCH_SESSION=<the holder> does not borrow the holder's lock, and the holder's
    name never reaches the checkpoint, so pre-push cannot blame the holder either."""
    _wa, wb, a, b = two
    holder = {"ORCH_SESSION": a}
    proc = commit_file(wb, "src/api/users.py", "x\n", "as alice", env=holder)
    assert proc.returncode == 1 and "another owner's session" in proc.stderr, proc.stderr
    # Not even on a free path: the commit would carry alice's name.
    proc = commit_file(wb, "docs/free.md", "x\n", "as alice", env=holder)
    assert proc.returncode == 1
    git(wb, "reset", "-q")
    # --no-verify: the branch lock rule decides as bob, the worktree's own session.
    proc = commit_file(wb, "src/api/users.py", "y\n", "as alice", "--no-verify", env=holder)
    assert proc.returncode != 0 and a in proc.stderr, proc.stderr
    git(wb, "reset", "-q")
    # Every hook off: no note at all; the push is checked as bob and refused.
    git(wb, "add", "src/api/users.py")
    git(wb, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "no hooks", env=holder)
    push = git(wb, "push", "origin", "wt-b", check=False, env=holder)
    assert push.returncode == 1 and a in push.stderr, push.stderr
    # A free path committed with the worktree's own session is stamped with it.
    git(wb, "reset", "-q", "--hard", "HEAD~1")
    assert commit_file(wb, "docs/mine.md", "m\n", "mine").returncode == 0
    note = git(wb, "notes", "--ref=orch", "show", "HEAD").stdout
    assert json.loads(note.splitlines()[-1])["session"] == b


def test_an_edited_stamp_file_does_not_make_another_owners_session_ones_own(
        two: tuple[Path, Path, str, str]) -> None:
    """The shell never decides identity from the stamp files (a session can edit them):
    bob's worktree with ORCH_SESSION=alice's session is refused even after the owner in
    alice's stamp file was rewritten to bob."""
    _wa, wb, a, _b = two
    common = Path(git(wb, "rev-parse", "--path-format=absolute", "--git-common-dir")
                  .stdout.strip())
    stamp = common / "orch" / "stamp" / f"{a}.json"
    # A first commit of bob's own leaves the shell's caches warm (its fast path runs).
    assert commit_file(wb, "docs/warm.md", "w\n", "warm").returncode == 0
    text = stamp.read_text()
    assert '"owner":"alice"' in text
    stamp.write_text(text.replace('"owner":"alice"', '"owner":"bob"'))
    proc = commit_file(wb, "src/api/users.py", "x\n", "as alice", env={"ORCH_SESSION": a})
    assert proc.returncode == 1 and "another owner's session" in proc.stderr, proc.stderr
    assert git(wb, "diff", "--cached", "--name-only").stdout.split() == ["src/api/users.py"]
