"""One merge check: a shell command in the landing worktree, in its own process
group, with a timeout; its output goes to the landing log.

The group is led by a supervisor (merge/checkrun.py) that kills it at the
timeout or as soon as the lander is gone, and its id is recorded beside the
landing worktree before the check starts: a lander killed mid-check leaves a
record the next lander uses to kill whatever is left (`reap_orphan`) before it
touches that worktree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from orch_core.git import repo as gitrepo
from orch_core.merge import checkrun

TOKEN_ENV = "ORCH_LANDER_TOKEN"
RECORD = "check.pgid"  # <orch dir>/landing/check.pgid: "PGID START" of the running check
GRACE = 5.0  # the supervisor kills at the timeout; the lander waits this much longer
REAP_WAIT = 10.0


def _start_time(pid: int) -> str:
    """The process's start time (field 22 of /proc/PID/stat), "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def _record(landing: Path, pgid: int) -> None:
    tmp = landing / (RECORD + ".tmp")
    tmp.write_text(f"{pgid} {_start_time(pgid) or '-'}\n")
    os.replace(tmp, landing / RECORD)


def _clear(landing: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (landing / RECORD).unlink()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphan(landing: Path) -> str | None:
    """Kill the process group of a check a dead lander left running, and wait until it
    is gone; what was done, or None when nothing was left."""
    try:
        pgid_s, start = (landing / RECORD).read_text().split()[:2]
        pgid = int(pgid_s)
    except (OSError, ValueError):
        _clear(landing)
        return None
    now = _start_time(pgid)
    if pgid <= 1 or (now and start != "-" and now != start):
        _clear(landing)  # the leader's pid now names another process: not our group
        return None
    if not _group_alive(pgid):
        _clear(landing)
        return None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + REAP_WAIT
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    _clear(landing)
    return f"killed the check process group {pgid} a stopped lander left running"


def _wait_exit(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait until ``proc`` exits, without reaping it (its pid keeps naming the group)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = -1
    deadline = time.monotonic() + seconds
    try:
        while True:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if fd >= 0:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(left, 0.02))
    finally:
        if fd >= 0:
            os.close(fd)


@functools.cache
def _supervisor() -> str:
    """merge/checkrun.py as source text: run with ``-I -S -c``, it starts without
    importing site or orch_core."""
    return Path(checkrun.__file__).read_text()


def run_check(cmd: str, workdir: Path, log: BinaryIO, entry_id: str, timeout: float,
              note: Callable[[str], None]) -> dict[str, Any]:
    """Run ``cmd`` for landing ``entry_id``; the lander's token and the session are not
    passed on (a check cannot move main or act as the author)."""
    env = gitrepo.no_git_env()
    for var in (TOKEN_ENV, "ORCH_SESSION"):
        env.pop(var, None)
    env["ORCH_LANDING"] = entry_id
    landing = workdir.parent
    note(f"$ {cmd}")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _supervisor(), f"{timeout:g}",
                             cmd], cwd=workdir, stdin=subprocess.PIPE,
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    assert proc.stdin is not None
    exited = False
    try:
        _record(landing, proc.pid)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        exited = _wait_exit(proc, timeout + GRACE)
    finally:
        # Whatever the check left in its group goes, and an unfinished check too
        # (a timeout the supervisor missed, Ctrl-C): nothing of it runs on.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.stdin.close()
        code = proc.wait()
        _clear(landing)
    took = time.monotonic() - start
    timed_out = not exited or (code == -signal.SIGKILL and took >= timeout)
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
