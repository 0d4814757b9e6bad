"""The gate on protected branches: only the lander moves them.

reference-transaction (state ``prepared``, which ``--no-verify`` does not skip)
and pre-push call in here. The lander proves itself with the token of the
merge-lock lease recorded in ``refs/orch/queue`` and may move main only to the
merge it tested (the lease's ``target``). No-op updates and creating a
protected branch that does not exist yet (bootstrap) pass.

Imported by the reference-transaction hook: the standard library only at
module level; orch_core modules are imported when a decision needs them.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

# The committed-policy readers live in the state layer (the work layer needs them
# too); the gate re-exports them. That module imports nothing at run time.
from orch_core.state.committed import SHIM_PROTECTED_ENV as SHIM_PROTECTED_ENV
from orch_core.state.committed import base_branch as base_branch
from orch_core.state.committed import committed_policies as committed_policies
from orch_core.state.committed import require_lock as require_lock
from orch_core.state.committed import shim_protected as shim_protected

if TYPE_CHECKING:
    from orch_core.state.context import Context

TOKEN_ENV = "ORCH_LANDER_TOKEN"
ZERO = "0" * 40


def protected_refs(ctx: Context) -> list[str]:
    """The refs the gate protects, decided from what a session cannot change unreviewed.

    The list built into the shims at install (``ORCH_SHIM_PROTECTED``; the
    policy's defaults when Python was not started by a shim), together with the
    policy committed on each of those branches (``config.load_at`` at its tip).
    The work tree's ``.orch.toml`` may add refs, never remove one.
    """

    refs = dict.fromkeys(shim_protected(ctx))
    for committed in committed_policies(ctx):
        refs.update(dict.fromkeys(committed.protected_refs))
    refs.update(dict.fromkeys(ctx.config.protected_refs))
    return list(refs)


def _lander_may(ctx: Context, new: str) -> bool:
    """Is this update made by the live lander, to the merge it tested?

    The queue stores only a hash of the lander's token, and the lease names the
    lander process (pid and start time, from /proc): the update must carry the
    token, come from that process or one it started, and the queue's history
    must be one orch's writer made (a hand-made queue commit is refused).
    """
    token = ctx.env.get(TOKEN_ENV, "")
    if not token:
        return False
    import socket

    from orch_core.merge import queue

    tip, lease = queue.read_lease(ctx)
    if (tip is None or lease is None or not lease.held_with(token) or lease.target != new
            or not lease.live(ctx.now())):
        return False
    if lease.host != socket.gethostname() or not _is_lander_process(lease.pid, lease.started):
        return False
    return queue.written_by_orch(ctx, tip)


def _is_lander_process(pid: int, started: str) -> bool:
    """``pid`` (started at ``started``) is this process or one of its ancestors."""
    import os

    from orch_core.merge import queue

    if not os.path.exists("/proc/self/stat"):
        return pid > 0  # no /proc on this host: the token and the queue history decide
    if not started or queue.proc_start(pid) != started:
        return False
    cur = os.getpid()
    for _ in range(64):
        if cur == pid:
            return True
        if cur <= 1:
            return False
        try:
            with open(f"/proc/{cur}/stat", "rb") as fh:
                fields = fh.read().decode(errors="replace").rpartition(")")[2].split()
            cur = int(fields[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _branches_of(ctx: Context, new: str, hint_branch: str | None) -> list[str]:
    """Which non-protected branches this update is bringing in (for the message)."""
    from orch_core.git import history as githistory

    protected = {r.removeprefix("refs/heads/") for r in protected_refs(ctx)}
    if hint_branch and hint_branch not in protected:
        return [hint_branch]
    if new == ZERO:
        return []
    parents = githistory.parents_of(ctx.repo, new)
    # The commit and its merged-in parents; the first parent is the branch's own past.
    wanted = [new, *parents[1:]] if parents is not None else []
    return [b for b in githistory.branches_at(ctx.repo, wanted) if b not in protected]


def _position_lines(ctx: Context, branches: list[str]) -> list[str]:
    from orch_core.merge import queue

    if not branches:
        return ["  position: this change is on no queued branch; put it on a branch "
                "(`git switch -c my-work`), commit there, then "
                "`orch-hooks merge request my-work`"]
    _tip, state = queue.load(ctx)
    out: list[str] = []
    for b in branches[:5]:
        e = queue.entry_for_branch(state, b)
        qb = shlex.quote(b)  # a branch name may hold `$(...)`: never a command to run
        if e is not None and e.active:
            out.append(f"  position: {b} is #{state.position(e.id)} in the queue "
                       f"({e.id}, {e.state})")
        elif e is not None:
            out.append(f"  position: {b} is not queued (last entry {e.id} is {e.state}); "
                       f"`orch-hooks merge request {qb}`")
        else:
            out.append(f"  position: {b} is not queued; `orch-hooks merge request {qb}`")
    return out


def refusal_lines(ctx: Context, what: str, ref: str, new: str,
                  hint_branch: str | None = None) -> list[str]:
    branches = _branches_of(ctx, new, hint_branch)
    branch = shlex.quote(branches[0]) if branches else "BRANCH"
    lines = [f"orch-hooks: {what} refused: {ref} is protected; only the merge queue's lander "
             "moves it (--no-verify does not change that)",
             f"  queue it:  orch-hooks merge request {branch}",
             "  then another session reviews it (`orch-hooks merge review ID --approve`) and "
             "`orch-hooks merge land` tests and lands it"]
    lines += _position_lines(ctx, branches)
    lines.append("  see the queue: orch-hooks merge queue")
    from orch_core.merge import tamper

    why = tamper.untrusted_queue(ctx)
    if why:
        lines += [f"  note: {why}", f"  {tamper.untrusted_hint(ctx)}"]
    return lines


def _pruning(ctx: Context, ref: str, current: str) -> bool:
    """`git pack-refs` deleting the loose copy of a ref it has just packed.

    git < 2.41 runs the hook for that pruning too. A real deletion of a packed
    ref holds packed-refs.lock while the hook runs; pruning does not, and the
    packed value already equals the loose one.
    """
    common = ctx.repo.common_dir
    if (common / "packed-refs.lock").exists() or not (common / ref).is_file():
        return False
    try:
        with open(common / "packed-refs") as fh:
            return any(line.rstrip("\n") == f"{current} {ref}" for line in fh)
    except FileNotFoundError:
        return False


def _follows_upstream(ctx: Context, ref: str, current: str, new: str,
                      pending: dict[str, str]) -> bool:
    """A protected branch may fast-forward to its upstream's tip as last fetched.

    `git pull --ff-only`, `git merge --ff-only origin/main` and
    `git fetch origin main:main` keep a clone in step with the team's remote. The
    upstream must be a remote-tracking ref (never a local branch), and the update a
    fast-forward. A remote-tracking ref is local state: the README's bypass matrix
    says what makes it trustworthy.
    """
    from orch_core.git import history as githistory
    from orch_core.git import refs as gitrefs
    from orch_core.git import undo

    if not ref.startswith("refs/heads/"):
        return False
    upstream = undo.upstream_ref(ctx.repo, ref[len("refs/heads/"):])
    if upstream is None:
        return False
    tip = pending.get(upstream) or gitrefs.read_ref_file(ctx.repo.common_dir, upstream)
    if tip != new and not _fetching_upstream(ctx, ref):
        return False
    return githistory.is_ancestor(ctx.repo, current, new)


def _fetching_upstream(ctx: Context, ref: str) -> bool:
    """`git fetch origin main:main` moves main before it moves origin/main (two
    transactions), so the fetch's own refspec is what names the upstream here."""
    from orch_core.git import caller, undo

    spec = caller.fetch_refspecs(caller.git_argv())
    up = undo.upstream_of(ctx.repo, ref[len("refs/heads/"):])
    return spec is not None and up is not None and spec[0] == up[0] and (up[1], ref) in spec[1]


def check_reference_transaction(ctx: Context, lines: list[str], args: list[str]) -> list[str]:
    from orch_core.git import refs as gitrefs
    from orch_core.merge import putback

    protected = set(protected_refs(ctx))
    parsed = [ln.split() for ln in lines]
    pending = {p[2]: p[1] for p in parsed if len(p) == 3}
    refusals: list[str] = []
    if any(len(p) == 3 and p[2] in protected for p in parsed):
        _say_tampered(ctx, sorted(protected))
    for parts in parsed:
        if len(parts) != 3:
            continue
        _old, new, ref = parts
        if ref not in protected:
            if new == ZERO and ref.startswith("refs/heads/"):
                refusals += _rename_onto_protected(ctx, ref, protected)
            continue
        # The old value is the caller's expectation (zeros when none was given), so
        # decide on the ref's current value instead.
        current = gitrefs.read_ref_file(ctx.repo.common_dir, ref)
        if new == ZERO:
            if current is not None and not _pruning(ctx, ref, current):
                refusals += refusal_lines(ctx, "deleting", ref, new)
            continue
        if current is None:
            from orch_core.merge import tamper

            if tamper.symbolic_target(ctx, ref) is None:
                continue  # bootstrap: the protected branch does not exist yet
            refusals += refusal_lines(ctx, "update", ref, new)
            continue
        if current == new:
            continue  # no-op
        if _lander_may(ctx, new):
            continue
        if _follows_upstream(ctx, ref, current, new, pending):
            continue
        refusals += refusal_lines(ctx, "update", ref, new)
        refusals += putback.after_refusal(ctx.repo, ref, current, new)
    return refusals


def _rename_onto_protected(ctx: Context, ref: str, protected: set[str]) -> list[str]:
    """`git branch -M X main` deletes X in a transaction of its own before it replaces
    main (git 2.39 runs no reference-transaction for the write of the new name): a
    refusal of main afterwards would leave X deleted. Refuse the deletion itself
    while the protected target exists, so nothing changes."""
    from orch_core.git import caller, undo
    from orch_core.git import refs as gitrefs

    rename = caller.branch_rename(caller.git_argv())
    if rename is None or rename[1] not in protected:
        return []
    if gitrefs.read_ref_file(ctx.repo.common_dir, rename[1]) is None:
        return []  # bootstrap: the protected branch does not exist yet
    # git moved the reflog aside before this transaction, and dies on the refusal.
    undo.restore_renamed_reflog(ctx.repo, ref)
    short = ref.removeprefix("refs/heads/")
    return [f"orch-hooks: renaming {short} onto {rename[1]} refused: {rename[1]} is "
            "protected; only the merge queue's lander moves it (--no-verify does not "
            f"change that); {short} is left as it was",
            f"  queue it:  orch-hooks merge request {shlex.quote(short)}",
            "  see the queue: orch-hooks merge queue"]


def check_pre_push(ctx: Context, lines: list[str], args: list[str]) -> list[str]:
    protected = set(protected_refs(ctx))
    refusals: list[str] = []
    if any(len(ln.split()) == 4 and ln.split()[2] in protected for ln in lines):
        _say_tampered(ctx, sorted(protected))
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        local_ref, local_oid, remote_ref, remote_oid = parts
        if remote_ref not in protected or local_oid == remote_oid:
            continue
        if local_oid == ZERO:
            refusals += refusal_lines(ctx, "push deleting", remote_ref, local_oid)
            continue
        if remote_oid == ZERO:
            continue  # bootstrap: the remote has no such branch yet
        if _lander_may(ctx, local_oid) or _landed(ctx, local_oid):
            continue
        hint = local_ref[len("refs/heads/"):] if local_ref.startswith("refs/heads/") else None
        refusals += refusal_lines(ctx, f"push to {args[0] if args else 'the remote'}",
                             remote_ref, local_oid, hint)
    return refusals


def _say_tampered(ctx: Context, refs: list[str]) -> None:
    """Say so when a protected branch was moved past the gate (merge/tamper.py)."""
    import sys

    from orch_core.merge import tamper

    for line in tamper.findings(ctx, refs):
        sys.stderr.write(f"orch-hooks: warning: {line}; `orch-hooks doctor` reports it\n")


def _landed(ctx: Context, oid: str) -> bool:
    """Publishing what the lander landed (a landed entry's merge) is allowed, when
    the queue's history is one orch's writer made (a forged entry opens nothing)."""
    from orch_core.merge import queue

    tip, state = queue.load(ctx)
    if tip is None or not any(e.state == queue.LANDED and e.landed_as == oid
                              for e in state.entries):
        return False
    return queue.written_by_orch(ctx, tip)
