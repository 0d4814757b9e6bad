"""Python side of the hook shims: run as ``python -m orch_core.hooks.main HOOK ARGS``.

Only the standard library and light orch_core modules are imported here; the
commit path must not pay for pygit2 or click. Each hook returns an exit code;
post-checkout and post-commit never fail the git command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orch_core import clock
from orch_core.errors import OrchError, log_bug
from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.state.context import Context

if TYPE_CHECKING:
    from orch_core.work.sessions import Session

HOOK_GATES: dict[str, str] = {
    # hook -> module providing `check(ctx, lines, args) -> list[str]` (refusals)
    "reference-transaction": "orch_core.merge.gate",
    "pre-push": "orch_core.merge.gate",
}


def _say(msg: str) -> None:
    sys.stderr.write(msg.rstrip("\n") + "\n")


def _context() -> Context:
    return Context(cwd=Path.cwd(), actor_hint="hook", one_shot=True)


def _session_id(ctx: Context) -> tuple[str, str | None]:
    """(id used for lock decisions, real session id or None for implicit)."""
    from orch_core.work import sessions

    sid, _source = sessions.resolve_id(ctx)
    if sid:
        return sid, sid
    return "implicit:" + str(ctx.repo.toplevel), None


def pre_commit(args: list[str]) -> int:
    from orch_core.locks import service as locks
    from orch_core.locks.table import LockIndex

    ctx = _context()
    staged = gitworktree.staged_paths(ctx.repo)
    if not staged:
        return 0
    sid, real = _session_id(ctx)
    snap = locks.snapshot(ctx)
    for w in snap.warnings:
        _say(f"orch-hooks: warning: {w}")
    now = ctx.now()
    index = LockIndex(snap.locks, ctx.ignore_case)
    found = index.check(staged, sid, now)
    if found:
        _say("orch-hooks: commit refused: staged paths are locked by another session")
        for line in locks.conflict_lines(found, now):
            _say(line)
        _say("  what to do: unstage them (`git restore --staged PATH`), wait for the "
             "release, or ask the holder;")
        _say("  see `orch-hooks lock list`; a holder that is gone can be overridden with "
             "`orch-hooks lock release --force LOCK_ID` (journaled)")
        return 1
    if ctx.config.get("locks", "require_lock"):
        mine = LockIndex([lk for lk in snap.locks if lk.session == sid and lk.live(now)],
                         ctx.ignore_case)
        uncovered = [p for p in staged if not mine.blockers(p, "exclusive", "\0nobody", now)]
        if uncovered:
            _say("orch-hooks: commit refused: policy require_lock (.orch.toml) needs a lock "
                 "held by your session on every staged path; not covered:")
            for p in uncovered[:20]:
                _say(f"  {p}")
            who = real or "(no session: run `orch-hooks session open`)"
            _say(f"  session: {who}; take them with `orch-hooks lock acquire PATH...`")
            return 1
    return 0


def post_commit(args: list[str]) -> int:
    from orch_core.work import sessions, stamp

    ctx = _context()
    try:
        _sid, real = _session_id(ctx)
        sess = sessions.find(ctx, real) if real else None
        owner = sess.owner if sess else gitrepo.user_name(ctx.repo)
        if sess is not None:
            stamp.refresh(ctx, sess.id)
        stamp.stamp_head(ctx, sess.id if sess else None, owner)
    except OrchError as e:
        _say(f"orch-hooks: warning: checkpoint note not written: {e.message}")
    return 0


def post_checkout(args: list[str]) -> int:
    """The slow side of post-checkout (hooks/post-checkout.sh keeps the common path in
    the shell): bind a new worktree to the session that made it and show where it
    stands; the pre-commit framework route and a shim without its interpreter land here
    for every checkout, and then say what the shell would (at most one line)."""
    from orch_core.locks import service as locks
    from orch_core.locks.table import LockIndex
    from orch_core.work import sessions

    env = os.environ
    prev = args[0] if args else env.get("PRE_COMMIT_FROM_REF", "")
    new = args[1] if len(args) > 1 else env.get("PRE_COMMIT_TO_REF", "HEAD")
    flag = args[2] if len(args) > 2 else env.get("PRE_COMMIT_CHECKOUT_TYPE", "1")
    if flag != "1":
        return 0  # a file checkout: nothing to act on
    ctx = _context()
    entered = not prev or set(prev) == {"0"}
    sid, source = sessions.resolve_id(ctx)
    bound = sessions.read_binding(ctx.repo.git_dir)
    binding = False
    if sid and source == "ORCH_SESSION" and not bound and entered:
        sess = sessions.find(ctx, sid)
        if sess is not None and sess.status == "open":
            sessions.write_binding(ctx.repo.git_dir, sid)
            with ctx.store.write(sid, "session.bind", {"session": sid,
                                                        "worktree": str(ctx.repo.toplevel)}) as c:
                c.execute("UPDATE sessions SET worktree=?, branch=? WHERE id=?",
                          (str(ctx.repo.toplevel), gitrepo.head_branch(ctx.repo), sid))
            _say(f"orch-hooks: worktree {ctx.repo.toplevel} bound to session {sid}")
            binding = True
    sess = sessions.current(ctx, required=False)
    branch = gitrepo.head_branch(ctx.repo)
    if binding and sess is not None:
        _print_current_ref(ctx, sess)
    if branch is None:
        return 0  # detached (rebase, bisect, a tag): nothing to say
    if entered:
        rng = [ctx.config.base_branch, "HEAD"]
    elif prev == new:
        rng = []
    else:
        rng = [prev, new]
    said = ""
    if rng:
        changed = githistory.changed_between(ctx.repo, rng[0], rng[1]) or []
        if changed:
            snap = locks.snapshot(ctx)
            me = sess.id if sess else "implicit:" + str(ctx.repo.toplevel)
            now = clock.now()
            found = LockIndex(snap.locks, ctx.ignore_case).check(changed, me, now)
            if found:
                paths = sorted(found)
                holder = found[paths[0]][0].session
                said = (f"{paths[0]} (held by {holder}) is locked by others" if len(paths) == 1
                        else f"{len(paths)} changed files are locked by others, e.g. "
                             f"{paths[0]} (held by {holder})")
    hint = ""
    if sess is not None and not binding and sess.acked_version < _payload_version(ctx, sess.id):
        hint = f"session {sess.id} has news since your last `orch-hooks work ack`"
    if said:
        tail = "; your session has news: `orch-hooks work current-ref`" if hint else ""
        _say(f"orch-hooks: on branch {branch}: {said}{tail}; see `orch-hooks lock list`")
    elif hint:
        _say(f"orch-hooks: on branch {branch}: {hint}: `orch-hooks work current-ref`")
    return 0


def _payload_version(ctx: Context, sid: str) -> int:
    """The state version in the session's note payload file (what the shell compares)."""
    from orch_core.work import stamp

    try:
        text = (stamp.stamp_dir(ctx) / f"{sid}.json").read_text()
    except OSError:
        return 0
    _head, _sep, rest = text.partition('"db_version":')
    digits = ""
    for ch in rest:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def _print_current_ref(ctx: Context, sess: Session) -> None:
    try:
        from orch_core.work import resume

        text = resume.current_ref(ctx, sess).get("text")
        if text:
            _say(text)
    except OrchError:
        pass


