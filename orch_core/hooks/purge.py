"""`uninstall --purge` and what uninstall leaves: orch's refs, notes, state and
worktrees, saved first when anything in them is not saved elsewhere."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from orch_core.errors import OrchError
from orch_core.git import hookenv
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context


def leftovers(ctx: Context) -> list[dict[str, str]]:
    """What orch keeps besides the hooks: refs, notes, state, the landing worktree."""
    left: list[dict[str, str]] = []
    refs = hookenv.refs_under(ctx.repo, "refs/orch/")
    if refs:
        left.append({"what": f"{len(refs)} ref(s) under refs/orch/ (locks, work state, "
                             f"queue)", "where": "refs/orch/*"})
    if hookenv.refs_under(ctx.repo, "refs/notes/orch"):
        left.append({"what": "checkpoint notes on commits", "where": "refs/notes/orch"})
    lander = ctx.repo.orch_dir / "landing" / "work"
    if lander.exists():
        left.append({"what": "the merge queue's landing worktree (locked: orch-hooks lander)",
                     "where": str(lander)})
    if ctx.repo.orch_dir.exists():
        left.append({"what": f"state ({_size(ctx.repo.orch_dir)})",
                     "where": str(ctx.repo.orch_dir)})
    return left


def _size(path: Path) -> str:
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    for unit in ("bytes", "KB", "MB", "GB"):
        if total < 1024 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "bytes" else f"{total:.1f} {unit}"
        total /= 1024  # type: ignore[assignment]
    return f"{total} bytes"


def purge(ctx: Context) -> dict[str, Any]:
    """Remove orch's refs, notes, state and worktrees; first save what is not saved
    elsewhere (orch worktrees with uncommitted changes, orch branches not merged into
    a protected branch, the orch refs) in a bundle beside the repository, and say
    where."""
    from orch_core.work import worktrees

    repo = ctx.repo
    try:
        rows = worktrees.listing(ctx)["worktrees"]
    except OrchError:
        rows = []
    here = repo.toplevel.resolve()
    orch_wts = [r for r in rows if r["kind"] not in ("main", "other")
                and not r.get("missing") and Path(r["path"]).resolve() != here]
    rescue: list[str] = []
    saved: list[dict[str, str]] = []
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for r in orch_wts:
        if r["kind"] == "lander":
            continue
        oid = hookenv.stash_create(Path(r["path"]))
        if oid:
            ref = f"refs/orch-rescue/{stamp}/{Path(r['path']).name}"
            hookenv.update_ref(repo, ref, oid, "orch-hooks uninstall --purge")
            rescue.append(ref)
            saved.append({"what": f"uncommitted changes of {r['path']}", "ref": ref})
    branches = sorted({str(r["branch"]) for r in orch_wts
                       if r.get("branch") and r["kind"] != "lander"})
    into = _protected_existing(ctx)
    unmerged = hookenv.unmerged_branches(repo, branches, into) if into else branches
    for b in unmerged:
        saved.append({"what": f"branch {b} (not merged into "
                              f"{', '.join(into) or 'a protected branch'})",
                      "ref": f"refs/heads/{b}"})
    orch_refs = [ref for ref, _oid in hookenv.refs_under(repo, "refs/orch/", "refs/notes/orch")]
    bundle_refs = [*orch_refs, *rescue, *(f"refs/heads/{b}" for b in unmerged)]
    bundle: str | None = None
    if bundle_refs:
        # Beside the repository, not in its work tree (where `git clean -x` would
        # delete it); in the git dir when the parent folder is not writable.
        name = f"{repo.toplevel.name}-orch-rescue-{stamp}.bundle"
        path = repo.toplevel.parent / name
        if not os.access(path.parent, os.W_OK):
            path = repo.common_dir / name
        hookenv.create_bundle(repo, path, bundle_refs)
        bundle = str(path)
    removed: list[str] = []
    for r in orch_wts:
        gitworktree.land_worktree_remove(repo, Path(r["path"]))
        removed.append(f"worktree {r['path']}")
    lander = repo.orch_dir / "landing" / "work"
    if lander.exists():
        gitworktree.land_worktree_remove(repo, lander)
        removed.append(f"worktree {lander}")
    hookenv.delete_refs(repo, orch_refs)
    removed += orch_refs
    ctx.close()
    if repo.orch_dir.exists():
        shutil.rmtree(repo.orch_dir, ignore_errors=True)
        removed.append(str(repo.orch_dir))
    for key in ("orch.remote", "orch.protected"):  # the install record (remote/mode.py)
        if gitrepo.config_get_all(repo, key):
            gitrepo.config_unset_all(repo, key)
            removed.append(f"git config {key}")
    for gd in [repo.git_dir, *(p for p in (repo.common_dir / "worktrees").glob("*"))]:
        for name in ("orch-session", "orch-stamp-implicit.json", "orch-policy"):
            with contextlib.suppress(OSError):
                (gd / name).unlink()
    return {"removed": removed, "saved": saved, "bundle": bundle, "rescue_refs": rescue,
            "left": []}


def _protected_existing(ctx: Context) -> list[str]:
    try:
        refs = ctx.config.protected_refs
    except OrchError:
        refs = ["refs/heads/main"]
    return [r for r in refs if gitrepo.rev_parse(ctx.repo, r)]
