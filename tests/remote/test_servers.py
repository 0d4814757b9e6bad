"""The fixtures serve real repositories: clone, push and fetch work through them."""

from __future__ import annotations

from pathlib import Path

from testing.gitdaemon import _accepts, daemon, make_bare
from testing.repos import git
from tests.remote.conftest import Server


def test_clone_push_fetch_through_the_server(server: Server, tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", server.url, str(a))
    git(tmp_path, "clone", "-q", server.url, str(b))
    (a / "new.txt").write_text("hello\n")
    git(a, "add", "new.txt")
    git(a, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "new")
    git(a, "push", "-q", "origin", "main")
    git(b, "pull", "-q", "--ff-only")
    assert (b / "new.txt").read_text() == "hello\n"
    assert git(server.bare, "rev-parse", "main").stdout == git(a, "rev-parse", "main").stdout


def test_daemon_stops_at_teardown(tmp_path: Path) -> None:
    base = tmp_path / "served"
    base.mkdir()
    make_bare(base / "x.git")
    with daemon(base) as d:
        assert _accepts(d.port)
        port = d.port
    assert d.proc.poll() is not None
    assert not _accepts(port)
