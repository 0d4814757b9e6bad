"""`orch-hooks lock check` answered from the hook index alone, when every path is free.

An agent asks "may I change these paths?" before every edit, one process per
question, so this answer must cost little more than Python's own start-up
(docs/ARCHITECTURE.md, performance budgets). It reads what the hooks read: the
work tree's `.git`, `locks.idx` (checked whole and current against the loose
`refs/orch/locks`), and the session's row in `state.db`, and imports nothing of
the package but the path rules and the index reader. It answers only the common
case, "free" for every path, and only when sure; anything else (a path some other
session's lock may cover, a session it cannot confirm, an unusual repository
layout or git environment, a bad path) returns None, and the full command runs,
decides and explains. tests/cli/test_front.py compares its bytes with click's.
"""

from __future__ import annotations

import os

# Git's environment that may change which repository, work tree or configuration a
# command sees: with any of these set, git itself must be asked.
_GIT_ENV = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES",
                      "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_NAMESPACE", "GIT_INDEX_FILE",
                      "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"})


def _git_env_plain() -> bool:
    return not any(k in _GIT_ENV or (k.startswith("GIT_CONFIG") and k != "GIT_CONFIG_NOSYSTEM")
                   or k.startswith("GIT_TEST_") for k in os.environ)


def _read_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None


def find_repo(start: str) -> tuple[str, str, str] | None:
    """(toplevel, git dir, common dir) as ``git rev-parse`` would print them, for a
    work tree whose `.git` is a directory, or a file naming an absolute gitdir; None
    for anything else (inside `.git`, across a file system, a bare repository, a
    configured work tree, another user's repository)."""
    here = os.path.realpath(start)
    try:
        dev = os.stat(here).st_dev
    except OSError:
        return None
    top = here
    while True:
        dotgit = os.path.join(top, ".git")
        if os.path.isdir(dotgit):
            gd = cdir = dotgit
            if os.path.exists(os.path.join(gd, "commondir")):
                return None
            break
        if os.path.isfile(dotgit):
            line = _read_line(dotgit)
            if line is None or not line.startswith("gitdir: /"):
                return None
            gd = os.path.realpath(line[len("gitdir: "):])
            common = _read_line(os.path.join(gd, "commondir"))
            if common is None:
                return None
            cdir = os.path.realpath(os.path.join(gd, common))
            break
        parent = os.path.dirname(top)
        if parent == top:
            return None
        try:
            if os.stat(parent).st_dev != dev:
                return None
        except OSError:
            return None
        top = parent
    rel = os.path.relpath(here, top).split(os.sep)
    if rel[0] == ".git":
        return None
    try:
        with open(os.path.join(cdir, "config"), "rb") as fh:
            config = fh.read().lower()
        uid = os.geteuid()
        if os.stat(top).st_uid != uid or os.stat(gd).st_uid != uid:
            return None
    except OSError:
        return None
    # core.worktree, core.bare = true or an include could change what git sees.
    if b"worktree" in config or b"include" in config or \
            b"bare" in config.replace(b"bare = false", b""):
        return None
    return top, gd, cdir


def _config_newer(than: str) -> bool:
    """Is a user-wide or system git config newer than ``than`` (one may set
    core.ignorecase, which the index was built under)?"""
    home = os.environ.get("HOME", "")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    try:
        mine = os.stat(than).st_mtime_ns
    except OSError:
        return True
    for path in (os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config"),
                 "/etc/gitconfig"):
        try:
            if os.stat(path).st_mtime_ns >= mine:
                return True
        except OSError:
            continue
    return False


def _testing() -> bool:
    from orch_core import clock  # only when an offset is set at all

    return clock.testing()


def answer(cwd: str | None, session: str | None, raw_paths: list[str], as_json: bool,
           ) -> int | None:
    """Print what `lock check` prints when every path is free and return 0; None when
    the full command must answer."""
    env = os.environ
    if not _git_env_plain() or (env.get("ORCH_CLOCK_OFFSET") and _testing()):
        return None
    if session is not None and not session.strip():
        return None
    where = cwd if cwd is not None else os.getcwd()
    if not os.path.isdir(where):
        return None
    found = find_repo(where)
    if found is None:
        return None
    top, gd, cdir = found
    from orch_core.locks import export

    table = export.read_current_index(cdir)
    if table is None or _config_newer(os.path.join(cdir, "orch", export.EXPORT)):
        return None
    sid, bound = session, False
    if sid is None:
        sid = env.get("ORCH_SESSION", "").strip() or None
    if sid is None:
        sid = _read_line(os.path.join(gd, "orch-session")) or None
        bound = True
    if sid is not None:
        known = export.session_known(cdir, sid)
        if known is None or (not known and not bound):
            return None
        if not known:
            sid = None
    me = sid if sid is not None else "implicit:" + top
    norm = _normalise(where, top, raw_paths)
    if norm is None:
        return None
    import time

    now = time.time()
    for key, prefix, holder, expiry in table:
        if holder != me and expiry > now and any(export.may_conflict(p, key, prefix)
                                                   for p in norm):
            return None
    _print(me, norm, as_json)
    return 0


def _normalise(where: str, top: str, raw_paths: list[str]) -> list[str] | None:
    """The paths as `lock check` normalises them (orch_core/paths.py ``normalise`` of the
    path made relative to the repository, as locks/service.py does), or None.

    Only plain paths are taken: a refused path (empty, absolute, ``..``, inside
    ``.git``, the whole repository) or one that goes through a symlink is left to
    the full command. Without a symlink the full rules come down to these lines (no
    import of pathlib and typing, which cost more than the rest of this answer).
    """
    here = os.path.realpath(where)
    base = "" if here == top else os.path.relpath(here, top).replace(os.sep, "/") + "/"
    out: list[str] = []
    for raw in raw_paths:
        if raw.strip() == "" or raw.startswith("/"):
            return None
        rel = base + raw
        if "\x00" in rel or (len(rel) > 1 and rel[1] == ":"):
            return None
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts or ".." in parts or parts[0] == ".git":
            return None
        full = os.path.join(top, *parts)
        if os.path.realpath(full) != full:
            return None  # a symlink on the way: the full rules resolve it
        prefix = rel.endswith("/") or (os.path.isdir(full) and not os.path.islink(full))
        n = "/".join(parts) + ("/" if prefix else "")
        if n not in out:
            out.append(n)
    return out or None


def _print(me: str, norm: list[str], as_json: bool) -> None:
    from orch_core.cli import output

    if as_json:
        import json

        result = {"session": me, "ok": True, "message": "",
                  "paths": [{"path": p, "blocked": False, "conflicts": []} for p in norm]}
        output.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
    else:
        output.echo("free: " + ", ".join(norm))
