"""`orch-hooks install`, `uninstall` and `doctor`: shims in the hooks dir git uses."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from orch_core.errors import OrchError, Refused
from orch_core.git import hookenv
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.locks import export as lockexport
from orch_core.locks import service as locks
from orch_core.state import config as config_mod
from orch_core.state.context import Context
from orch_core.work import restamp

HOOK_NAMES = ("pre-commit", "post-commit", "post-checkout", "pre-push",
              "reference-transaction", "post-rewrite")
MARKER = "# orch-hooks shim"
CHAINED_SUFFIX = ".orch-chained"
# post-rewrite.sh is followed by the part of post-commit.sh from this line on.
STAMP_MARK = "# --- stamp:"
UNINSTALLER = "orch-hooks-uninstall.sh"
UNINSTALLER_MARKER = "# orch-hooks uninstaller"
# <common dir>/orch/installed: what install changed besides the shims (one item a
# line), so uninstall puts back exactly that; the shims of a shared hooks dir also
# look for it to know whether orch is installed in the repository they run in.
INSTALLED = "installed"
REWRITE_MODE = "notes.rewriteMode"
STALE_LOCK_AGE = gitrefs.STALE_GIT_LOCK_SECONDS


def templates_dir() -> Path:
    packaged = Path(__file__).with_name("templates")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hooks"


def hooks_dir(ctx: Context) -> Path:
    return gitrepo.hooks_dir(ctx.repo)


def awk_program(name: str) -> str:
    """The awk program ``<name>.awk`` of the templates as a shim runs it.

    Whole-line comments and blank lines are left out (the commented source is
    the template); the text between the quotes of a shim stays as short as it
    was when the program was written inline.
    """
    text = (templates_dir() / f"{name}.awk").read_text()
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith("#"))


def render(hook: str, protected_refs: list[str], shared: bool = False) -> str:
    tdir = templates_dir()
    header = (tdir / "_header.sh").read_text()
    body = (tdir / f"{hook}.sh").read_text()
    if hook == "post-rewrite":
        # After an amend, post-rewrite stamps the new commit with post-commit's code.
        stamp = (tdir / "post-commit.sh").read_text()
        body += stamp[stamp.index(STAMP_MARK):]
    text = (header.replace("@PYTHON@", shlex.quote(sys.executable)).replace("@HOOK@", hook)
            .replace("@SHARED@", "1" if shared else "''"))
    case = "|".join(shlex.quote(r) for r in protected_refs) or "refs/orch/never-protected"
    globs = " ".join(shlex.quote(f"--glob={r}") for r in protected_refs)
    body = body.replace("@PROTECTED_CASE@", case).replace("@PROTECTED_GLOBS@", globs)
    if "@LOCKCHECK_AWK@" in body:
        # Inlined between single quotes: the shim needs no file beside it and the
        # commit path opens nothing more (docs/ARCHITECTURE.md, "Hooks").
        body = body.replace("'@LOCKCHECK_AWK@'", shlex.quote("\n" + awk_program("lockcheck")))
    return text + body


def shim_hook(path: Path) -> str | None:
    """The hook a shim was written for (it may have been moved or renamed since)."""
    try:
        with open(path, errors="replace") as fh:
            head = fh.read(400)
    except OSError:
        return None
    for line in head.splitlines():
        if line.startswith("ORCH_HOOK="):
            return line.partition("=")[2].strip().strip("'\"") or None
    return None


def is_shared(ctx: Context) -> bool:
    """Is the hooks dir set by a global or system core.hooksPath (shared by every
    repository of the user or the machine)?"""
    return hookenv.config_scope(ctx.repo, "core.hooksPath") in ("global", "system")


def shared_install(ctx: Context) -> bool:
    """Was this repository installed with --shared-hooks (the shims say so)?"""
    path = hooks_dir(ctx) / "pre-commit"
    try:
        return is_ours(path) and "\nORCH_SHARED=1\n" in path.read_text(errors="replace")
    except OSError:
        return False


def is_ours(path: Path) -> bool:
    try:
        with open(path, errors="replace") as fh:
            head = fh.read(400)
    except (FileNotFoundError, IsADirectoryError):
        return False
    return MARKER in head


def _write_exec(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, path)


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
    protected = ctx.config.protected_refs
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
    _write_exec(hdir / UNINSTALLER, uninstaller_script())
    _ensure_rewrite_ref(ctx)
    changed = _ensure_rewrite_mode(ctx)
    ctx.store.db_version()  # creates the state database
    _write_installed(ctx, changed)
    restamp.installed_at(ctx)  # commits from now on are expected to carry a note
    snap = locks.snapshot(ctx)
    lockexport.write_export(ctx, snap.tip, snap.locks)
    return {"hooks_dir": str(hdir), "hooks": report, "state": str(ctx.store.path),
            "notes_rewrite_ref": "refs/notes/orch", "shared_hooks": shared,
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


def _ensure_rewrite_mode(ctx: Context) -> list[str]:
    """One checkpoint per commit: a rewrite (rebase, squash) copies the newest note over
    the target's instead of concatenating them (git's default). Set only when this
    repository's own config says nothing; returns what was changed."""
    if hookenv.local_config_get(ctx.repo, REWRITE_MODE) is not None:
        return []
    hookenv.local_config_set(ctx.repo, REWRITE_MODE, "overwrite")
    return [f"config {REWRITE_MODE}"]


