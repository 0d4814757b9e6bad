"""Real git servers for the tests and benchmarks: a bare repository served by
`git daemon --enable=receive-pack` on 127.0.0.1, or reached by its file path."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testing.repos import git


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_bare(path: Path) -> Path:
    """An empty bare repository that takes pushes from the daemon."""
    git(path.parent, "init", "-q", "--bare", "-b", "main", str(path))
    # The daemon serves it only with this file (or --export-all, which we pass too).
    (path / "git-daemon-export-ok").write_text("")
    return path


@dataclass
class Daemon:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]

    def url(self, bare: Path) -> str:
        return f"git://127.0.0.1:{self.port}/{bare.relative_to(self.base)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_daemon(base: Path, *, tries: int = 5) -> Daemon:
    """Start `git daemon` serving every repository under ``base`` on a free port and
    wait until it accepts connections (the port is retried if another process took it)."""
    last = ""
    for _ in range(tries):
        port = free_port()
        log = base.parent / f"git-daemon-{port}.log"
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                ["git", "daemon", "--enable=receive-pack", "--export-all",
                 f"--base-path={base}", "--reuseaddr", "--listen=127.0.0.1",
                 f"--port={port}", "--informative-errors", str(base)],
                stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last = log.read_text(errors="replace")
                break
            if _accepts(port):
                return Daemon(base, port, proc)
            time.sleep(0.02)
        else:
            proc.kill()
            proc.wait()
            last = "did not accept connections within 10 s"
    raise RuntimeError(f"git daemon would not start: {last}")


@contextlib.contextmanager
def daemon(base: Path) -> Iterator[Daemon]:
    d = start_daemon(base)
    try:
        yield d
    finally:
        d.stop()
