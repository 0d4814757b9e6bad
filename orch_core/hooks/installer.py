"""`orch-hooks install` and `uninstall`: shims into the hooks dir git uses, the policy
file, git settings, and what uninstall leaves behind."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from orch_core.errors import Refused
from orch_core.git import hookenv
from orch_core.git import repo as gitrepo
from orch_core.hooks.purge import leftovers
from orch_core.hooks.purge import purge as purge_all
from orch_core.hooks.shims import (
    CHAINED_SUFFIX,
    HOOK_NAMES,
    INSTALLED,
    NOTES_SWITCHES,
    REWRITE_MODE,
    UNINSTALLER,
    UNINSTALLER_MARKER,
    _shims_in,
    _write_exec,
    hooks_dir,
    is_ours,
    is_shared,
    render,
    shim_hook,
    uninstaller_script,
)
from orch_core.locks import export as lockexport
from orch_core.locks import service as locks
from orch_core.state import config as config_mod
from orch_core.state.context import Context
from orch_core.work import restamp


def protected_to_install(ctx: Context) -> list[str]:
    """The refs the shims protect: those recorded at the last install, except one the
    policy committed on that branch no longer lists (a reviewed change), plus the work
    tree's. A reinstall from an edited work tree adds refs, never drops one."""
    from orch_core.git import refs as gitrefs
    from orch_core.remote import mode

    keep: list[str] = []
    for ref in mode.installed_config(ctx.repo)[1]:
        tip = gitrefs.read_ref_file(ctx.repo.common_dir, ref)
        if tip is None or len(tip) != 40:
            keep.append(ref)
            continue
        committed = config_mod.load_at(ctx.repo, tip, config_mod.Config())
        if committed.source is None or ref in committed.protected_refs:
            keep.append(ref)
    return list(dict.fromkeys([*keep, *ctx.config.protected_refs]))


def install(ctx: Context, force: bool = False, shared_hooks: bool = False
            ) -> dict[str, Any]:
    hdir = hooks_dir(ctx)
    shared = is_shared(ctx)
    if shared and not shared_hooks:
        scope = hookenv.config_scope(ctx.repo, "core.hooksPath")
        raise Refused(
            f"the hooks directory {hdir} comes from core.hooksPath in the {scope} git "
            f"config: every repository of this {'user' if scope == 'global' else 'machine'}"
            f" runs its hooks, and orch's shims would protect branches and create state "
            f"in all of them",
            hint="pass --shared-hooks to install there anyway (the shims then do nothing "
                 "in repositories where orch is not installed), or give this repository "
                 "its own hooks dir: `git config --local core.hooksPath .git/hooks`",
            code="shared_hooks")
    policy = _ensure_policy(ctx)
    hdir.mkdir(parents=True, exist_ok=True)
    protected = protected_to_install(ctx)
    report: list[dict[str, str]] = []
    for hook in HOOK_NAMES:
        path = hdir / hook
        chained = hdir / (hook + CHAINED_SUFFIX)
        text = render(hook, protected, shared)
        if path.exists() and not is_ours(path):
            if chained.exists():
                raise Refused(
                    f"{path} is a foreign hook and {chained.name} already holds another",
                    hint="merge the two hooks by hand, or remove one, then install again",
                    code="hook_conflict")
            os.replace(path, chained)
            action = "installed, chaining the existing hook"
        elif path.exists():
            action = "current" if path.read_text() == text and not force else "updated"
        else:
            action = "installed"
        if action != "current":
            _write_exec(path, text)
        report.append({"hook": hook, "path": str(path), "action": action,
                       "chained": str(chained) if chained.exists() else ""})
    moved = [str(p) for p in _shims_in(hdir) if p.name not in HOOK_NAMES]
    from orch_core.hooks import policy as fastpolicy
    from orch_core.remote import mode

    mode.record(ctx, "", protected)  # what remote mode reads instead of the work tree

    fastpolicy.write_cache(ctx)  # what the pre-commit fast path reads of .orch.toml
    _write_exec(hdir / UNINSTALLER, uninstaller_script())
    changed = ensure_notes_copy(ctx)
    ctx.store.db_version()  # creates the state database
    write_installed(ctx, changed)
    restamp.installed_at(ctx)  # commits from now on are expected to carry a note
    snap = locks.snapshot(ctx)
    lockexport.write_export(ctx, snap.tip, snap.locks)
    return {"hooks_dir": str(hdir), "hooks": report, "state": str(ctx.store.path),
            "notes_copied_by": "post-rewrite", "shared_hooks": shared,
            "uninstaller": str(hdir / UNINSTALLER), "moved_shims": moved, **policy}


