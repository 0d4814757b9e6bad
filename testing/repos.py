"""Real-git helpers for the tests and benchmarks: run git and the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_repo"
BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch-hooks")


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


def mark_lock_commit_written(repo: Path, commit: str) -> None:
    """Record ``commit`` in the clone's state as a lock table commit orch-hooks wrote
    (what a writer records before its compare-and-swap: locks/storage.py), for tests
    that stand in a damaged table for one an earlier writer made."""
    import sqlite3

    common = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
    db = sqlite3.connect(Path(common.stdout.strip()) / "orch" / "state.db")
    try:
        with db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')",
                       (f"locks_written:{commit}",))
    finally:
        db.close()
