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
from orch_core.git import serverside
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


def bad_orch_refs(repo: Any, prefixes: tuple[str, ...] = ("refs/orch/", "refs/notes/orch",
                                                              "refs/orch-remote/")
                  ) -> list[dict[str, str | None]]:
    """orch refs that point at something other than a commit, with the commit it peels
    to (None: none)."""
    refs = serverside.refs_under(repo, prefixes)
    kinds = serverside.object_types(repo, list(refs.values()))
    return [{"ref": ref, "was": oid, "now": serverside.peeled_commit(repo, oid)}
            for ref, oid in sorted(refs.items()) if kinds.get(oid) != "commit"]


def repair(cwd: Path, where: str) -> dict[str, Any]:
    """Point every orch ref of a bare repository that holds a tag (or another non-commit)
    at the commit it peels to; one that peels to none is reported, not touched."""
    repo = gitremote.bare_repo(gitremote.bare_dir((cwd / where).resolve()))
    bad = bad_orch_refs(repo, ("refs/orch/", "refs/notes/orch"))
    done = [b for b in bad if b["now"] and serverside.move_ref(repo, str(b["ref"]),
                                                               str(b["now"]), str(b["was"]))]
    return {"bare": str(repo.common_dir), "repaired": done,
            "left": [b for b in bad if b not in done]}
