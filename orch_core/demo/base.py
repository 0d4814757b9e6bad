"""The demo's stage: a copy of sample_repo/ with real git, and the commands it shows."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def _sample() -> Path:
    packaged = Path(__file__).with_name("sample_repo")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "sample_repo"


SAMPLE = _sample()


class DemoFailed(Exception):
    """A step did not behave as the demo says it does."""


class Demo:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.repo = base / "todo-service"
        self.remote = base / "remote.git"
        self.agents: dict[str, tuple[str, Path]] = {}
        self.orch_bin = str(Path(sys.executable).parent / "orch-hooks")
        self.env = dict(os.environ)
        self.env.update({
            "GIT_AUTHOR_NAME": "Demo User", "GIT_AUTHOR_EMAIL": "demo@example.com",
            "GIT_COMMITTER_NAME": "Demo User", "GIT_COMMITTER_EMAIL": "demo@example.com",
            "GIT_EDITOR": "true",
        })
        for var in ("ORCH_SESSION", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            self.env.pop(var, None)
        self.n = 0

    # -- output -------------------------------------------------------------
    def step(self, title: str) -> None:
        self.n += 1
        print(f"\n=== {self.n}. {title}")

    def say(self, text: str) -> None:
        print(f"    {text}")

    def _where(self, cwd: Path) -> str:
        try:
            return str(cwd.relative_to(self.base))
        except ValueError:
            return str(cwd)

    # -- commands -----------------------------------------------------------
    def sh(self, cwd: Path, *cmd: str, expect_fail: bool = False, show: bool = True,
           env: dict[str, str] | None = None, input: str | None = None,
           session: str | None = None) -> subprocess.CompletedProcess[str]:
        full = dict(self.env)
        if env:
            full.update(env)
        if session:
            full["ORCH_SESSION"] = session
        shown = " ".join(shlex.quote(c) for c in cmd).replace(self.orch_bin, "orch-hooks")
        prefix = f"ORCH_SESSION={session} " if session else ""
        if show:
            print(f"[{self._where(cwd)}]$ {prefix}{shown}")
        proc = subprocess.run(list(cmd), cwd=cwd, env=full, capture_output=True, text=True,
                              input=input)
        if show:
            for line in (proc.stdout + proc.stderr).rstrip().splitlines():
                print(f"    {line}")
        failed = proc.returncode != 0
        if failed != expect_fail:
            want = "fail" if expect_fail else "succeed"
            raise DemoFailed(f"expected `{shown}` to {want}, exit {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
        if expect_fail and show:
            print(f"    (refused as expected, exit {proc.returncode})")
        return proc

    def orch(self, cwd: Path, *args: str, session: str | None = None,
             expect_fail: bool = False, show: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.sh(cwd, self.orch_bin, *args, session=session, expect_fail=expect_fail,
                       show=show, input=input)

    def orch_json(self, cwd: Path, *args: str, session: str | None = None) -> Any:
        proc = self.orch(cwd, *args, "--json", session=session, show=False)
        return json.loads(proc.stdout)

    def write(self, cwd: Path, rel: str, text: str) -> None:
        path = cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"[{self._where(cwd)}]  (edit {rel})")

    # -- set-up -------------------------------------------------------------
    def setup(self) -> None:
        self.step("a repository with a bare remote, hooks installed")
        shutil.copytree(SAMPLE, self.repo)
        self.sh(self.base, "git", "init", "-q", "--bare", str(self.remote), show=False)
        self.sh(self.repo, "git", "init", "-q", "-b", "main")
        self.sh(self.repo, "git", "add", "-A", show=False)
        self.sh(self.repo, "git", "commit", "-q", "-m", "todo-service: initial import")
        self.sh(self.repo, "git", "remote", "add", "origin", str(self.remote), show=False)
        self.sh(self.repo, "git", "push", "-q", "origin", "main", show=False)
        self.orch(self.repo, "install")

    def add_agent(self, name: str) -> tuple[str, Path]:
        wt = self.base / f"wt-{name}"
        self.sh(self.repo, "git", "worktree", "add", "-q", "-b", f"{name}/work", str(wt))
        out = self.orch_json(wt, "session", "open", "--owner", name)
        sid = str(out["session_id"])
        self.say(f"{name}: session {sid} bound to {self._where(wt)} (branch {name}/work)")
        self.agents[name] = (sid, wt)
        return sid, wt


