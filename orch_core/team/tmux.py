"""The tmux server agents run in: one private socket, one tmux session, a window per agent.

Socket and session come from ``[team] tmux_socket`` (a name for ``tmux -L``, or a
path for ``tmux -S`` when it holds a ``/``) and ``[team] tmux_session``; the
environment variables ORCH_TMUX_SOCKET and ORCH_TMUX_SESSION override them.
Windows keep their pane after the command exits (``remain-on-exit``), so an
agent that died is seen as dead, with its exit status, until `team stop`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orch_core.errors import OrchError, Refused
from orch_core.state.context import Context

INSTALL_HINT = ("install tmux (Debian/Ubuntu: `sudo apt-get install tmux`, Fedora: "
                "`sudo dnf install tmux`, macOS: `brew install tmux`); every other "
                "orch-hooks command works without it")


class NoTmux(Refused):
    code = "no_tmux"


@dataclass(frozen=True)
class Server:
    binary: str
    socket: str
    session: str

    def argv(self, *args: str) -> list[str]:
        flag = "-S" if "/" in self.socket else "-L"
        return [self.binary, flag, self.socket, *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)
        if check and proc.returncode != 0:
            raise OrchError(f"tmux {args[0]} failed: {proc.stderr.strip() or proc.returncode}",
                            code="tmux_failed", hint="check the tmux server with "
                            f"`{' '.join(self.argv('list-windows', '-a'))}`")
        return proc

    def to_json(self) -> dict[str, Any]:
        return {"socket": self.socket, "session": self.session,
                "attach": " ".join(self.argv("attach", "-t", self.session))}


def server(ctx: Context, required: bool = True) -> Server | None:
    """The configured tmux server; None (or NoTmux when required) without tmux."""
    binary = shutil.which("tmux", path=ctx.env.get("PATH"))
    socket = ctx.env.get("ORCH_TMUX_SOCKET") or str(ctx.config.get("team", "tmux_socket"))
    session = ctx.env.get("ORCH_TMUX_SESSION") or str(ctx.config.get("team", "tmux_session"))
    if binary is None:
        if required:
            raise NoTmux("tmux is not installed (not found on PATH)", hint=INSTALL_HINT)
        return None
    return Server(binary, socket, session)


# A window is named "<server pid>:<window id>": tmux reuses window ids once a server
# exits and a new one starts, the pair is unique.
FIELDS = ("key", "window_name", "pane_dead", "pane_dead_status", "pane_pid",
          "pane_current_path")


KEY = "#{pid}:#{window_id}"


def target(window: str) -> str:
    """The tmux target of a window key."""
    return window.partition(":")[2] or window


def windows(srv: Server) -> dict[str, dict[str, str]]:
    """Window id -> its fields, for every window of our tmux session ({} without one)."""
    fmt = "\t".join("#{" + f + "}" for f in FIELDS).replace("#{key}", KEY)
    proc = srv.run("list-panes", "-s", "-t", f"={srv.session}", "-F", fmt, check=False)
    if proc.returncode != 0:  # no server or no session yet
        return {}
    out: dict[str, dict[str, str]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == len(FIELDS):
            out.setdefault(parts[0], dict(zip(FIELDS, parts, strict=True)))
    return out


def new_window(srv: Server, name: str, cwd: str, command: str,
               env: Mapping[str, str]) -> str:
    """Start ``command`` (a shell command line) in a new window; its window id."""
    import shlex

    assigns = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
    line = f"exec env {assigns} /bin/sh -c {shlex.quote(command)}"
    # The server is ours (its own socket): every window keeps its pane when the command
    # exits. Set in the same command sequence that starts the window, before tmux can
    # see the child exit.
    keep = ["set-option", "-wg", "remain-on-exit", "on"]
    fmt = ["-P", "-F", KEY]
    if srv.run("has-session", "-t", f"={srv.session}", check=False).returncode == 0:
        proc = srv.run(*keep, ";", "new-window", "-d", *fmt, "-t", f"={srv.session}:",
                       "-n", name, "-c", cwd, line, check=False)
    else:
        proc = srv.run("new-session", "-d", *fmt, "-s", srv.session, "-n", name, "-c", cwd,
                       "-x", "200", "-y", "50", line, ";", *keep, check=False)
    if proc.returncode != 0:
        raise OrchError(f"tmux could not open a window: {proc.stderr.strip()}",
                        code="tmux_failed", hint="check that tmux works: `tmux -V`")
    return proc.stdout.strip().splitlines()[0]


def pane_state(srv: Server, window: str) -> tuple[str, int | None]:
    """('running' | 'exited' | 'gone', exit status when exited)."""
    win = windows(srv).get(window)
    if win is None:
        return "gone", None
    if win["pane_dead"] == "1":
        status = win["pane_dead_status"]
        return "exited", int(status) if status.lstrip("-").isdigit() else None
    return "running", None


def capture(srv: Server, window: str, lines: int = 20) -> str:
    proc = srv.run("capture-pane", "-p", "-t", target(window), "-S", f"-{lines}", check=False)
    if proc.returncode != 0:
        return ""
    return "\n".join(ln for ln in proc.stdout.splitlines() if ln.strip())


def kill_window(srv: Server, window: str) -> None:
    if window in windows(srv):
        srv.run("kill-window", "-t", target(window), check=False)