def _ensure_policy(ctx: Context) -> dict[str, Any]:
    """Write .orch.toml when there is none, protecting the real default branch."""
    path = ctx.repo.toplevel / config_mod.FILENAME
    if path.exists():
        protected = ctx.config.protected
        return {"policy": str(path), "policy_written": False, "protected": protected,
                "protected_from": config_mod.FILENAME}
    branch, source = hookenv.default_branch(ctx.repo)
    path.write_text(policy_text(branch))
    ctx._config = None  # read the policy just written
    return {"policy": str(path), "policy_written": True, "protected": [branch],
            "protected_from": source}


def policy_text(branch: str) -> str:
    quoted = json.dumps(branch)
    return (
        "# orch-hooks policy, written by `orch-hooks install`: commit it so every clone\n"
        "# and the merge queue apply the same rules.\n"
        "#\n"
        "# A protected branch moves only through the merge queue (`orch-hooks merge\n"
        "# request`, then review and land). Working alone and want no queue? Set\n"
        "# protected = [] (README: \"Working alone\").\n"
        "[merge]\n"
        f"protected = [{quoted}]\n"
        f"base = {quoted}\n"
    )


def _installed_path(ctx: Context) -> Path:
    return ctx.repo.orch_dir / INSTALLED


def write_installed(ctx: Context, changed: list[str]) -> None:
    path = _installed_path(ctx)
    try:
        old = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError:
        old = []
    items = list(dict.fromkeys([*old, *changed]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in items))


def ensure_notes_copy(ctx: Context) -> list[str]:
    """git must not copy checkpoint notes itself on amend or rebase: its copy reads the
    notes first and moves refs/notes/orch without checking the old value, dropping
    notes other worktrees wrote meanwhile. post-rewrite copies them under the notes
    writer lock instead (docs/ARCHITECTURE.md, "Where state lives"). Removes the
    ``notes.rewriteRef`` older installs set; when another one still matches (a global
    ``refs/notes/*``), turns git's copying off in this repository. Returns what was
    changed for uninstall."""
    gitrepo.config_unset(ctx.repo, "notes.rewriteRef", "^refs/notes/orch$")
    hookenv.create_empty_notes_ref(ctx.repo, "refs/notes/orch")
    changed: list[str] = []
    if hookenv.git_copies_notes(ctx.repo, "refs/notes/orch"):
        for key in NOTES_SWITCHES:
            hookenv.local_config_set(ctx.repo, key, "false")
            changed.append(f"config {key}")
    return changed


def uninstall(ctx: Context, purge: bool = False) -> dict[str, Any]:
    """Remove the shims wherever they are (a manager such as the pre-commit framework
    may have moved one to ``<hook>.legacy``), put back the hooks they chained, undo
    the config install set, and list what is left; ``purge`` removes that too, after
    saving anything not saved elsewhere."""
    hdir = hooks_dir(ctx)
    report: list[dict[str, str]] = []
    seen: set[str] = set()
    for path in _shims_in(hdir):
        hook = shim_hook(path) or path.name
        seen.add(hook)
        path.unlink()
        action = "removed" if path.name == hook else f"removed (it had been moved to {path.name})"
        chained = hdir / (hook + CHAINED_SUFFIX)
        if chained.exists() and not path.exists():
            os.replace(chained, path)
            action += ("; restored previous hook" if path.name == hook
                       else f"; restored the previous hook as {path.name}")
        report.append({"hook": hook, "path": str(path), "action": action})
    for hook in HOOK_NAMES:
        if hook in seen:
            continue
        path = hdir / hook
        chained = hdir / (hook + CHAINED_SUFFIX)
        action = "absent"
        if chained.exists() and not path.exists():
            os.replace(chained, path)
            action = "restored previous hook"
        elif chained.exists():
            action = f"left {chained.name} ({path.name} is another hook now)"
        report.append({"hook": hook, "path": str(path), "action": action})
    un = hdir / UNINSTALLER
    if un.exists() and UNINSTALLER_MARKER in un.read_text(errors="replace")[:400]:
        un.unlink()
    gitrepo.config_unset(ctx.repo, "notes.rewriteRef", "^refs/notes/orch$")
    installed = _installed_path(ctx)
    try:
        items = installed.read_text().splitlines()
    except OSError:
        items = []
    for key in (REWRITE_MODE, *NOTES_SWITCHES):
        if f"config {key}" in items:
            hookenv.local_config_unset(ctx.repo, key)
    with contextlib.suppress(FileNotFoundError):
        installed.unlink()
    out: dict[str, Any] = {"hooks_dir": str(hdir), "hooks": report}
    if purge:
        out.update(purge_all(ctx))
    else:
        out["left"] = leftovers(ctx)
    return out


def describe_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)
