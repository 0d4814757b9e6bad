"""`orch-hooks doctor [--fix]`: hooks, caches, stale git lock files, notes settings."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from orch_core.errors import OrchError
from orch_core.git import hookenv
from orch_core.git import refs as gitrefs
from orch_core.hooks import damage
from orch_core.hooks.installer import (
    ensure_notes_copy,
    install,
    write_installed,
)
from orch_core.hooks.shims import (
    HOOK_NAMES,
    hooks_dir,
    is_ours,
    render,
    shared_install,
)
from orch_core.locks import export as lockexport
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import restamp

STALE_LOCK_AGE = gitrefs.STALE_GIT_LOCK_SECONDS


def stale_git_locks(ctx: Context) -> list[Path]:
    """Git lock files older than the stale age that no live git process can own.

    A SIGKILLed git (a commit, a lander's fast-forward, a ref writer) leaves
    ``<ref>.lock``, ``HEAD.lock`` (or ``ORIG_HEAD.lock`` and the other pseudo-refs)
    or ``index.lock`` behind and every later
    command in that worktree fails until it is removed. Ref locks are held for
    milliseconds, so age alone decides; ``index.lock`` is held through a whole
    commit (its hooks included), so it also needs no git process running in
    that worktree.
    """
    out: list[Path] = []
    cdir = ctx.repo.common_dir
    now = time.time()
    candidates = list((cdir / "refs").rglob("*.lock")) if (cdir / "refs").is_dir() else []
    gitdirs = [cdir, *(p for p in (cdir / "worktrees").glob("*") if p.is_dir())]
    for gd in gitdirs:
        candidates += [gd / name for name in ("index.lock", "packed-refs.lock")
                       if (gd / name).exists()]
        # HEAD and the pseudo-refs a merge or a fast-forward writes (ORIG_HEAD,
        # MERGE_HEAD, AUTO_MERGE, ...): ref locks too, held for milliseconds.
        candidates += [p for p in gd.glob("*.lock")
                       if p.stem == "HEAD" or p.stem.endswith("_HEAD") or p.stem == "AUTO_MERGE"]
    for p in candidates:
        try:
            if now - p.stat().st_mtime < STALE_LOCK_AGE:
                continue
        except FileNotFoundError:
            continue
        if p.name == "index.lock" and _git_running_in(_worktree_of(cdir, p.parent)):
            continue
        out.append(p)
    return out


def _worktree_of(common_dir: Path, git_dir: Path) -> Path | None:
    if git_dir == common_dir:
        return common_dir.parent if common_dir.name == ".git" else None
    try:
        return Path((git_dir / "gitdir").read_text().strip()).parent
    except OSError:
        return None


def _git_running_in(worktree: Path | None) -> bool:
    """Is a git process working in ``worktree``? True when it cannot be told (no /proc)."""
    proc_root = Path("/proc")
    if worktree is None or not (proc_root / "self" / "cwd").exists():
        return True
    top = worktree.resolve()
    for pid_dir in proc_root.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            if (pid_dir / "comm").read_text().strip() != "git":
                continue
            cwd = (pid_dir / "cwd").resolve()
        except OSError:
            continue
        if cwd == top or top in cwd.parents:
            return True
    return False


def doctor(ctx: Context, fix: bool = False) -> dict[str, Any]:
    """Report (and with ``fix``, repair what is safe) every known way to be unwell."""
    findings: list[dict[str, Any]] = []

    def add(check: str, ok: bool, detail: str, fixed: bool = False) -> None:
        findings.append({"check": check, "ok": ok, "detail": detail, "fixed": fixed})

    _check_ref_kinds(ctx, fix, add)
    damage.check(ctx, fix, add)
    hdir = hooks_dir(ctx)
    # A broken policy file is a finding to report, not a reason to skip every other check.
    protected: list[str] | None = None
    try:
        protected = ctx.config.protected_refs
    except OrchError as e:
        add(".orch.toml", False, f"{e.message} ({e.hint})" if e.hint else e.message)
    need_install = False
    shared = shared_install(ctx)
    for hook in HOOK_NAMES:
        path = hdir / hook
        if not path.exists():
            add(f"hook {hook}", False, f"{path} missing")
            need_install = True
        elif not is_ours(path):
            add(f"hook {hook}", False, f"{path} is a foreign hook (orch shim not installed)")
            need_install = True
        elif protected is not None and path.read_text() != render(hook, protected, shared):
            add(f"hook {hook}", False, "shim out of date (python path or protected refs)")
            need_install = True
        elif not os.access(path, os.X_OK):
            add(f"hook {hook}", False, "shim not executable")
            need_install = True
        else:
            add(f"hook {hook}", True, str(path))
    if need_install and fix and protected is not None:
        install(ctx, force=True, shared_hooks=shared)
        for f in findings:
            if f["check"].startswith("hook ") and not f["ok"]:
                f["fixed"] = True
    stale = stale_git_locks(ctx)
    for p in stale:
        fixed = False
        if fix:
            with gitrefs.writer_lock(ctx.repo):
                if p.exists() and time.time() - p.stat().st_mtime >= STALE_LOCK_AGE:
                    p.unlink()
                    fixed = True
        add("stale git lock file", False, f"{p} left by a dead writer", fixed)
    if not stale:
        add("stale git lock files", True, "none")
    integrity = ctx.store.integrity()
    add("sqlite integrity", integrity == "ok", integrity)
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF)
    cached = ctx.store.meta("locks_tip") or "none"
    if cached != (tip or "none"):
        fixed = False
        if fix:
            locks.snapshot(ctx)
            fixed = True
        add("lock cache", False, f"cache built from {cached[:12]}, ref at {(tip or 'none')[:12]}",
            fixed)
    else:
        add("lock cache", True, f"current at {(tip or 'none')[:12]}")
    export = ctx.repo.orch_dir / lockexport.EXPORT
    if not export.exists() or damage.index_tip(export) != (tip or "none"):
        if fix:
            snap = locks.snapshot(ctx)
            lockexport.write_export(ctx, snap.tip, snap.locks)
        add("hook fast-path index", False, f"{export} missing or stale", fix)
    else:
        # Its content too: an edited expiry turns a lock off for every hook here.
        from orch_core.seqfile import held

        current = locks.snapshot(ctx)
        with held(export):  # not while a heartbeat moves a deadline (locks/liveness.py)
            wrong = lockexport.index_mismatches(ctx, current.tip, current.locks)
        if wrong and fix:
            lockexport.write_export(ctx, current.tip, current.locks)
        add("hook fast-path index", not wrong,
            f"{export} does not match the lock table: " + "; ".join(wrong[:5])
            + (f"; {len(wrong) - 5} more" if len(wrong) > 5 else "") if wrong
            else "matches the lock table", bool(wrong) and fix)
    from orch_core.hooks import policy as fastpolicy

    wrong_policy = fastpolicy.cache_mismatch(ctx)
    if wrong_policy and fix:
        fastpolicy.write_cache(ctx)
    add("hook fast-path policy", wrong_policy is None,
        f"{ctx.repo.git_dir / fastpolicy.CACHE} {wrong_policy}" if wrong_policy
        else "agrees with the policy", bool(wrong_policy) and fix)
    now = ctx.now()
    snap = damage.snapshot(ctx)
    expired = [lk for lk in snap.locks if not lk.live(now)]
    if snap.warnings:
        add("lock table", False, "; ".join(snap.warnings))
    if expired:
        fixed = False
        if fix:
            locks.mutate(ctx, "doctor", "lock.reap",
                         lambda live, _now: (live, "reap expired leases", {}))
            fixed = True
        add("expired leases", False, f"{len(expired)} expired lease(s) not yet reaped", fixed)
    else:
        add("expired leases", True, "none")
    check_mailbox(ctx, add)
    if protected is not None:
        _check_notes(ctx, fix, add)
    check_protected_branches(ctx, add)
    copies = hookenv.git_copies_notes(ctx.repo, "refs/notes/orch")
    if copies and fix:
        write_installed(ctx, ensure_notes_copy(ctx))
    add("notes copy", not copies,
        "post-rewrite copies checkpoint notes under the notes lock" if not copies else
        f"git copies refs/notes/orch itself on amend and rebase (notes.rewriteRef "
        f"{', '.join(copies)}), outside orch's writer lock: racing commits lose notes",
        fixed=bool(copies) and fix)
    healthy = all(f["ok"] or f["fixed"] for f in findings)
    return {"healthy": healthy, "findings": findings}


def check_mailbox(ctx: Context, add: Any) -> None:
    """refs/orch/mail: a tip that is not a commit, a message or an acks file that does
    not parse (team/mail.py skips them with a warning; here each is named)."""
    from orch_core.team import mail

    bad = mail.problems(ctx)
    for w in bad:
        add("mailbox", False, w)
    if not bad:
        add("mailbox", True, "every message readable")


def check_protected_branches(ctx: Context, add: Any) -> None:
    """A protected branch moved past the gate (`git branch -C`, `git symbolic-ref`:
    git runs no reference-transaction for them) or made symbolic (merge/tamper.py)."""
    from orch_core.merge import gate, tamper

    try:
        said = tamper.findings(ctx, gate.protected_refs(ctx))
    except OrchError as e:
        add("protected branches", False, e.message)
        return
    for line in said:
        add("protected branches", False, line + "; restore it to its last landing "
            "and find out who moved it (`git reflog`)")
    if not said:
        add("protected branches", True, "each is where the merge queue landed it")


def _check_notes(ctx: Context, fix: bool, add: Any) -> None:
    """Branch commits without their checkpoint note (e.g. killed before post-commit)."""
    missing = restamp.unstamped(ctx)
    if not missing:
        add("checkpoint notes", True, "every branch commit since install has its note")
        return
    shown = ", ".join(f"{c[:12]} on {b or '?'}" for c, b in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    fixed = False
    if fix:
        for commit, branch in missing:
            restamp.restamp(ctx, commit, branch)
        fixed = True
    add("checkpoint notes", False,
        f"{len(missing)} commit(s) without a checkpoint note: {shown}{more} (the commit "
        f"was interrupted before post-commit stamped it, or made with the hooks off); "
        f"--fix restamps them from the session's current state, marked restamped", fixed)


def _check_ref_kinds(ctx: Context, fix: bool, add: Any) -> None:
    """orch refs hold commits: a tag there (pushed past an old server hook) breaks
    every lock and queue command. ``--fix`` points this clone's ref at the commit;
    the remote's copy is mended by ``orch-hooks server repair`` on the server."""
    from orch_core.git import serverside
    from orch_core.hooks import serverinstall

    for bad in serverinstall.bad_orch_refs(ctx.repo):
        ref, now = str(bad["ref"]), bad["now"]
        if now is None:
            continue  # a missing object or a blob: the lock-table checks report those
        fixed = bool(fix and not ref.startswith("refs/orch-remote/")
                     and serverside.move_ref(ctx.repo, ref, str(now),
                                                          str(bad["was"])))
        add(f"{ref} holds a commit", False,
            f"{ref} is {str(bad['was'])[:12]}, not a commit (it points at "
            f"{str(now)[:12]}); `orch-hooks doctor --fix` repairs "
            "this clone, `orch-hooks server repair BARE.git` the server", fixed)
