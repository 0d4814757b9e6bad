"""`orch-hooks install`, `uninstall` and `doctor`: shims in the hooks dir git uses."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from orch_core.errors import OrchError, Refused
from orch_core.git import refs as gitrefs
from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import restamp

HOOK_NAMES = ("pre-commit", "post-commit", "post-checkout", "pre-push",
              "reference-transaction")
MARKER = "# orch-hooks shim"
CHAINED_SUFFIX = ".orch-chained"
STALE_LOCK_AGE = gitrefs.STALE_GIT_LOCK_SECONDS


def templates_dir() -> Path:
    packaged = Path(__file__).with_name("templates")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hooks"


def hooks_dir(ctx: Context) -> Path:
    out = ctx.repo.git("rev-parse", "--path-format=absolute", "--git-path", "hooks").strip()
    return Path(out)


def awk_program(name: str) -> str:
    """The awk program ``<name>.awk`` of the templates as a shim runs it.

    Whole-line comments and blank lines are left out (the commented source is
    the template); the text between the quotes of a shim stays as short as it
    was when the program was written inline.
    """
    text = (templates_dir() / f"{name}.awk").read_text()
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith("#"))


def render(hook: str, protected_refs: list[str]) -> str:
    tdir = templates_dir()
    header = (tdir / "_header.sh").read_text()
    body = (tdir / f"{hook}.sh").read_text()
    text = header.replace("@PYTHON@", shlex.quote(sys.executable)).replace("@HOOK@", hook)
    case = "|".join(shlex.quote(r) for r in protected_refs) or "refs/orch/never-protected"
    body = body.replace("@PROTECTED_CASE@", case)
    if "@LOCKCHECK_AWK@" in body:
        # Inlined between single quotes: the shim needs no file beside it and the
        # commit path opens nothing more (docs/ARCHITECTURE.md, "Hooks").
        body = body.replace("'@LOCKCHECK_AWK@'", shlex.quote("\n" + awk_program("lockcheck")))
    return text + body


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


def install(ctx: Context, force: bool = False) -> dict[str, Any]:
    hdir = hooks_dir(ctx)
    hdir.mkdir(parents=True, exist_ok=True)
    protected = ctx.config.protected_refs
    report: list[dict[str, str]] = []
    for hook in HOOK_NAMES:
        path = hdir / hook
        chained = hdir / (hook + CHAINED_SUFFIX)
        text = render(hook, protected)
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
    _ensure_rewrite_ref(ctx)
    ctx.store.db_version()  # creates the state database
    restamp.installed_at(ctx)  # commits from now on are expected to carry a note
    snap = locks.snapshot(ctx)
    locks.write_export(ctx, snap.tip, snap.locks)
    return {"hooks_dir": str(hdir), "hooks": report, "state": str(ctx.store.path),
            "notes_rewrite_ref": "refs/notes/orch"}


def _ensure_rewrite_ref(ctx: Context) -> None:
    out = ctx.repo.run("config", "--get-all", "notes.rewriteRef", check=False)
    values = out.stdout.decode().split()
    if "refs/notes/orch" not in values:
        ctx.repo.git("config", "--add", "notes.rewriteRef", "refs/notes/orch")


def uninstall(ctx: Context) -> dict[str, Any]:
    hdir = hooks_dir(ctx)
    report: list[dict[str, str]] = []
    for hook in HOOK_NAMES:
        path = hdir / hook
        chained = hdir / (hook + CHAINED_SUFFIX)
        action = "absent"
        if is_ours(path):
            path.unlink()
            action = "removed"
        if chained.exists() and not path.exists():
            os.replace(chained, path)
            action = "restored previous hook"
        report.append({"hook": hook, "path": str(path), "action": action})
    ctx.repo.run("config", "--unset", "notes.rewriteRef", "^refs/notes/orch$", check=False)
    return {"hooks_dir": str(hdir), "hooks": report}


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
    for hook in HOOK_NAMES:
        path = hdir / hook
        if not path.exists():
            add(f"hook {hook}", False, f"{path} missing")
            need_install = True
        elif not is_ours(path):
            add(f"hook {hook}", False, f"{path} is a foreign hook (orch shim not installed)")
            need_install = True
        elif protected is not None and path.read_text() != render(hook, protected):
            add(f"hook {hook}", False, "shim out of date (python path or protected refs)")
            need_install = True
        elif not os.access(path, os.X_OK):
            add(f"hook {hook}", False, "shim not executable")
            need_install = True
        else:
            add(f"hook {hook}", True, str(path))
    if need_install and fix and protected is not None:
        install(ctx, force=True)
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
    export = ctx.repo.orch_dir / locks.EXPORT
    if not export.exists() or export.read_text().split("\t")[1] != (tip or "none"):
        if fix:
            snap = locks.snapshot(ctx)
            locks.write_export(ctx, snap.tip, snap.locks)
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
    rewrite = ctx.repo.run("config", "--get-all", "notes.rewriteRef", check=False)
    has_rewrite = "refs/notes/orch" in rewrite.stdout.decode().split()
    if not has_rewrite and fix:
        _ensure_rewrite_ref(ctx)
    add("notes.rewriteRef", has_rewrite, "refs/notes/orch" if has_rewrite else "not set",
        fixed=not has_rewrite and fix)
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
