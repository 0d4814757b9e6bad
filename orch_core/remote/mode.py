"""Is this clone in remote mode, and with which remote?

Remote mode moves the truth about locks, the queue and notes to a remote, so it is
decided only from what a session cannot change in its work tree
(docs/ARCHITECTURE.md, "Remote mode"): ``[remote] name`` in the policy committed
on a protected branch, or the remote ``orch-hooks install --remote NAME`` recorded
in this clone's git config (``orch.remote``). The work tree's ``.orch.toml`` turns
nothing on or off, and nothing is cached in a file a session could edit: the
committed policy is read through one ``git cat-file --batch``.
"""

from __future__ import annotations

from orch_core.git import repo as gitrepo
from orch_core.state.committed import CONFIG_PROTECTED as CONFIG_PROTECTED
from orch_core.state.committed import CONFIG_REMOTE as CONFIG_REMOTE
from orch_core.state.committed import _config_from_git as _config_from_git
from orch_core.state.committed import installed_config as installed_config
from orch_core.state.context import Context

_KEY = "remote.name"
OFFLINE = "remote.offline"


def _committed(ctx: Context) -> str:
    """``[remote] name`` of the first policy committed on a protected branch that
    names one ('' when none does; a malformed policy names none)."""
    from orch_core.errors import UsageError
    from orch_core.state import committed

    try:
        policies = committed.committed_policies(ctx)
    except UsageError:
        return ""
    for pol in policies:
        name = str(pol.get("remote", "name") or "")
        if name:
            return name
    return ""


def remote_name(ctx: Context) -> str | None:
    """The remote whose orch refs are the shared truth, or None (one clone only)."""
    hit = ctx.cache.get(_KEY)
    if hit is not None:
        return str(hit) or None
    name = _committed(ctx) or installed_config(ctx.repo)[0]
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


def offline(ctx: Context) -> bool:
    """Was this call asked to work without the remote (``--offline``)?"""
    return bool(ctx.cache.get(OFFLINE))


def write_policy(ctx: Context, name: str) -> bool:
    """Put ``[remote] name = "NAME"`` in the work tree's ``.orch.toml`` (True: changed).

    Committed on the protected branch it is the team's policy (the README says to
    commit it); until then the clone's own record (``orch.remote``, written by
    :func:`record`) keeps this clone in remote mode.
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


def record(ctx: Context, name: str, protected: list[str] | None) -> None:
    """Record at install what the work tree must not decide: the remote (when given)
    and the protected refs whose committed policy counts (when given)."""
    repo = ctx.repo
    if protected is not None:
        gitrepo.config_unset_all(repo, CONFIG_PROTECTED)
        for ref in protected:
            gitrepo.config_add(repo, CONFIG_PROTECTED, ref)
    if name:
        gitrepo.config_set(repo, CONFIG_REMOTE, name)
    for key in (_KEY, "committed.protected", "committed.policies"):
        ctx.cache.pop(key, None)
