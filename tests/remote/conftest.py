"""Real servers for remote mode: a bare repository behind `git daemon` on 127.0.0.1
(a free port, stopped at teardown) and the same kind of bare repository by its path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.gitdaemon import Daemon, daemon, make_bare
from testing.repos import git, make_repo, orch


@dataclass
class Server:
    bare: Path
    url: str
    daemon: Daemon | None


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[Daemon]:
    base = tmp_path / "served"
    base.mkdir()
    with daemon(base) as d:
        yield d


def _seed(tmp_path: Path, url: str) -> Path:
    """The first clone: the sample project with ``[remote] name = "origin"`` committed
    in its policy, pushed to the server's main."""
    seed = make_repo(tmp_path / "seed", install=False)
    policy = seed / ".orch.toml"
    policy.write_text(policy.read_text() + '\n[remote]\nname = "origin"\n')
    git(seed, "commit", "-q", "-am", "remote mode through origin")
    git(seed, "remote", "add", "origin", url)
    git(seed, "push", "-q", "origin", "main")
    return seed


def clone(server: Server, where: Path) -> Path:
    """A clone of the team's remote with orch installed (remote mode from its policy)."""
    git(where.parent, "clone", "-q", server.url, str(where))
    orch(where, "install", check=True)
    return where


@pytest.fixture(params=["daemon", "path"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The team's remote, through git daemon or as a file path; main already pushed."""
    base = tmp_path / "served"
    base.mkdir()
    bare = make_bare(base / "team.git")
    if request.param == "path":
        _seed(tmp_path, str(bare))
        yield Server(bare, str(bare), None)
        return
    with daemon(base) as d:
        url = d.url(bare)
        _seed(tmp_path, url)
        yield Server(bare, url, d)
