"""Is this clone in remote mode, and with which remote?

Policy: ``[remote] name`` in ``.orch.toml``, read the way the gate reads policy
(docs/ARCHITECTURE.md, "How main moves"): the copy committed on a protected
branch decides, and a work tree's copy can only add remote mode, never take it
away. The committed answer is cached by the branch tip it was read at, so a lock
command pays one small file read, not a git process.
"""

from __future__ import annotations

from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.state.context import Context

_CACHE = "remote-policy"
_KEY = "remote.name"
OFFLINE = "remote.offline"


def _committed(ctx: Context, branch: str) -> str | None:
    """``[remote] name`` committed on ``branch`` ('' when it says none; None: no branch)."""
    repo = ctx.repo
    tip = gitrefs.read_ref_file(repo.common_dir, f"refs/heads/{branch}")
    if tip is None:
        return None
    path = repo.orch_dir / _CACHE
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == branch and parts[1] == tip:
            return parts[2]
    from pathlib import Path

    from orch_core.state import config

    _exists, raw = gitobjects.file_at(repo, tip, config.FILENAME)
    name = ""
    if raw is not None:
        try:
            pol = config.parse(raw.decode("utf-8"), Path(f"{branch}:{config.FILENAME}"))
            name = str(pol.get("remote", "name"))
        except (UnicodeDecodeError, ValueError):
            name = ""
    keep = [ln for ln in lines if not ln.startswith(branch + "\t")]
    keep.append(f"{branch}\t{tip}\t{name}")
    try:
        repo.orch_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(keep)}.tmp")
        tmp.write_text("\n".join(keep) + "\n")
        tmp.replace(path)
    except OSError:
        pass
    return name


def remote_name(ctx: Context) -> str | None:
    """The remote whose orch refs are the shared truth, or None (one clone only)."""
    hit = ctx.cache.get(_KEY)
    if hit is not None:
        return str(hit) or None
    name = ""
    # A work tree whose policy never says "remote" adds nothing: the lock commands
    # of a clone in local mode parse no TOML for this (docs/ARCHITECTURE.md).
    local = ctx._config is not None or _mentions_remote(ctx)
    for branch in dict.fromkeys(["main", *(_worktree_protected(ctx) if local else [])]):
        found = _committed(ctx, branch)
        if found:
            name = found
            break
    if not name and local:
        name = str(ctx.config.get("remote", "name") or "")
    ctx.cache[_KEY] = name
    _mark(ctx, name)
    return name or None


MARKER = "remote-mode"


def _mark(ctx: Context, name: str) -> None:
    """``<orch dir>/remote-mode`` holds the remote's name in remote mode (empty
    otherwise): the pre-push shim hands a push to Python when it is not empty."""
    path = ctx.repo.orch_dir / MARKER
    try:
        if path.read_text().strip() == name:
            return
    except OSError:
        if not name:
            return
    try:
        ctx.repo.orch_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(name + "\n" if name else "")
    except OSError:
        pass


def _mentions_remote(ctx: Context) -> bool:
    from orch_core.errors import UsageError
    from orch_core.state import config

    try:
        raw = config._read_policy(ctx.repo.toplevel / config.FILENAME)
    except UsageError:
        return True  # a device or FIFO: the full read says what is wrong
    return raw is not None and b"remote" in raw


def _worktree_protected(ctx: Context) -> list[str]:
    # Only names branches to look at; what is committed on them decides.
    return [b for b in ctx.config.protected if not b.startswith("refs/")]


def offline(ctx: Context) -> bool:
    """Was this call asked to work without the remote (``--offline``)?"""
    return bool(ctx.cache.get(OFFLINE))


def write_policy(ctx: Context, name: str) -> bool:
    """Put ``[remote] name = "NAME"`` in the work tree's ``.orch.toml`` (True: changed).

    The work tree's copy turns remote mode on for this clone; committed on the
    protected branch it is the team's policy (the README says to commit it).
    """
    import json
    import re

    from orch_core.git import remote as gitremote
    from orch_core.state import config

    gitremote.need_url(ctx.repo, name)
    path = ctx.repo.toplevel / config.FILENAME
    text = path.read_text() if path.exists() else ""
    line = f"name = {json.dumps(name)}"
    section = re.search(r"(?m)^\[remote\][ \t]*$", text)
    if section is None:
        new = text + ("" if text.endswith("\n") or not text else "\n") + \
            f"\n[remote]\n# lock table, queue and notes are shared through this remote\n{line}\n"
    else:
        body_start = section.end()
        nxt = re.search(r"(?m)^\[", text[body_start:])
        body_end = body_start + nxt.start() if nxt else len(text)
        body = text[body_start:body_end]
        if re.search(r"(?m)^name\s*=", body):
            body = re.sub(r"(?m)^name\s*=.*$", line, body)
        else:
            body = "\n" + line + body
        new = text[:body_start] + body + text[body_end:]
    if new == text:
        return False
    config.parse(new, path)  # never write a policy that does not parse
    path.write_text(new)
    ctx._config = None
    ctx.cache.pop(_KEY, None)
    return True


def need_mode(ctx: Context) -> str:
    from orch_core.errors import Refused

    name = remote_name(ctx)
    if name is None:
        raise Refused("this clone is not in remote mode", code="not_remote_mode",
                      hint="`orch-hooks install --remote origin`, then commit .orch.toml")
    return name
