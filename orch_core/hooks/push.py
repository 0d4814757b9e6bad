"""The Python side of pre-push and reference-transaction: the gate and the lock rule."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from orch_core.errors import OrchError
from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.state.context import Context

if TYPE_CHECKING:
    pass

from orch_core.hooks.common import context, say, session_id

HOOK_GATES: dict[str, str] = {
    # hook -> module providing `check(ctx, lines, args) -> list[str]` (refusals)
    "reference-transaction": "orch_core.merge.gate",
    "pre-push": "orch_core.merge.gate",
}


def pre_push(args: list[str]) -> int:
    from orch_core.locks import service as locks
    from orch_core.merge import gate

    ctx = context()
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
    refusals += _remote_first(ctx, remote, args[1] if len(args) > 1 else "")
    sid, _real = session_id(ctx)
    snap = locks.snapshot(ctx)
    now = ctx.now()
    index = snap.index(ctx.ignore_case)
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
        for ref in gate.protected_refs(ctx):
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
        say("orch-hooks: push refused")
        for r in refusals:
            say(r if r.startswith("  ") else "  " + r)
        say("  what to do: ask the holder named above to release the lock, or wait for the "
            "release and push again (`orch-hooks lock list`); to push the rest now, move "
            "those commits to a branch you push later")
        return 1
    return 0


def _remote_first(ctx: Context, remote: str, url: str) -> list[str]:
    """Remote mode, pushing to the team's remote: fetch its lock table (reconciling
    this clone's offline leases) so the commits are checked against the remote's
    current table, and merge and push the checkpoint notes that name their
    sessions. Unreachable: refused (fail closed)."""
    from orch_core.remote import mode

    name = mode.remote_name(ctx)
    if name is None or (remote not in (name, _url_of(ctx, name)) and url != _url_of(ctx, name)):
        return []
    from orch_core.locks import remotesync
    from orch_core.work import remotenotes

    try:
        res = remotesync.adopt(ctx)
        remotenotes.sync(ctx, name)
    except OrchError as e:
        return [f"the lock table of {name} could not be fetched: {e.message}",
                f"  {e.hint}" if e.hint else "  retry when the remote is back"]
    out = []
    for c in res.get("offline_conflicts", []):
        holders = ", ".join(f"session {h['session']} ({h['owner']}) on {h['lock_path']}"
                            for h in c["held_by"])
        out.append(f"offline lease on {c['path']} conflicts with the remote's table: "
                   f"held by {holders}")
    return out


def _url_of(ctx: Context, name: str) -> str:
    from orch_core.git import remote as gitremote

    return gitremote.url_of(ctx.repo, name) or name


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
        say(f"orch-hooks: warning: work journal not synced: {e.message}")


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
    ctx = context()
    lines = [ln for ln in sys.stdin.read().splitlines() if ln.strip()]
    refusals = _gate(ctx, "reference-transaction", lines, args)
    if not refusals:
        refusals = _branch_lock_refusals(ctx, lines)
    if not refusals and any(ln.split()[-1].startswith("refs/heads/")
                            and ln.split()[1] != gitrepo.ZERO_OID for ln in lines):
        # Here for the lock rule (the shell found the index older than the git config):
        # bring the index up to date so the next branch update stays in the shell.
        from orch_core.hooks import policy
        from orch_core.merge import gate

        if not set(gate.protected_refs(ctx)) & {ln.split()[-1] for ln in lines}:
            policy.refresh_index(ctx)
    if refusals:
        for r in refusals:
            say(r)
        return 1
    return 0


def _branch_lock_refusals(ctx: Context, lines: list[str]) -> list[str]:
    """The lock rule for branch updates made by any command (see locks/branch_rule.py)."""
    from orch_core.git import refs as gitrefs
    from orch_core.locks import branch_rule
    from orch_core.merge import gate, putback

    protected = set(gate.protected_refs(ctx))
    sid, _real = session_id(ctx)
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
        found = branch_rule.update_conflicts(ctx, sid, gate.base_branch(ctx), current, new)
        if found:
            out += branch_rule.refusal_lines(f"update of {ref}", found, ctx.now())
            out += putback.after_refusal(ctx.repo, ref, current, new, protected=False)
    return out


def sync(args: list[str]) -> int:
    from orch_core.work import journal

    ctx = context()
    # Started in the background by post-commit: never create a state database that
    # is not there (it may be about to be rebuilt), never fail loudly.
    if not (ctx.repo.orch_dir / "state.db").exists():
        return 0
    journal.sync(ctx)
    return 0
