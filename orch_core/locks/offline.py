"""Lock writes in remote mode, and the leases taken with ``--offline``.

In remote mode a lock change is pushed to the team's remote (remote/store.py); a
lease taken with ``--offline`` is written to this clone's table only, with an id
starting ``L-offline-``. The next write through the remote carries every such
lease that conflicts with nothing on the remote's table onto it (under an online
id) and drops, and names, the ones that do conflict (docs/ARCHITECTURE.md, remote
mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from orch_core.git.refs import Proposal
from orch_core.git.repo import Oid
from orch_core.locks.table import Lock, LockIndex
from orch_core.state.context import Context

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias, TypeVar

    from orch_core.remote.store import RemoteStore

    T = TypeVar("T")

REF = "refs/orch/locks"  # locks/storage.py's ref

OFFLINE_ID = "L-offline-"

if TYPE_CHECKING:
    Mutation: TypeAlias = Callable[[list[Lock], float], tuple[list[Lock], str, dict[str, Any]]]


def pending(locks: list[Lock]) -> list[Lock]:
    """The offline leases of this clone's table."""
    return [lk for lk in locks if lk.id.startswith(OFFLINE_ID)]


def route(ctx: Context, fn: Mutation, load_local: Callable[[Oid | None], list[Lock]],
          drop_index: Callable[[], object]) -> tuple[RemoteStore | None, Mutation]:
    """Where a lock write goes: the local ref (None), or in remote mode the team's
    remote, with this clone's offline leases carried onto its table."""
    from orch_core.remote import mode

    remote = mode.remote_name(ctx)
    if remote is None or mode.offline(ctx):
        return None, fn
    from orch_core.remote.store import RemoteStore

    local_tip = ctx.odb.tip(REF)
    offline = pending(load_local(local_tip) if local_tip else [])
    store = RemoteStore(ctx.repo, ctx.odb, remote, keep_local=bool(offline))
    if not offline:
        return store, fn

    def carried(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        table, kept, lost = carry(ctx, live, offline, now)
        if kept:
            drop_index()  # the index of the remote's table lacks the carried leases
        new, message, result = fn(table, now)
        if kept:
            message += "\n\nreconciled offline lease(s): " + ", ".join(lk.path for lk in kept)
        result = dict(result, reconciled=[lk.path for lk in kept],
                      offline_conflicts=[_conflict(lk, table, ctx, now) for lk in lost])
        if lost:
            result["warnings"] = [*result.get("warnings", []), *(
                f"offline lease {c['lock_id']} on {c['path']} dropped: the remote grants "
                + ", ".join(f"{h['lock_path']} to session {h['session']} ({h['owner']})"
                            for h in c["held_by"])
                + "; work on that path cannot be pushed until it is released"
                for c in result["offline_conflicts"])]
        return new, message, result

    return store, carried


def update(store: RemoteStore, ref: str, attempt: Callable[[Oid | None], Proposal[T]],
           recovered: Callable[[], None]) -> T:
    """The CAS loop of a lock write through the remote."""
    from orch_core.remote.store import MAX_ATTEMPTS

    return store.update(ref, attempt, on_recover=recovered, max_attempts=MAX_ATTEMPTS,
                        gave_up=f"{ref} kept moving on the remote; gave up",
                        hint="retry (many clones are writing the lock table)")


def carry(ctx: Context, live: list[Lock], offline: list[Lock],
          now: float) -> tuple[list[Lock], list[Lock], list[Lock]]:
    """The remote's live table plus every live offline lease that conflicts with
    nothing on it (under a new, online id), those kept, and those dropped."""
    table = list(live)
    kept: list[Lock] = []
    lost: list[Lock] = []
    for lk in offline:
        if not lk.live(now):
            continue
        if LockIndex(table, ctx.ignore_case).blockers(lk.path, lk.mode, lk.session, now):
            lost.append(lk)
            continue
        online = lk.replace(id="L-" + os.urandom(4).hex())
        table.append(online)
        kept.append(online)
    return table, kept, lost


def _conflict(lk: Lock, table: list[Lock], ctx: Context, now: float) -> dict[str, Any]:
    holders = LockIndex(table, ctx.ignore_case).blockers(lk.path, lk.mode, lk.session, now)
    return {"path": lk.path, "session": lk.session, "lock_id": lk.id,
            "held_by": [{"session": h.session, "owner": h.owner, "lock_path": h.path,
                         "lock_id": h.id} for h in holders]}
