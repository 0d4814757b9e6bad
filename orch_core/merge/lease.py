"""The merge lock: a lease in ``refs/orch/queue`` that only its holder lands under.

Taken by :func:`acquire` (which also recovers entries a dead lander left
``landing``), renewed and changed by :func:`with_lease`, given up by
:func:`finish`; every step is one compare-and-swap of the queue ref. A lander
killed at any point leaves a lease that expires (or frees at once when its
process is gone on this host). See docs/ARCHITECTURE.md (where main moves).
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from typing import Any

from orch_core import clock
from orch_core.errors import Busy, Refused
from orch_core.git import history as githistory
from orch_core.git import repo as gitrepo
from orch_core.merge import approval, remoteland
from orch_core.merge import predict as merge
from orch_core.merge import queue as q
from orch_core.state.context import Context


class LostLease(Refused):
    code = "merge_lock_lost"


def lease_held(ctx: Context) -> bool:
    _tip, lease = q.read_lease(ctx)
    return lease is not None and lease.live(ctx.now())


def _recover(ctx: Context, state: q.QueueState, now: float,
             recovered: list[q.Entry]) -> q.QueueState:
    """Entries left ``landing`` by a lander that died: landed if main has their merge."""
    tip = gitrepo.rev_parse(ctx.repo, merge.base_ref(ctx))
    for e in state.entries:
        if e.state != q.LANDING:
            continue
        done = bool(tip and e.landing_result
                    and gitrepo.rev_parse(ctx.repo, e.landing_result) is not None
                    and githistory.is_ancestor(ctx.repo, e.landing_result, tip))
        if done:
            new = replace(e, state=q.LANDED, landed_as=e.landing_result, updated_at=now,
                          reason="landed by a lander that stopped before recording it")
            recovered.append(new)
        else:
            new = replace(e, state=q.APPROVED, landing_result=None, updated_at=now,
                          reason="previous landing attempt was interrupted; retried")
        state = state.with_entry(new)
    return state


def acquire(ctx: Context, actor: str, token: str) -> tuple[q.Entry, list[q.Entry]]:
    remoteland.prepare(ctx)  # remote mode: main here must be main there
    ttl = float(ctx.config.get("merge", "merge_lock_ttl"))
    recovered: list[q.Entry] = []
    base_tip = gitrepo.rev_parse(ctx.repo, f"refs/heads/{approval.team_policy(ctx).base_branch}")

    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        lease = state.lease
        if lease is not None and lease.live(now):
            raise Busy(f"the merge lock is held by {lease.holder} (landing {lease.entry}, "
                       f"pid {lease.pid} on {lease.host}) until {clock.iso(lease.expires_at)}",
                       code="merge_locked",
                       hint="wait for it; a lander that died frees it at expiry")
        recovered.clear()
        state = replace(state, lease=None)
        state = _recover(ctx, state, now, recovered)
        approved = [e for e in state.ordered() if e.state == q.APPROVED]
        # Risky paths wait for their approvals ([[approval]] on the protected branch).
        waits = {e.id: approval.needed(ctx, e, base_tip) if base_tip else []
                 for e in approved}
        head = next((e for e in approved if not waits[e.id]), None)
        if head is None and approved and not recovered:
            first = approved[0]
            raise Refused(f"{first.id} ({first.branch}) cannot land yet: it needs "
                          f"{approval.needed_text(waits[first.id])}",
                          code="approvals_needed",
                          hint="reviewers of other owners run `orch-hooks merge review "
                               f"{first.id} --approve`; `orch-hooks merge queue` shows "
                               "what each entry still needs",
                          details={"needs": {k: v for k, v in waits.items() if v}})
        if head is None:
            if recovered:
                return state, f"recover {', '.join(e.id for e in recovered)}", {}
            waiting = [e for e in state.ordered() if e.state == q.QUEUED]
            raise Refused("nothing approved to land" + (
                f"; {len(waiting)} entr{'y' if len(waiting) == 1 else 'ies'} await review"
                if waiting else ""), code="nothing_approved",
                hint="`orch-hooks merge queue` shows the entries; a reviewer runs "
                     "`orch-hooks merge review ID --approve`")
        new_lease = q.Lease(token=q.hash_token(token), holder=actor, pid=os.getpid(),
                            host=socket.gethostname(), entry=head.id, acquired_at=now,
                            expires_at=now + ttl, started=q.proc_start(os.getpid()))
        entry = replace(head, state=q.LANDING, landing_result=None, updated_at=now,
                        reason=None)
        state = replace(state, lease=new_lease).with_entry(entry)
        return state, f"merge lock taken by {actor} to land {head.id} ({head.branch})", {
            "id": head.id}

    result = q.mutate(ctx, actor, "merge.lock", fn)
    if "id" not in result:
        return _no_entry(), recovered
    _tip, state = q.load(ctx)
    return state.get(result["id"]), recovered


def _no_entry() -> q.Entry:
    return q.Entry(id="", seq=0, branch="", tip="", author="", owner="", priority=0,
                   state="", created_at=0.0, updated_at=0.0)


def with_lease(ctx: Context, actor: str, token: str, kind: str, message: str,
                change: Any) -> None:
    """CAS a change while holding the lease; LostLease if it expired and was taken."""
    ttl = float(ctx.config.get("merge", "merge_lock_ttl"))

    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        lease = state.lease
        if lease is None or not lease.held_with(token):
            raise LostLease("the merge lock expired and was taken by another lander",
                            hint="main was not moved by this landing; run it again")
        state = replace(state, lease=replace(lease, expires_at=now + ttl))
        return change(state, now), message, {}

    q.mutate(ctx, actor, kind, fn)


def finish(ctx: Context, actor: str, token: str, entry: q.Entry, message: str) -> None:
    """Record the entry's outcome and release the lease in one CAS (in remote mode a
    landed entry's record is pushed with main's move to it, merge/remoteland.py)."""
    if entry.state == q.LANDED:
        remoteland.push_with_record(ctx, entry.landed_as, entry.landed_on)
    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        if state.lease is not None and state.lease.held_with(token):
            state = replace(state, lease=None)
        current = state.get(entry.id)
        if current.state != q.LANDING and entry.state != q.LANDED:
            return state, message, {}
        state = state.with_entry(replace(entry, updated_at=now))
        tip = gitrepo.rev_parse(ctx.repo, merge.base_ref(ctx))
        if tip:  # landed or not, the entries behind it are predicted again
            state = merge.predict_again(ctx, state, tip, now)
        return state, message, {"id": entry.id, "state": entry.state, "reason": entry.reason}

    q.mutate(ctx, actor, f"merge.{entry.state}", fn, predicts=True)
