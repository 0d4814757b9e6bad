"""One merge check: a shell command in the landing worktree, in its own process
group, with a timeout; its output goes to the landing log."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from orch_core.git import repo as gitrepo

TOKEN_ENV = "ORCH_LANDER_TOKEN"


def run_check(cmd: str, workdir: Path, log: BinaryIO, entry_id: str, timeout: float,
              note: Callable[[str], None]) -> dict[str, Any]:
    """Run ``cmd`` for landing ``entry_id``; the lander's token and the session are not
    passed on (a check cannot move main or act as the author)."""
    env = gitrepo.no_git_env()
    for var in (TOKEN_ENV, "ORCH_SESSION"):
        env.pop(var, None)
    env["ORCH_LANDING"] = entry_id
    note(f"$ {cmd}")
    start = time.monotonic()
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: do not leave the check running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    took = time.monotonic() - start
    out: dict[str, Any] = {"command": cmd, "exit": code, "seconds": round(took, 3),
                           "ok": code == 0 and not timed_out, "timed_out": timed_out}
    if timed_out:
        out["reason"] = f"check `{cmd}` timed out after {timeout:g} s (killed)"
    elif code == 127:
        out["reason"] = f"check `{cmd}` failed with exit 127: command not found?"
    elif code != 0:
        out["reason"] = f"check `{cmd}` failed with exit {code}"
    note(f"exit {code}{' (timed out)' if timed_out else ''} in {took:.2f} s")
    return out
