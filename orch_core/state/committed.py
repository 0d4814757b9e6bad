"""The policy a session cannot change unreviewed: the one committed on each protected
branch built into the shims (docs/ARCHITECTURE.md, "How main moves"). A work tree's
``.orch.toml`` may add rules, never drop one."""

from __future__ import annotations

from orch_core.git.repo import Repo, config_get_regexp

TYPE_CHECKING = False  # typing is not imported at run time (lock write path)

if TYPE_CHECKING:
    from orch_core.state.config import Config
    from orch_core.state.context import Context

# Set by the shim itself right before it starts Python (hooks/_header.sh).
SHIM_PROTECTED_ENV = "ORCH_SHIM_PROTECTED"
# git config keys written by `orch-hooks install` (the install-time record).
CONFIG_REMOTE = "orch.remote"
CONFIG_PROTECTED = "orch.protected"


def shim_protected(ctx: Context) -> list[str]:
    """The protected refs recorded at install (``orch.protected``; the policy's
    defaults in a clone installed before the record existed), and the list the shim
    that started this process built in (``ORCH_SHIM_PROTECTED``): a caller's
    environment can add refs, never drop one."""
    from orch_core.state import config

    key = "committed.protected"
    hit = ctx.cache.get(key)
    if hit is None:
        recorded = installed_config(ctx.repo)[1] or config.Config().protected_refs
        shim = ctx.env.get(SHIM_PROTECTED_ENV)
        hit = list(dict.fromkeys([*(shim.split() if shim else []), *recorded]))
        ctx.cache[key] = hit
    return list(hit)


def committed_policies(ctx: Context) -> list[Config]:
    """The policy committed at the tip of each protected branch built into the shims
    (a branch that does not exist yet has none). A malformed one is an error."""

    from orch_core.git import objects as gitobjects
    from orch_core.git import refs as gitrefs
    from orch_core.state import config

    tips = [(ref, gitrefs.read_ref_file(ctx.repo.common_dir, ref))
            for ref in shim_protected(ctx)]
    found = [(ref, tip) for ref, tip in tips if tip is not None and len(tip) == 40]
    key = "committed.policies"
    hit = ctx.cache.get(key)
    if hit is not None and hit[0] == found:
        return list(hit[1])
    # One `git cat-file --batch` for all of them (a missing file: the defaults).
    blobs = gitobjects.cat_objects_named(
        ctx.repo, [f"{tip}:{config.FILENAME}" for _r, tip in found])
    out: list[Config] = []
    for ref, tip in found:
        named = blobs.get(f"{tip}:{config.FILENAME}")
        if named is None:
            out.append(config.Config())
            continue
        out.append(_parsed(ctx, ref, tip, *named))
    ctx.cache[key] = (found, out)
    return out


def _parsed(ctx: Context, ref: str, tip: str, blob: str, raw: bytes) -> Config:
    """The policy in blob ``blob``, parsed once per blob: what a parse made of it is
    kept in the state database under the blob's name (git's hash of its bytes), so a
    lock write does not import and run the TOML parser each time."""
    import json
    from pathlib import Path

    from orch_core.state import config

    source = Path(f"{tip}:{config.FILENAME}")
    db = ctx.repo.orch_dir / "state.db"
    mkey = f"policy_parsed:{blob}"
    if db.exists():
        hit = ctx.store.meta(mkey)
        if hit is not None:
            try:
                return config.Config(json.loads(hit), source)
            except ValueError:
                pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        from orch_core.errors import UsageError

        raise UsageError(f"{ref}:{config.FILENAME}: not UTF-8 text",
                         code="bad_config") from e
    parsed = config.parse(text, source)
    if db.exists():
        try:
            values = json.dumps(parsed.values, sort_keys=True)
        except (TypeError, ValueError):
            return parsed  # a value JSON cannot hold: parse it each time
        with ctx.store.cache_write() as conn:
            ctx.store.set_meta(conn, mkey, values)
    return parsed


def base_branch(ctx: Context) -> str:
    """The base branch a branch's own change is measured against (the lock rule): the
    one the policy committed on a protected branch names, else the work tree's. A work
    tree cannot point the rule at a branch of its choosing."""
    for committed in committed_policies(ctx):
        if committed.source is not None:
            return committed.base_branch
    return ctx.config.base_branch


def require_lock(ctx: Context) -> bool:
    """``[locks] require_lock``: on when the work tree's policy or one committed on a
    protected branch turns it on. A work tree may add the rule, never drop it."""
    if ctx.config.get("locks", "require_lock"):
        return True
    return any(c.get("locks", "require_lock") for c in committed_policies(ctx))




def installed_config(repo: Repo) -> tuple[str, list[str]]:
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


def _config_from_git(repo: Repo) -> tuple[str, list[str]]:
    remote, protected = "", []
    for key, value in config_get_regexp(repo, r"^orch\.(remote|protected)$",
                                                local=True):
        if key == CONFIG_REMOTE:
            remote = value
        elif key == CONFIG_PROTECTED:
            protected += value.split()
    return remote, protected


