"""The server hook: the same rules as the clients, applied to every push a bare
repository receives (through git daemon and by path)."""

from __future__ import annotations

from pathlib import Path

from testing.repos import commit_file, git, open_session, orch, orch_json
from tests.remote.conftest import Server, clone

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def _install(server: Server) -> None:
    out = orch_json(server.bare.parent, "server", "install", str(server.bare))
    assert [h["hook"] for h in out["hooks"]] == ["pre-receive", "post-receive"]
    assert (server.bare / "orch" / "protected").read_text() == "refs/heads/main\n"


def _raw_commit(repo: Path, rel: str, text: str) -> None:
    """A commit made with every client hook off (the bypass matrix's rows)."""
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    git(repo, "add", rel)
    git(repo, *NO_HOOKS, "commit", "-q", "-m", f"edit {rel}")


def test_push_touching_a_path_locked_by_another_is_refused(server: Server,
                                                           tmp_path: Path) -> None:
    _install(server)
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa = open_session(a, "alice")
    open_session(b, "bob")
    orch(a, "lock", "acquire", "src/", session=sa, check=True)
    git(b, "switch", "-q", "-c", "bob-work")
    _raw_commit(b, "src/app.py", "print('bob')\n")
    push = git(b, *NO_HOOKS, "push", "origin", "bob-work", check=False)
    assert push.returncode != 0
    line = next(ln for ln in push.stderr.splitlines() if "orch-hooks:" in ln)
    assert "src/app.py" in line and sa in line and "alice" in line
    assert git(server.bare, "rev-parse", "-q", "--verify", "bob-work", check=False).returncode
    # The holder pushes the same kind of change, naming its session.
    git(a, "switch", "-q", "-c", "alice-work")
    _raw_commit(a, "src/app.py", "print('alice')\n")
    git(a, *NO_HOOKS, "push", "-q", "-o", f"orch-session={sa}", "origin", "alice-work")
    # Unlocked paths go through without naming anybody.
    git(b, "switch", "-q", "-c", "docs-work", "main")
    _raw_commit(b, "docs/new.md", "hello\n")
    git(b, *NO_HOOKS, "push", "-q", "origin", "docs-work")


def test_notes_pushed_with_the_commits_name_the_session(server: Server,
                                                        tmp_path: Path) -> None:
    _install(server)
    a = clone(server, tmp_path / "a")
    sa = open_session(a, "alice")
    orch(a, "lock", "acquire", "src/", session=sa, check=True)
    git(a, "switch", "-q", "-c", "alice-work")
    proc = commit_file(a, "src/app.py", "print('a')\n", "alice edits",
                       env={"ORCH_SESSION": sa})
    assert proc.returncode == 0, proc.stderr
    git(a, *NO_HOOKS, "push", "-q", "--atomic", "origin", "alice-work",
        "refs/notes/orch:refs/notes/orch")


def test_forged_lock_table_and_main_are_refused(server: Server, tmp_path: Path) -> None:
    _install(server)
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    orch(a, "lock", "acquire", "src/app.py", session=sa, check=True)
    # B forges a table granting itself src/ on top of A's lease, with git alone.
    orch(b, "remote", "fetch", check=True)
    tip = git(b, "rev-parse", "refs/orch/locks").stdout.strip()
    blob = git(b, "show", f"{tip}:locks-{sa}.jsonl").stdout
    forged = blob.replace(sa, sb).replace('"src/app.py"', '"src/"').replace('"L-', '"L-f')
    oid = git(b, "hash-object", "-w", "--stdin", input=forged).stdout.strip()
    tree = git(b, "mktree", input=f"100644 blob {oid}\tlocks-{sb}.jsonl\n"
               f"100644 blob {git(b, 'rev-parse', f'{tip}:locks-{sa}.jsonl').stdout.strip()}"
               f"\tlocks-{sa}.jsonl\n").stdout.strip()
    commit = git(b, "commit-tree", tree, "-p", tip, "-m", "forged").stdout.strip()
    push = git(b, *NO_HOOKS, "push", "origin", f"{commit}:refs/orch/locks", check=False)
    assert push.returncode != 0 and "conflicts with" in push.stderr
    # Deleting or rewriting the table is refused too.
    push = git(b, *NO_HOOKS, "push", "origin", ":refs/orch/locks", check=False)
    assert push.returncode != 0 and "deleting the lock table" in push.stderr
    # main moves only with a queue record, whatever the client's hooks do.
    git(b, *NO_HOOKS, "switch", "-q", "main")
    _raw_commit(b, "docs/x.md", "x\n")
    push = git(b, *NO_HOOKS, "push", "origin", "main", check=False)
    assert push.returncode != 0 and "merge queue" in push.stderr
    # The client path still works: a lock through orch-hooks is a valid successor.
    orch(b, "lock", "acquire", "docs/", session=sb, check=True)


