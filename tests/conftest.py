"""Sealed environment and real-git fixtures shared by every test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orch_core.context import Context

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_repo"
BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch-hooks")


@pytest.fixture(autouse=True)
def sealed_env(tmp_path_factory: pytest.TempPathFactory,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HOME, XDG and git config in tmp; fixed identities; no editor; no real state."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_EDITOR", "false")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(home / ".pre-commit"))
    for var in ("ORCH_SESSION", "ORCH_CLOCK_OFFSET", "ORCH_NO_BACKGROUND_SYNC", "GIT_DIR",
                "GIT_WORK_TREE",
                "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = user@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )
    yield


def git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def orch(cwd: Path, *args: str, session: str | None = None, check: bool = False,
         env: dict[str, str] | None = None,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user or agent would."""
    full_env = dict(os.environ)
    if session is not None:
        full_env["ORCH_SESSION"] = session
    if env:
        full_env.update(env)
    proc = subprocess.run([ORCH, *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"orch-hooks {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def orch_json(cwd: Path, *args: str, session: str | None = None,
              env: dict[str, str] | None = None) -> Any:
    proc = orch(cwd, *args, "--json", session=session, check=True, env=env)
    return json.loads(proc.stdout)


def open_session(cwd: Path, owner: str, *extra: str) -> str:
    out = orch_json(cwd, "session", "open", "--owner", owner, *extra)
    return str(out["session_id"])


def make_repo(path: Path, *, install: bool = True) -> Path:
    """A real repository holding a copy of sample_repo/, with one commit on main."""
    shutil.copytree(SAMPLE, path, ignore=shutil.ignore_patterns(".git"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial import")
    if install:
        orch(path, "install", check=True)
    return path


def add_worktree(repo: Path, name: str, branch: str | None = None) -> Path:
    wt = repo.parent / name
    git(repo, "worktree", "add", "-q", "-b", branch or name, str(wt))
    return wt


def commit_file(cwd: Path, rel: str, text: str, msg: str = "change",
                *extra: str, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    p = cwd / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    git(cwd, "add", rel)
    return git(cwd, "commit", "-q", "-m", msg, *extra, check=False, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def bare_remote(tmp_path: Path, repo: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote


@pytest.fixture
def ctx(repo: Path) -> Iterator[Context]:
    c = Context(cwd=repo, env={})
    yield c
    c.close()
