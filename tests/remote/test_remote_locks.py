"""Remote mode: the team's remote holds the lock table; clones take leases by pushing."""

from __future__ import annotations

import json
from pathlib import Path

from testing.gitdaemon import free_port
from testing.repos import commit_file, git, open_session, orch, orch_json
from tests.remote.conftest import Server, clone


def _remote_log(server: Server) -> list[str]:
    proc = git(server.bare, "log", "--format=%s", "refs/orch/locks", check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def test_two_clones_share_one_table(server: Server, tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    got = orch_json(a, "lock", "acquire", "src/", session=sa)
    assert got["locks"][0]["path"] == "src/"
    assert len(_remote_log(server)) == 1
    refused = orch(b, "lock", "acquire", "src/app.py", session=sb)
    assert refused.returncode == 1
    assert f"locked by session {sa}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(_remote_log(server)) == 1  # a refusal pushes nothing
    orch(a, "lock", "release", "src/", session=sa, check=True)
    orch(b, "lock", "acquire", "src/app.py", session=sb, check=True)
    subjects = _remote_log(server)
    assert len(subjects) == 3 and subjects[0].startswith("acquire src/app.py")
    # B's local table is the remote's: a fetch in A sees B's lease.
    orch(a, "remote", "fetch", check=True)
    listed = orch_json(a, "lock", "list")
    assert [lk["session"] for lk in listed["locks"]] == [sb]


def test_many_paths_are_one_push_all_or_none(server: Server, tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    paths = [f"docs/f{i}.md" for i in range(100)]
    orch(a, "lock", "acquire", *paths, session=sa, check=True)
    assert len(_remote_log(server)) == 1
    refused = orch(b, "lock", "acquire", "src/x.py", "docs/f50.md", session=sb)
    assert refused.returncode == 1
    assert len(_remote_log(server)) == 1
    orch(b, "remote", "fetch", check=True)
    assert not [lk for lk in orch_json(b, "lock", "list")["locks"] if lk["session"] == sb]


def _cut_off(repo: Path) -> str:
    """Point origin at a port nothing listens on; return the old URL."""
    url = git(repo, "remote", "get-url", "origin").stdout.strip()
    git(repo, "remote", "set-url", "origin", f"git://127.0.0.1:{free_port()}/team.git")
    return url


def test_unreachable_remote_fails_closed(server: Server, tmp_path: Path) -> None:
    a = clone(server, tmp_path / "a")
    sa = open_session(a, "alice")
    _cut_off(a)
    proc = orch(a, "lock", "acquire", "src/app.py", "--json", session=sa)
    assert proc.returncode == 1
    err = json.loads(proc.stdout)["error"]
    assert err["code"] == "remote_unreachable" and err["retryable"] is True
    assert "--offline" in err["hint"]
    assert orch_json(a, "lock", "list")["locks"] == []
    human = orch(a, "lock", "acquire", "src/app.py", session=sa)
    assert human.returncode == 1 and "cannot be reached" in human.stderr
    assert "Traceback" not in human.stderr


def test_offline_lease_is_marked_and_reconciled(server: Server, tmp_path: Path) -> None:
    a = clone(server, tmp_path / "a")
    sa = open_session(a, "alice")
    url = _cut_off(a)
    got = orch_json(a, "lock", "acquire", "--offline", "src/app.py", session=sa)
    assert got["offline"] is True and got["locks"][0]["id"].startswith("L-offline-")
    assert got["warnings"]
    assert _remote_log(server) == []
    git(a, "remote", "set-url", "origin", url)
    orch(a, "lock", "acquire", "docs/", session=sa, check=True)
    assert len(_remote_log(server)) == 1
    on_remote = git(server.bare, "show", f"refs/orch/locks:locks-{sa}.jsonl").stdout
    assert "src/app.py" in on_remote and "L-offline-" not in on_remote
    listed = orch_json(a, "lock", "list")["locks"]
    assert sorted(lk["path"] for lk in listed) == ["docs/", "src/app.py"]
    assert not any(lk.get("offline") for lk in listed)


def test_offline_lease_that_conflicts_is_dropped_and_named(server: Server,
                                                           tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    url = _cut_off(a)
    orch(a, "lock", "acquire", "--offline", "src/app.py", session=sa, check=True)
    orch(b, "lock", "acquire", "src/", session=sb, check=True)
    git(a, "remote", "set-url", "origin", url)
    out = orch_json(a, "remote", "fetch")
    assert [c["path"] for c in out["offline_conflicts"]] == ["src/app.py"]
    assert out["offline_conflicts"][0]["held_by"][0]["session"] == sb
    listed = orch_json(a, "lock", "list")["locks"]
    assert [lk["session"] for lk in listed] == [sb]


def test_pre_push_checks_the_remote_table_not_the_last_fetch(server: Server,
                                                             tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    git(b, "switch", "-q", "-c", "bob-work")
    # A locks after B last fetched: B's commit hook (no network) lets the commit in.
    orch(a, "lock", "acquire", "src/app.py", session=sa, check=True)
    made = commit_file(b, "src/app.py", "print('b')\n", "bob edits", env={"ORCH_SESSION": sb})
    assert made.returncode == 0, made.stderr
    push = git(b, "push", "origin", "bob-work", check=False, env={"ORCH_SESSION": sb})
    assert push.returncode != 0
    assert "src/app.py" in push.stderr and sa in push.stderr
    # Now B's table is the remote's: the commit hook refuses, naming the fetch's age.
    (b / "src" / "app.py").write_text("print('b2')\n")
    git(b, "add", "src/app.py")
    again = git(b, "commit", "-q", "-m", "again", check=False, env={"ORCH_SESSION": sb})
    assert again.returncode != 0 and "fetched from origin" in again.stderr


def test_notes_of_several_clones_merge_on_the_remote(server: Server, tmp_path: Path) -> None:
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    for repo, sess, name in ((a, sa, "a"), (b, sb, "b")):
        git(repo, "switch", "-q", "-c", f"{name}-work")
        made = commit_file(repo, f"docs/{name}.md", f"{name}\n", f"{name} writes",
                           env={"ORCH_SESSION": sess})
        assert made.returncode == 0, made.stderr
        git(repo, "push", "-q", "origin", f"{name}-work", env={"ORCH_SESSION": sess})
    for name, sess in (("a", sa), ("b", sb)):
        note = git(server.bare, "notes", "--ref=orch", "show", f"{name}-work").stdout
        assert sess in note
