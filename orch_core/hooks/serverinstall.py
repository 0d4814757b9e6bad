"""`orch-hooks server install PATH` / `server uninstall PATH`: the server hook of a
bare repository (hooks/server-*.sh shims over orch_core/hooks/receive.py)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from orch_core.errors import Refused
from orch_core.git import remote as gitremote
from orch_core.hooks.shims import awk_program, templates_dir

HOOKS = ("pre-receive", "post-receive")
MARK = "# orch-hooks server shim"
CHAINED = ".orch-chained"


def render(hook: str) -> str:
    body = (templates_dir() / f"server-{hook}.sh").read_text()
    body = body.replace("@PYTHON@", shlex.quote(sys.executable))
    return body.replace("'@LOCKCHECK_AWK@'", shlex.quote("\n" + awk_program("lockcheck")))


def _ours(path: Path) -> bool:
    try:
        return MARK in path.read_text(errors="replace")[:300]
    except OSError:
        return False


def install(cwd: Path, where: str, force: bool = False) -> dict[str, Any]:
    from orch_core.hooks import receivecheck

    bare = gitremote.bare_dir((cwd / where).resolve())
    hdir = bare / "hooks"
    hdir.mkdir(exist_ok=True)
    report = []
    for hook in HOOKS:
        path, chained = hdir / hook, hdir / (hook + CHAINED)
        text = render(hook)
        if path.exists() and not _ours(path):
            if chained.exists():
                raise Refused(f"{path} is a foreign hook and {chained.name} holds another",
                              code="hook_conflict", hint="merge them by hand, then install")
            os.replace(path, chained)
            action = "installed, chaining the existing hook"
        elif path.exists():
            action = "current" if path.read_text() == text and not force else "updated"
        else:
            action = "installed"
        if action != "current":
            tmp = path.with_name(f".{hook}.tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            tmp.replace(path)
        report.append({"hook": hook, "path": str(path), "action": action})
    repo = gitremote.bare_repo(bare)
    # Clients name their session with `-o orch-session=ID`; git daemon, ssh and http
    # accept push options only when the repository advertises them.
    gitremote.server_config(repo, "receive.advertisePushOptions", "true")
    receivecheck.write_index(repo)
    receivecheck.write_protected(repo)
    return {"bare": str(bare), "hooks_dir": str(hdir), "hooks": report}


def uninstall(cwd: Path, where: str) -> dict[str, Any]:
    bare = gitremote.bare_dir((cwd / where).resolve())
    hdir = bare / "hooks"
    report = []
    for hook in HOOKS:
        path, chained = hdir / hook, hdir / (hook + CHAINED)
        if path.exists() and _ours(path):
            path.unlink()
            action = "removed"
            if chained.exists():
                os.replace(chained, path)
                action = "removed, restored the hook it chained"
        else:
            action = "absent"
        report.append({"hook": hook, "path": str(path), "action": action})
    return {"bare": str(bare), "hooks_dir": str(hdir), "hooks": report}
