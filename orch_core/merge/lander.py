"""The lander: take the merge lock, test the exact merge, move main by compare-and-swap.

Main only ever points at its old tip or at a merge that passed the rules and checks:
the merge is built on main's tip T in a temporary worktree, tested there, recorded as
the lease's ``target`` and only then main moves from T to it (``git update-ref NEW
T``, or a fast-forward of the worktree that has main checked out). The gate lets
exactly that update through. A lander killed at any point leaves a lease that
expires (or frees at once when its process is gone), never a stuck queue; the next
lander finishes or retries its entry."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from orch_core import clock
from orch_core.errors import OrchError, Refused
from orch_core.git import history as githistory
from orch_core.git import landing as gitlanding
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.locks import service as locks
from orch_core.merge import checks, landpolicy, lease, remoteland, tamper
from orch_core.merge import predict as merge
from orch_core.merge import queue as q
from orch_core.state.context import Context
from orch_core.work.sessions import Session

TOKEN_ENV = checks.TOKEN_ENV
# Tests stop the lander at a named point to SIGKILL it there (tests/merge/test_landing.py);
# a test-only control, honoured only where clock.testing() says so (a source checkout).
PAUSE_ENV = "ORCH_LANDER_PAUSE"
MAX_REBUILDS = 3
WORKTREE = "work"  # <orch dir>/landing/work: the lander's own worktree, kept between runs
LOG_TAIL = 4000


@dataclass
class Landing:
    ctx: Context
    actor: str
    token: str
    entry: q.Entry
    workdir: Path
    log_path: Path
    log: BinaryIO
    timings: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.log.write(f"[{clock.iso(clock.now())}] {text}\n".encode())
        self.log.flush()

    def tail(self) -> str:
        self.log.flush()
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        return data[-LOG_TAIL:].decode(errors="replace")


def _pause(ctx: Context, point: str) -> None:
    if clock.testing() and os.environ.get(PAUSE_ENV) == point:
        (ctx.repo.orch_dir / f"lander-paused-{point}").write_text(str(os.getpid()))
        time.sleep(120)


def landing_dir(ctx: Context) -> Path:
    return ctx.repo.orch_dir / "landing"


def protected_worktree(ctx: Context) -> Path | None:
    """The worktree that has the base branch checked out, if any."""
    ref = merge.base_ref(ctx)
    for wt in gitworktree.worktree_heads(ctx.repo):
        if wt.get("branch") == ref and "bare" not in wt:
            return Path(wt["worktree"])
    return None


def _refuse_dirty(ctx: Context, wt: Path) -> None:
    changed = gitworktree.dirty(wt)
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise Refused(
            f"{ctx.config.base_branch} is checked out in {wt} with uncommitted changes "
            f"({shown}); landing would leave that worktree out of step",
            code="protected_worktree_dirty",
            hint=f"commit them on another branch or `git -C {wt} stash`, then land again")


# --- building and testing (the merge lock: merge/lease.py) --------------------------


def _build(ld: Landing, tip: str) -> tuple[str | None, list[str], str]:
    """The merge of the entry onto ``tip`` per the strategy: (commit, conflicts, why)."""
    ctx, e = ld.ctx, ld.entry
    strategy = str(ctx.config.get("merge", "strategy"))
    pg = ctx.pg
    if githistory.is_ancestor(ctx.repo, e.tip, tip):
        return None, [], f"{e.branch} at {e.tip[:12]} is already on {ctx.config.base_branch}"
    if strategy == "merge" and landpolicy.published(ctx.repo, ctx.config.base_branch, tip,
                                                     e.tip):
        return e.tip, [], ""
    if strategy == "ff":
        if not githistory.is_ancestor(ctx.repo, tip, e.tip):
            return None, [], (f"strategy ff: {e.branch} is not based on the tip of "
                              f"{ctx.config.base_branch}; rebase it and request again")
        return e.tip, [], ""
    if strategy == "rebase":
        return _rebase(ld, tip)
    files, index = gitobjects.merge_in_memory(pg, tip, e.tip)
    if files:
        return None, files, ""
    msg = (f"Merge branch '{e.branch}' ({e.id})\n\nrequested-by: {e.author} ({e.owner})\n"
           f"reviewed-by: {e.reviewer}\nlanded-by: {ld.actor}\n")
    return gitobjects.commit_merge(pg, index, [tip, e.tip], msg, when=ctx.now()), [], ""


def _rebase(ld: Landing, tip: str) -> tuple[str | None, list[str], str]:
    _checkout(ld, ld.entry.tip)
    step, conflicts, head = gitlanding.rebase_onto(ld.workdir, tip)
    ld.note(f"git rebase {tip[:12]}: exit {0 if step.ok else 1}\n" + step.output)
    if head is None:
        return None, conflicts or ["(rebase failed)"], ""
    return head, [], ""


def _checkout(ld: Landing, commit: str) -> None:
    """Put the landing worktree at exactly ``commit``: nothing left from earlier runs.

    The worktree persists between landings (only the lease holder uses it), so
    a landing rewrites only the files that differ instead of checking out the
    whole tree; `clean -ffdx` drops whatever earlier checks left behind.
    """
    wt = ld.workdir
    if (wt / ".git").is_file():
        if gitlanding.checkout_clean(wt, commit):
            return
        ld.note("landing worktree unusable; recreating it")
    gitworktree.land_worktree_remove(ld.ctx.repo, wt)
    shutil.rmtree(wt, ignore_errors=True)
    gitworktree.land_worktree_add(ld.ctx.repo, wt, commit)
    gitlanding.lock_worktree(ld.ctx.repo, wt, "orch-hooks lander")


def _test(ld: Landing, tip: str, result: str) -> str | None:
    """Rules then checks on the exact merge; the failure reason or None."""
    ctx = ld.ctx
    t0 = time.monotonic()
    locked = landpolicy.lock_refusal(ctx, ld.entry.author, tip, ld.entry.tip)
    if locked:
        ld.note(f"lock rule: {locked}")
        return f"{ld.entry.branch}: {locked}"
    bad_policy = landpolicy.merged_policy_error(ctx, ctx.config.base_branch, result)
    if bad_policy:
        ld.note(bad_policy)
        return bad_policy
    findings = merge.rule_findings(ctx, tip, result)
    if findings:
        for f in findings:
            ld.note(f"rule '{f['rule']}': {f['file']}:{f['line']}: {f['text']}")
        first = findings[0]
        return (f"rule '{first['rule']}' refused {len(findings)} added line(s), first at "
                f"{first['file']}:{first['line']}")
    _checkout(ld, result)
    ld.timings["prepare"] = ld.timings.get("prepare", 0.0) + time.monotonic() - t0
    timeout = float(ctx.config.get("merge", "check_timeout"))
    for cmd in ctx.config.get("merge", "checks"):
        lease.with_lease(ctx, ld.actor, ld.token, "merge.lock.renew",
                    f"renew merge lock for {ld.entry.id}", lambda s, _now: s)
        res = checks.run_check(cmd, ld.workdir, ld.log, ld.entry.id, timeout, ld.note)
        ld.checks.append(res)
        ld.timings["checks"] = ld.timings.get("checks", 0.0) + res["seconds"]
        if not res["ok"]:
            return str(res["reason"])
    return None


def _move_main(ld: Landing, tip: str, result: str) -> bool:
    """CAS main from ``tip`` to ``result``; False if main moved meanwhile."""
    ctx = ld.ctx
    ref = merge.base_ref(ctx)
    entry_id = ld.entry.id

    def record(state: q.QueueState, _now: float) -> q.QueueState:
        assert state.lease is not None
        state = replace(state, lease=replace(state.lease, target=result))
        return state.with_entry(replace(state.get(entry_id), landing_result=result))

    lease.with_lease(ctx, ld.actor, ld.token, "merge.lock.target",
                f"land {entry_id}: move {ctx.config.base_branch} {tip[:12]} -> {result[:12]}",
                record)
    _pause(ctx, "target")
    if gitrepo.rev_parse(ctx.repo, ref) != tip:
        return False
    tamper.refuse_landing(ctx, ref)  # main may have been moved past the gate meanwhile
    token = {TOKEN_ENV: ld.token}
    wt = protected_worktree(ctx)
    msg = f"orch-hooks: land {entry_id} ({ld.entry.branch})"
    if wt is not None:
        _refuse_dirty(ctx, wt)
        step = gitlanding.fast_forward(wt, result, token)
    else:
        step = gitlanding.move_ref(ctx.repo, ref, result, tip, msg, token)
    ld.note(f"move {ref} {tip[:12]} -> {result[:12]}: exit {0 if step.ok else 1} "
            + step.output)
    if step.ok:
        return True
    if gitrepo.rev_parse(ctx.repo, ref) != tip:
        return False
    raise Refused(f"could not move {ref}: {step.output}", code="move_failed",
                  hint="see the landing log; main was not moved")


def _undo_interrupted_move(ctx: Context, wt: Path) -> list[str]:
    """Put back what a dead lander's fast-forward of the protected worktree left half-done.

    `git merge --ff-only` rewrites the files and the index before it moves the
    ref; a lander killed in between leaves that worktree dirty, and every later
    landing would refuse it. Only when each dirty path is one the move touches
    and already holds exactly its content in the recorded (tested) target is it
    reset: anybody else's edit keeps the worktree refused.
    """
    _tip, state = q.load(ctx)
    held = state.lease
    if held is None or held.live(ctx.now()) or not held.target:
        return []
    return gitlanding.undo_partial_fast_forward(wt, held.target)


def _release_on_land(ctx: Context, actor: str, e: q.Entry) -> list[dict[str, Any]]:
    from orch_core.work import sessions

    author = sessions.find(ctx, e.author)
    everything = bool(author and author.release_on_land)

    def pred(lk: Any) -> bool:
        if everything and lk.session == e.author:
            return True
        # Only the locks taken for the branch that landed: the author may already be
        # working on its next branch under new release-on-land locks.
        return (bool(lk.release_on_land) and lk.session == e.author
                and lk.branch in (e.branch, None))

    if not any(pred(lk) for lk in locks.snapshot(ctx).locks):
        return []
    out = locks.release_where(ctx, actor, f"{e.branch} landed ({e.id})", pred)
    return list(out.get("released", []))


# --- the landing ---------------------------------------------------------------------


def land(ctx: Context, sess: Session | None) -> dict[str, Any]:
    """Land the next approved entry under the policy committed on the protected branch.

    The branch comes from the list built into the shims at install, the checks,
    rules and strategy from ``<branch>:.orch.toml`` (reviewed and landed like any
    change): nothing from the lander's work tree, where any session could
    weaken them or name another base (merge/landpolicy.py).
    """
    remoteland.decide(ctx)  # a typo in the local policy is reported; remote mode decided
    _base, policy = landpolicy.landing_base(ctx)
    saved = ctx._config
    ctx._config = policy
    try:
        return _land(ctx, sess)
    finally:
        ctx._config = saved


def _land(ctx: Context, sess: Session | None) -> dict[str, Any]:
    t_start = time.monotonic()
    actor = sess.id if sess else "lander"
    cfg = ctx.config
    strategy = cfg.get("merge", "strategy")
    merge.main_tip(ctx)
    wt = protected_worktree(ctx)
    if wt is not None and not lease.lease_held(ctx):
        # While another lander holds the lock its fast-forward of that worktree is
        # under way (transiently dirty): acquire() below answers merge_locked instead.
        _undo_interrupted_move(ctx, wt)
        _refuse_dirty(ctx, wt)
    remoteland.prepare(ctx)
    tamper.refuse_landing(ctx, merge.base_ref(ctx))
    token = secrets.token_hex(16)
    entry, recovered = lease.acquire(ctx, actor, token)
    released: list[dict[str, Any]] = []
    for r in recovered:
        released += _release_on_land(ctx, actor, r)
    if not entry.id:
        return {"landed": False, "recovered": [r.id for r in recovered],
                "released_locks": released, "reason": "nothing approved to land"}
    # Holding the lease, nobody else uses the landing worktree: a check a dead lander
    # left running there goes before anything is checked out (merge/checks.py).
    landing_dir(ctx).mkdir(parents=True, exist_ok=True)
    reaped = checks.reap_orphan(landing_dir(ctx))
    gitworktree.land_worktrees_prune(ctx.repo, landing_dir(ctx), keep=WORKTREE)
    _pause(ctx, "locked")
    logs = ctx.repo.orch_dir / "landing-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{entry.id}-{token[:8]}.log"
    workdir = landing_dir(ctx) / WORKTREE
    workdir.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as fh:
        ld = Landing(ctx, actor, token, entry, workdir, log_path, fh)
        ld.note(f"landing {entry.id}: {entry.branch} at {entry.tip} (strategy {strategy})")
        if reaped:
            ld.note(reaped)
        try:
            outcome = _attempts(ld)
        except lease.LostLease:
            raise
        except OrchError as e:
            outcome = _outcome(ld, q.FAILED, e.message, None, None)
        except BaseException:
            # Interrupted (Ctrl-C): the entry goes back to approved, the lock is freed.
            with contextlib.suppress(Exception):
                lease.finish(ctx, actor, token, replace(entry, state=q.APPROVED,
                                                   reason="landing interrupted"), "interrupted")
            raise
        final, result, tip = outcome
        if final.state == q.LANDED:
            _pause(ctx, "moved")
        lease.finish(ctx, actor, token, final, f"{final.state} {final.id} ({final.branch})"
                + (f": {final.reason}" if final.reason else ""))
    if final.state == q.LANDED:
        released += _release_on_land(ctx, actor, final)
    total = time.monotonic() - t_start
    ld.timings["total"] = total
    ld.timings["overhead"] = total - ld.timings.get("checks", 0.0)
    out = {"landed": final.state == q.LANDED, "id": final.id, "branch": final.branch,
           "state": final.state, "reason": final.reason, "main_before": tip,
           "main_after": result if final.state == q.LANDED else tip, "checks": ld.checks,
           "log_path": str(log_path), "released_locks": released,
           "recovered": [r.id for r in recovered],
           "timings": {k: round(v, 3) for k, v in ld.timings.items()}}
    if final.state != q.LANDED:
        out["log_tail"] = final.log
    return out


def _outcome(ld: Landing, state: str, reason: str | None, result: str | None,
             tip: str | None) -> tuple[q.Entry, str | None, str | None]:
    ld.note(f"outcome: {state}" + (f": {reason}" if reason else ""))
    e = replace(ld.entry, state=state, reason=reason, log=ld.tail(),
                log_path=str(ld.log_path))
    if state == q.LANDED:
        e = replace(e, landed_as=result, landed_on=tip, landing_result=result)
    return e, result, tip


def _attempts(ld: Landing) -> tuple[q.Entry, str | None, str | None]:
    ctx = ld.ctx
    tip: str | None = None
    for attempt in range(1, MAX_REBUILDS + 1):
        tip = merge.main_tip(ctx)
        t0 = time.monotonic()
        result, conflicts, why = _build(ld, tip)
        ld.timings["build"] = ld.timings.get("build", 0.0) + time.monotonic() - t0
        if conflicts:
            e = _outcome(ld, q.CONFLICTED,
                         f"does not merge into {ctx.config.base_branch} at {tip[:12]}: "
                         f"conflicts in {', '.join(conflicts)}", None, tip)
            return replace(e[0], conflicts=[{"with": "main", "branch": ctx.config.base_branch,
                                             "files": conflicts}]), None, tip
        if result is None:
            return _outcome(ld, q.FAILED, why, None, tip)
        ld.note(f"attempt {attempt}: built {result} on {tip}")
        failure = _test(ld, tip, result)
        if failure:
            return _outcome(ld, q.FAILED, failure, None, tip)
        _pause(ctx, "tested")
        t0 = time.monotonic()
        moved = _move_main(ld, tip, result)
        ld.timings["move"] = ld.timings.get("move", 0.0) + time.monotonic() - t0
        if moved:
            return _outcome(ld, q.LANDED, None, result, tip)
        ld.note(f"{ctx.config.base_branch} moved during the landing; rebuilding and retesting")
    return _outcome(ld, q.FAILED, f"{ctx.config.base_branch} kept moving during "
                    f"{MAX_REBUILDS} attempts", None, tip)
