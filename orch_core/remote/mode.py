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

from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.state.context import Context

_KEY = "remote.name"
OFFLINE = "remote.offline"
# git config keys written by `orch-hooks install` (the install-time record).
CONFIG_REMOTE = "orch.remote"
CONFIG_PROTECTED = "orch.protected"


def installed_config(repo: gitrepo.Repo) -> tuple[str, list[str]]:
    """(``orch.remote`` or '', the protected refs recorded at install), read from the
    clone's config file without a process when it is plain (as git writes it); an
    include or anything unusual in the ``[orch]`` section asks git."""
    try:
        text = (repo.common_dir / "config").read_text(errors="replace")
    except OSError:
        return _config_from_git(repo)
    low = text.lower()
    if "orch" not in low:
        return "", []
    if "[include" in low:
        return _config_from_git(repo)
    remote, protected, section = "", [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.lower()
            continue
        if section != "[orch]":
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not eq or any(c in value for c in "\"#;") or value.endswith("\\"):
            return _config_from_git(repo)
        if key == "remote":
            remote = value
        elif key == "protected":
            protected.append(value)
    return remote, protected


def _config_from_git(repo: gitrepo.Repo) -> tuple[str, list[str]]:
    remote, protected = "", []
    for key, value in gitrepo.config_get_regexp(repo, r"^orch\.(remote|protected)$",
                                                local=True):
        if key == CONFIG_REMOTE:
            remote = value
        elif key == CONFIG_PROTECTED:
            protected += value.split()
    return remote, protected


def _committed(ctx: Context, refs: list[str]) -> str:
    """``[remote] name`` of the policy committed on the first of ``refs`` that exists
    ('' when it names none)."""
    from pathlib import Path

    from orch_core.state import config

    tips = [(r, gitrefs.read_ref_file(ctx.repo.common_dir, r)) for r in refs]
    tips = [(r, t) for r, t in tips if t is not None]
    if not tips:
        return ""
    specs = [f"{t}:{config.FILENAME}" for _r, t in tips]
    blobs = gitobjects.cat_objects(ctx.repo, specs)
    for (ref, _tip), spec in zip(tips, specs, strict=True):
        raw = blobs.get(spec)
        if raw is None:
            continue
        try:
            text = raw.decode("utf-8")
            if "remote" not in text and "\\" not in text:
                # No key can spell `remote` (a bare or quoted key has it literally, only
                # an escape could hide it): parsing would find no name, or fail and be
                # skipped. Skipping it spares a lock command tomllib (docs/ARCHITECTURE.md,
                # performance budgets).
                continue
            pol = config.parse(text, Path(f"{ref}:{config.FILENAME}"))
        except (UnicodeDecodeError, ValueError):
            continue
        name = str(pol.get("remote", "name") or "")
        if name:
            return name
    return ""


def remote_name(ctx: Context) -> str | None:
    """The remote whose orch refs are the shared truth, or None (one clone only)."""
    hit = ctx.cache.get(_KEY)
    if hit is not None:
        return str(hit) or None
    recorded, protected = installed_config(ctx.repo)
    refs = list(dict.fromkeys(protected or ["refs/heads/main"]))
    name = _committed(ctx, refs) or recorded
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
    ctx.cache.pop(_KEY, None)
