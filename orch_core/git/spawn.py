"""git plumbing started without the ``subprocess`` module (posix_spawn, pipes, poll).

Importing ``subprocess`` (with ``threading``, ``selectors`` and ``locale`` behind
it) costs a one-shot lock command about 4 ms of its start-up, more than a git
process (docs/ARCHITECTURE.md, performance budgets). :func:`start` and
:func:`finish` run git as ``subprocess.run(argv, cwd=..., input=..., env=...,
capture_output=True)`` does on Linux: stdin the given bytes or else inherited,
stdout and stderr captured, the given environment or the process's, SIGPIPE and
SIGXFSZ back to their defaults, git found in the PATH of the environment it
runs with (a missing git or directory raises as subprocess raises), the exit
status as ``returncode``. posix_spawn cannot set the child's working directory,
so the child is git's own ``-C DIR`` ("run as if git was started in DIR").

Two things differ from subprocess, which is why only the plumbing commands in
PLUMBING (no hooks, no pager, no other program started) come here and everything
else goes to ``subprocess`` (:func:`begin`): a descriptor this process leaves
inheritable stays open in git (Python opens none such), and glibc's posix_spawn
leaves its two internal signals (32 and 33, which glibc programs take over when
they need them) ignored in git.
"""

from __future__ import annotations

import os
import select

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping, Sequence
    from pathlib import Path

try:  # the C module under `signal`, loaded at start-up: no enum classes to build
    from _signal import SIGPIPE, SIGXFSZ  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - another interpreter
    from signal import SIGPIPE, SIGXFSZ

_READ = select.POLLIN | select.POLLPRI
_CHUNK = 32768


class Ran:
    """A finished process: what git/ reads of ``subprocess.CompletedProcess``."""

    __slots__ = ("args", "returncode", "stderr", "stdout")

    def __init__(self, args: list[str], returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr


class Pending:
    """A started process: spawned here, or by ``subprocess`` (``popen``)."""

    __slots__ = ("args", "child", "input", "popen")

    def __init__(self, args: list[str], child: Child | None,
                 popen: subprocess.Popen[bytes] | None, input: bytes | None) -> None:
        self.args, self.child, self.popen, self.input = args, child, popen, input


# git commands that start no other program: no hook, pager, editor, filter or
# remote helper (update-ref runs the reference-transaction hook, so it comes here
# only with hooks off, as git/odb.py's writes run it).
PLUMBING = frozenset({"rev-parse", "config", "cat-file", "hash-object", "mktree",
                      "commit-tree", "ls-tree"})
_NO_HOOKS = "core.hooksPath=/dev/null"
# Options with which those commands do start one.
_STARTS_PROGRAMS = frozenset({"--edit", "-e", "--textconv", "--filters", "--path"})


def _plumbing(argv: list[str]) -> bool:
    """Is ``argv`` git running one of PLUMBING (or update-ref with hooks off)?"""
    if argv[:1] != ["git"]:
        return False
    i, hooks_off = 1, False
    while i < len(argv) and argv[i] in ("-c", "-C"):
        hooks_off = hooks_off or (argv[i] == "-c" and argv[i + 1:i + 2] == [_NO_HOOKS])
        i += 2
    sub, rest = (argv[i] if i < len(argv) else ""), argv[i + 1:]
    if any(a in _STARTS_PROGRAMS or a.startswith("--path=") for a in rest):
        return False  # an editor, a textconv or clean filter
    if sub == "hash-object" and "--stdin-paths" in rest and "--no-filters" not in rest:
        return False
    if sub == "commit-tree" and "--no-gpg-sign" not in rest:
        return False  # commit.gpgSign would start gpg
    return sub in PLUMBING or (sub == "update-ref" and hooks_off)


def begin(args: Sequence[str], cwd: Path | str | None = None, input: bytes | None = None,
          env: Mapping[str, str] | None = None) -> Pending:
    """Start ``args`` in ``cwd`` (git through ``-C``, anything else through subprocess)."""
    argv = list(args)
    child = None
    if _plumbing(argv) and hasattr(os, "posix_spawn") and hasattr(select, "poll"):
        spawned = argv
        if cwd is not None:
            where = os.fspath(cwd)
            if not os.path.isdir(where):  # what subprocess raises for such a cwd
                os.stat(where)
                raise NotADirectoryError(20, "Not a directory", where)
            spawned = [argv[0], "-C", where, *argv[1:]]
        child = start(spawned, input, env)
    if child is not None:
        return Pending(argv, child, None, input)
    import subprocess

    popen = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE if input is not None else None,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(env) if env is not None else None)
    return Pending(argv, None, popen, input)