def pre_push(args: list[str]) -> int:
    from orch_core.locks import service as locks
    from orch_core.locks.table import LockIndex

    ctx = _context()
    _journal_sync(ctx)
    remote = args[0] if args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    lines = [ln.split() for ln in _stdin_lines() if ln.strip()]
    env = os.environ
    if not lines and (env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_LOCAL_BRANCH")):
        # The pre-commit framework passes one pushed ref through the environment; when
        # the push carries the root commit it sets no from/to refs at all ("all files").
        local = env.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
        lines = [[local, env.get("PRE_COMMIT_TO_REF") or local,
                  env.get("PRE_COMMIT_REMOTE_BRANCH", ""),
                  env.get("PRE_COMMIT_FROM_REF") or gitrepo.ZERO_OID]]
        lines = [[_rev(ctx, f) if i in (1, 3) else f for i, f in enumerate(ln)]
                 for ln in lines]
    refusals = _gate(ctx, "pre-push", [" ".join(ln) for ln in lines], args)
    sid, _real = _session_id(ctx)
    snap = locks.snapshot(ctx)
    now = ctx.now()
    index = LockIndex(snap.locks, ctx.ignore_case)
    notes_cache: dict[str, str | None] = {}
    for fields in lines:
        if len(fields) != 4:
            continue
        _local_ref, local_oid, remote_ref, remote_oid = fields
        if local_oid == gitrepo.ZERO_OID:
            continue
        rng = [local_oid, "--not"]
        if remote and not ("/" in remote or ":" in remote):
            rng.append(f"--remotes={remote}")
        if remote_oid != gitrepo.ZERO_OID and gitrepo.rev_parse(ctx.repo, remote_oid):
            rng.append(remote_oid)
        # Commits already on the protected branches were landed, not authored here.
        for ref in ctx.config.protected_refs:
            if ref != remote_ref and gitrepo.rev_parse(ctx.repo, ref):
                rng.append(ref)
        for commit, paths in githistory.changed_files(ctx.repo, rng):
            who = _note_session(ctx, commit, notes_cache) or sid
            found = index.check(paths, who, now)
            if found:
                refusals.append(
                    f"commit {commit[:12]} (for {remote_ref}) changes paths locked by "
                    f"another session:")
                refusals.extend(locks.conflict_lines(found, now))
    if refusals:
        _say("orch-hooks: push refused")
        for r in refusals:
            _say(r if r.startswith("  ") else "  " + r)
        _say("  what to do: drop or rewrite those commits (e.g. `git rebase -i`), or wait for "
             "the locks to be released; see `orch-hooks lock list`")
        return 1
    return 0


def _stdin_lines() -> list[str]:
    if sys.stdin is None or sys.stdin.isatty():
        return []
    return sys.stdin.read().splitlines()


def _rev(ctx: Context, rev: str) -> str:
    if rev == gitrepo.ZERO_OID:
        return rev
    return gitrepo.rev_parse(ctx.repo, rev) or gitrepo.ZERO_OID


def _journal_sync(ctx: Context) -> None:
    """A push is a sync point: export the work state to its ref (never blocks the push)."""
    try:
        from orch_core.work import journal

        journal.sync(ctx)
    except OrchError as e:
        _say(f"orch-hooks: warning: work journal not synced: {e.message}")


def _note_session(ctx: Context, commit: str, cache: dict[str, str | None]) -> str | None:
    from orch_core.work import stamp

    if commit in cache:
        return cache[commit]
    text = gitobjects.note_text(ctx.repo, stamp.NOTES_REF, commit)
    sid = None
    if text is not None:
        notes, _warnings = stamp.parse_note(text)
        for n in notes:
            if isinstance(n.get("session"), str):
                sid = n["session"]
    cache[commit] = sid
    return sid


def _gate(ctx: Context, hook: str, lines: list[str], args: list[str]) -> list[str]:
    mod_name = HOOK_GATES.get(hook)
    if not mod_name:
        return []
    try:
        import importlib

        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError:
        return []
    name = f"check_{hook.replace('-', '_')}"
    check: Callable[[Context, list[str], list[str]], list[str]] = getattr(mod, name)
    return check(ctx, lines, args)


def reference_transaction(args: list[str]) -> int:
    state = args[0] if args else ""
    if state != "prepared":
        return 0
    ctx = _context()
    lines = [ln for ln in sys.stdin.read().splitlines() if ln.strip()]
    refusals = _gate(ctx, "reference-transaction", lines, args)
    if not refusals:
        refusals = _branch_lock_refusals(ctx, lines)
    if refusals:
        for r in refusals:
            _say(r)
        return 1
    return 0


def _branch_lock_refusals(ctx: Context, lines: list[str]) -> list[str]:
    """The lock rule for branch updates made by any command (see locks/branch_rule.py)."""
    from orch_core.git import refs as gitrefs
    from orch_core.locks import branch_rule
    from orch_core.merge import putback

    protected = set(ctx.config.protected_refs)
    sid, _real = _session_id(ctx)
    out: list[str] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        _old, new, ref = parts
        if not ref.startswith("refs/heads/") or ref in protected or new == gitrepo.ZERO_OID:
            continue
        current = gitrefs.read_ref_file(ctx.repo.common_dir, ref) or gitrepo.ZERO_OID
        if current == new:
            continue
        found = branch_rule.update_conflicts(ctx, sid, ctx.config.base_branch, current, new)
        if found:
            out += branch_rule.refusal_lines(f"update of {ref}", found, ctx.now())
            out += putback.after_refusal(ctx.repo, ref, current, new)
    return out


def sync(args: list[str]) -> int:
    from orch_core.work import journal

    ctx = _context()
    # Started in the background by post-commit: never create a state database that
    # is not there (it may be about to be rebuilt), never fail loudly.
    if not (ctx.repo.orch_dir / "state.db").exists():
        return 0
    journal.sync(ctx)
    return 0


def post_rewrite(args: list[str]) -> int:
    """After `commit --amend` git copied the old note over post-commit's checkpoint:
    stamp the new commit again (a rebase keeps the copied notes: one per commit)."""
    _stdin_lines()
    if not args or args[0] != "amend":
        return 0
    ctx = _context()
    for name in ("rebase-merge", "rebase-apply"):
        if (ctx.repo.git_dir / name).is_dir():
            return 0
    return post_commit([])


HOOKS: dict[str, Callable[[list[str]], int]] = {
    "pre-commit": pre_commit,
    "post-commit": post_commit,
    "post-rewrite": post_rewrite,
    "post-checkout": post_checkout,
    "pre-push": pre_push,
    "reference-transaction": reference_transaction,
    "sync": sync,
}
NEVER_FAIL = {"post-commit", "post-checkout", "post-rewrite", "sync"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in HOOKS:
        _say(f"usage: python -m orch_core.hooks.main {{{','.join(HOOKS)}}} [ARGS]")
        return 2
    hook, rest = argv[0], argv[1:]
    try:
        return HOOKS[hook](rest)
    except OrchError as e:
        _say(f"orch-hooks ({hook}): {e.message}")
        if e.hint:
            _say(f"  hint: {e.hint}")
        return 0 if hook in NEVER_FAIL else 1
    except Exception as e:  # a bug must not block a checkout or lose a commit silently
        _log_bug(hook, e)
        return 0 if hook in NEVER_FAIL else 3


def _log_bug(hook: str, e: BaseException) -> None:
    path = log_bug(f"{clock.iso(clock.now())} hook {hook}", e)
    _say(f"orch-hooks ({hook}): internal error ({type(e).__name__}: {e}); details in {path}")


if __name__ == "__main__":
    sys.exit(main())