def test_uninstall_restores_a_foreign_hook(server: Server, tmp_path: Path) -> None:
    hook = server.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    _install(server)
    assert (server.bare / "hooks" / "pre-receive.orch-chained").exists()
    orch(server.bare.parent, "server", "uninstall", str(server.bare), check=True)
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    bad = orch(server.bare.parent, "server", "install", str(tmp_path))
    assert bad.returncode == 2 and "not a bare git repository" in bad.stderr


def test_bypass_rows_are_caught_at_the_server(server: Server, tmp_path: Path) -> None:
    """`push --no-verify`, a libgit2 writer, and a hand-made queue commit."""
    import json

    import pygit2

    _install(server)
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa, sb = open_session(a, "alice"), open_session(b, "bob")
    orch(a, "lock", "acquire", "src/app.py", session=sa, check=True)
    # A libgit2 writer makes a commit on a branch: no client hook runs at all.
    pg = pygit2.Repository(str(b))
    blob = pg.create_blob(b"print('libgit2')\n")
    builder = pg.TreeBuilder(pg.revparse_single("HEAD^{tree}").id)
    sub = pg.TreeBuilder(pg.revparse_single("HEAD:src").id)
    sub.insert("app.py", blob, pygit2.GIT_FILEMODE_BLOB)
    builder.insert("src", sub.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("Bob", "bob@example.com")
    head = pg.revparse_single("HEAD").id
    pg.create_commit("refs/heads/lib-work", sig, sig, "libgit2 edit", builder.write(), [head])
    push = git(b, "push", "--no-verify", "origin", "lib-work", check=False,
               env={"ORCH_SESSION": sb})
    assert push.returncode != 0 and "src/app.py" in push.stderr and sa in push.stderr
    # A hand-made queue commit marking a self-reviewed entry landed.
    git(b, "switch", "-q", "-c", "feat")
    made = commit_file(b, "docs/feat.md", "x\n", "feat", env={"ORCH_SESSION": sb})
    assert made.returncode == 0, made.stderr
    git(b, "push", "-q", "origin", "feat", env={"ORCH_SESSION": sb})
    entry = orch_json(b, "merge", "request", session=sb)["id"]
    orch(b, "remote", "fetch", check=True)
    tip = git(b, "rev-parse", "refs/orch/queue").stdout.strip()
    data = json.loads(git(b, "show", f"{tip}:queue.json").stdout)
    for e in data["entries"]:
        if e["id"] == entry:
            e.update(state="landed", reviewer=sb, landed_as=e["tip"])
    oid = git(b, "hash-object", "-w", "--stdin", input=json.dumps(data)).stdout.strip()
    tree = git(b, "mktree", input=f"100644 blob {oid}\tqueue.json\n").stdout.strip()
    forged = git(b, "commit-tree", tree, "-p", tip, "-m", "landed").stdout.strip()
    push = git(b, "push", "--no-verify", "--atomic", "origin", f"{forged}:refs/orch/queue",
               f"{made_tip(b)}:refs/heads/main", check=False)
    assert push.returncode != 0
    assert "may not go from queued to landed" in push.stderr


def made_tip(repo: Path) -> str:
    return git(repo, "rev-parse", "feat").stdout.strip()


def test_an_authenticated_user_cannot_push_as_another_users_session(
        server: Server, tmp_path: Path) -> None:
    if server.daemon is not None:
        return  # git daemon authenticates nobody; a file path runs receive-pack as us
    _install(server)
    a, b = clone(server, tmp_path / "a"), clone(server, tmp_path / "b")
    sa = open_session(a, "alice")
    orch(a, "lock", "acquire", "src/", session=sa, check=True)
    git(b, "switch", "-q", "-c", "mallory-work")
    _raw_commit(b, "src/app.py", "print('m')\n")
    # The server says who authenticated (as smart HTTP does with REMOTE_USER).
    push = git(b, *NO_HOOKS, "push", "-o", f"orch-session={sa}", "origin", "mallory-work",
               check=False, env={"REMOTE_USER": "mallory"})
    assert push.returncode != 0 and "names no session" in push.stderr
    ok = git(a, *NO_HOOKS, "push", "-o", f"orch-session={sa}", "origin",
             "HEAD:refs/heads/alice-work", check=False, env={"REMOTE_USER": "alice"})
    assert ok.returncode == 0, ok.stderr