def end(pending: Pending) -> Ran:
    """Wait for a started process, giving it its input: what it wrote and its status."""
    if pending.child is not None:
        code, out, err = finish(pending.child)
        return Ran(pending.args, code, out, err)
    popen = pending.popen
    assert popen is not None
    with popen:
        try:
            out, err = popen.communicate(pending.input)
        except BaseException:  # as subprocess.run: no child left behind
            popen.kill()
            raise
    return Ran(pending.args, popen.returncode, out, err)


def run(args: Sequence[str], cwd: Path | str | None = None, input: bytes | None = None,
        env: Mapping[str, str] | None = None, timeout: float | None = None) -> Ran:
    """``subprocess.run(args, cwd=cwd, input=input, env=env, timeout=timeout,
    capture_output=True)``, started by :func:`begin` unless there is a timeout."""
    if timeout is None:
        return end(begin(args, cwd, input, env))
    import subprocess

    proc = subprocess.run(list(args), cwd=cwd, input=input, capture_output=True,
                          env=dict(env) if env is not None else None, timeout=timeout,
                          check=False)
    return Ran(list(args), proc.returncode, proc.stdout, proc.stderr)


def which(name: str, env: Mapping[str, str]) -> str:
    """The file ``subprocess`` would execute for ``name`` under ``env`` (its PATH)."""
    if os.sep in name:
        return name
    path = env.get("PATH")
    dirs = (path if path is not None else os.defpath).split(os.pathsep)
    for d in dirs:
        full = os.path.join(d, name)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
    raise FileNotFoundError(2, "No such file or directory", name)


class Child:
    """A started process and the parent's ends of its pipes."""

    __slots__ = ("err", "input", "out", "pid", "stdin")

    def __init__(self, pid: int, stdin: int | None, out: int, err: int,
                 input: bytes | None) -> None:
        self.pid, self.stdin, self.out, self.err, self.input = pid, stdin, out, err, input


def start(argv: Sequence[str], input: bytes | None = None,
          env: Mapping[str, str] | None = None) -> Child | None:
    """Start ``argv``; None when a pipe would land on descriptor 0, 1 or 2 (one of them
    is closed in this process): the caller then uses ``subprocess``."""
    environ = os.environ if env is None else env
    exe = which(argv[0], environ)
    fds: list[int] = []
    try:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        fds += [out_r, out_w, err_r, err_w]
        actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        in_r = in_w = None
        if input is not None:
            in_r, in_w = os.pipe()
            fds += [in_r, in_w]
            actions.append((os.POSIX_SPAWN_DUP2, in_r, 0))
        if min(fds) < 3:
            for fd in fds:
                os.close(fd)
            return None
        pid = os.posix_spawn(exe, list(argv), environ, file_actions=actions,
                             setsigdef=(SIGPIPE, SIGXFSZ))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    os.close(out_w)
    os.close(err_w)
    if in_r is not None:
        os.close(in_r)
    return Child(pid, in_w, out_r, err_r, input)


def finish(child: Child) -> tuple[int, bytes, bytes]:
    """Feed the child its input, read everything it writes, wait for it:
    (returncode, stdout, stderr), as ``subprocess`` communicates."""
    chunks: dict[int, list[bytes]] = {child.out: [], child.err: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, _READ)
    reading = set(chunks)
    writing = child.stdin
    data = memoryview(child.input or b"")
    offset = 0
    if writing is not None:
        if data:
            poller.register(writing, select.POLLOUT)
        else:
            os.close(writing)
            writing = None
    try:
        while reading or writing is not None:
            for fd, mode in poller.poll():
                if fd == writing and mode & select.POLLOUT:
                    try:
                        offset += os.write(fd, data[offset:offset + select.PIPE_BUF])
                    except BrokenPipeError:
                        offset = len(data)
                    if offset >= len(data):
                        poller.unregister(fd)
                        os.close(fd)
                        writing = None
                elif fd in reading and mode & _READ:
                    got = os.read(fd, _CHUNK)
                    if got:
                        chunks[fd].append(got)
                    else:
                        poller.unregister(fd)
                        reading.discard(fd)
                elif fd in reading or fd == writing:  # hang-up or error: done with it
                    poller.unregister(fd)
                    if fd == writing:
                        os.close(fd)
                        writing = None
                    else:
                        reading.discard(fd)
    finally:
        for fd in (child.out, child.err):
            os.close(fd)
        if writing is not None:
            os.close(writing)
        _, status = os.waitpid(child.pid, 0)
    return (os.waitstatus_to_exitcode(status), b"".join(chunks[child.out]),
            b"".join(chunks[child.err]))
