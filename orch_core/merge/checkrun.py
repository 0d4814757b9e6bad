"""The supervisor of one merge check: ``python -I -S -c <this file> TIMEOUT CMD``.

Started by merge/checks.py as the leader of a new process group, with a pipe
from the lander on stdin. It waits for the lander's "go" (written once the
group is recorded, so no check runs unrecorded), runs ``/bin/sh -c CMD`` in the
group, and exits with the check's status. It kills the whole group, itself
included, when the timeout passes or the lander is gone (the pipe reads EOF:
a SIGKILLed lander), so no check outlives its timeout or its lander.

The standard library's cheapest modules only, and run as source text rather
than imported: it starts once per check.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

NOT_STARTED = 125  # the lander went away before saying go


def _kill_group() -> None:
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _status(pid: int) -> int | None:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    timeout, cmd = float(argv[1]), argv[2]
    ctl = sys.stdin.fileno()
    if not os.read(ctl, 3).startswith(b"go"):
        return NOT_STARTED
    pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", cmd], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    watch = [ctl] + ([pidfd] if pidfd >= 0 else [])
    while True:
        code = _status(pid)
        if code is not None:
            return code
        left = deadline - time.monotonic()
        if left <= 0:
            _kill_group()
        ready, _w, _x = select.select(watch, [], [], min(left, 0.05) if pidfd < 0 else left)
        if ctl in ready and not os.read(ctl, 64):
            _kill_group()  # EOF: the lander is gone


if __name__ == "__main__":
    sys.exit(main(sys.argv))