def _installed_path(ctx: Context) -> Path:
    return ctx.repo.orch_dir / INSTALLED


def _write_installed(ctx: Context, changed: list[str]) -> None:
    path = _installed_path(ctx)
    try:
        old = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError:
        old = []
    items = list(dict.fromkeys([*old, *changed]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in items))


def _shims_in(hdir: Path) -> list[Path]:
    """Every orch shim in the hooks dir, under its own name or one a manager gave it."""
    if not hdir.is_dir():
        return []
    return sorted(p for p in hdir.iterdir() if p.is_file() and is_ours(p))


def uninstaller_script() -> str:
    """A plain-shell uninstaller written next to the shims: removing the hooks must not
    need the Python environment they were installed from."""
    return f"""#!/bin/sh
{UNINSTALLER_MARKER} (written by `orch-hooks install`). Removes the orch-hooks
# shims from this directory, wherever a hook manager moved them, and puts back the
# hooks they chained. Needs only sh; run it from the repository:
#   sh .git/hooks/{UNINSTALLER}
dir=$(cd "$(dirname "$0")" && pwd) || exit 1
for f in "$dir"/* "$dir"/.[!.]*; do
    [ -f "$f" ] || continue
    case $(head -c 400 "$f" 2>/dev/null) in
    *"{MARKER}"*) ;;
    *) continue ;;
    esac
    hook=$(sed -n 's/^ORCH_HOOK=//p' "$f" | head -n 1)
    rm -f "$f" && echo "removed $f"
    if [ -n "$hook" ] && [ -f "$dir/$hook{CHAINED_SUFFIX}" ] && [ ! -e "$f" ]; then
        mv "$dir/$hook{CHAINED_SUFFIX}" "$f" && echo "restored the previous hook as $f"
    fi
done
if cdir=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    git config --unset notes.rewriteRef '^refs/notes/orch$'
    if grep -qx 'config {REWRITE_MODE}' "$cdir/orch/{INSTALLED}" 2>/dev/null; then
        git config --local --unset {REWRITE_MODE}
    fi
    rm -f "$cdir/orch/{INSTALLED}"
    echo "left: refs/orch/*, refs/notes/orch and $cdir/orch"
    echo "  ('orch-hooks uninstall --purge' removes them after saving unsaved work)"
fi
rm -f "$0"
"""


def _ensure_rewrite_ref(ctx: Context) -> None:
    if "refs/notes/orch" not in gitrepo.config_get_all(ctx.repo, "notes.rewriteRef"):
        gitrepo.config_add(ctx.repo, "notes.rewriteRef", "refs/notes/orch")


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
    if f"config {REWRITE_MODE}" in items:
        hookenv.local_config_unset(ctx.repo, REWRITE_MODE)
    with contextlib.suppress(FileNotFoundError):
        installed.unlink()
    out: dict[str, Any] = {"hooks_dir": str(hdir), "hooks": report}
    if purge:
        out.update(_purge(ctx))
    else:
        out["left"] = leftovers(ctx)
    return out


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


def _purge(ctx: Context) -> dict[str, Any]:
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
    for gd in [repo.git_dir, *(p for p in (repo.common_dir / "worktrees").glob("*"))]:
        for name in ("orch-session", "orch-stamp-implicit.json"):
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


def _stale_git_locks(ctx: Context) -> list[Path]:
    """Git lock files older than the stale age that no live git process can own.

    A SIGKILLed git (a commit, a lander's fast-forward, a ref writer) leaves
    ``<ref>.lock``, ``HEAD.lock`` or ``index.lock`` behind and every later
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
        candidates += [gd / name for name in ("HEAD.lock", "index.lock", "packed-refs.lock")
                       if (gd / name).exists()]
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
    stale = _stale_git_locks(ctx)
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
    if not export.exists() or export.read_text().split("\t")[1] != (tip or "none"):
        if fix:
            snap = locks.snapshot(ctx)
            lockexport.write_export(ctx, snap.tip, snap.locks)
        add("hook fast-path index", False, f"{export} missing or stale", fix)
    now = ctx.now()
    snap = locks.snapshot(ctx)
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
    if protected is not None:
        _check_notes(ctx, fix, add)
    has_rewrite = "refs/notes/orch" in gitrepo.config_get_all(ctx.repo, "notes.rewriteRef")
    if not has_rewrite and fix:
        _ensure_rewrite_ref(ctx)
    add("notes.rewriteRef", has_rewrite, "refs/notes/orch" if has_rewrite else "not set",
        fixed=not has_rewrite and fix)
    mode = ctx.repo.run("config", "--get", REWRITE_MODE, check=False).stdout.decode().strip()
    if mode == "overwrite":
        add(REWRITE_MODE, True, mode)
    else:
        fixed = False
        if fix and hookenv.local_config_get(ctx.repo, REWRITE_MODE) is None:
            _write_installed(ctx, _ensure_rewrite_mode(ctx))
            fixed = True
        add(REWRITE_MODE, False, f"{mode or 'concatenate (git default)'}: a rebase or squash "
            f"piles checkpoint notes up on one commit; overwrite keeps the newest", fixed)
    healthy = all(f["ok"] or f["fixed"] for f in findings)
    return {"healthy": healthy, "findings": findings}


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


def describe_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)
