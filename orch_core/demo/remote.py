"""The demo's two-clone story: two machines' worth of clones share locks through a
`git daemon` serving the team's bare repository, with the server hook installed."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from orch_core.demo.base import Demo, DemoFailed


@contextlib.contextmanager
def served(d: Demo, base: Path) -> Iterator[str]:
    """`git daemon` on a free port of 127.0.0.1 serving ``base``; yields its URL base."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d.say(f"git daemon --enable=receive-pack --export-all --base-path={base.name} "
          f"--listen=127.0.0.1 --port={port}")
    proc = subprocess.Popen(["git", "daemon", "--enable=receive-pack", "--export-all",
                             f"--base-path={base}", "--reuseaddr", "--listen=127.0.0.1",
                             f"--port={port}", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=d.env)
    try:
        for _ in range(500):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                        timeout=0.2):
                break
            time.sleep(0.02)
        else:
            raise DemoFailed("git daemon did not start")
        yield f"git://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(d: Demo) -> None:
    d.step("two clones on two machines: the team's remote is the arbiter (remote mode)")
    base = d.base / "served"
    base.mkdir()
    bare = base / "team.git"
    d.sh(d.base, "git", "clone", "-q", "--bare", str(d.remote), str(bare), show=False)
    d.sh(bare, "git", "symbolic-ref", "HEAD", "refs/heads/main", show=False)
    d.orch(d.base, "server", "install", str(bare))
    with served(d, base) as url:
        clones = {}
        for name in ("laptop", "container"):
            where = d.base / name
            d.sh(d.base, "git", "clone", "-q", f"{url}/team.git", str(where))
            d.orch(where, "install", "--remote", "origin", show=False)
            sid = d.orch_json(where, "session", "open", "--owner", f"agent-{name}")[
                "session_id"]
            clones[name] = (where, str(sid))
        (lap, s_lap), (box, s_box) = clones["laptop"], clones["container"]

        d.step("the laptop locks src/api/: one commit pushed with a lease on the remote")
        d.orch(lap, "lock", "acquire", "src/api/", session=s_lap)
        d.sh(bare, "git", "log", "--format=%h %s", "refs/orch/locks")

        d.step("the container asks for src/api/users.py: refused, the holder named")
        d.orch(box, "lock", "acquire", "src/api/users.py", session=s_box, expect_fail=True)

        d.step("the container edits it anyway, hooks off, and pushes with --no-verify: "
               "the server hook refuses")
        d.write(box, "src/api/users.py", "USERS: dict[int, str] = {}\n")
        d.sh(box, "git", "switch", "-q", "-c", "container/work")
        d.sh(box, "git", "-c", "core.hooksPath=/dev/null", "commit", "-q", "-am",
             "clear users")
        d.sh(box, "git", "push", "--no-verify", "origin", "container/work", expect_fail=True)

        d.step("the laptop releases; the container's next acquire goes through")
        d.orch(lap, "lock", "release", "src/api/", session=s_lap)
        d.orch(box, "lock", "acquire", "src/api/users.py", session=s_box)
        d.step("its commit carries no checkpoint note (hooks were off): the push names "
               "the session itself")
        d.sh(box, "git", "push", "-q", "-o", f"orch-session={s_box}", "origin",
             "container/work", session=s_box)
        d.orch(box, "remote", "status")
