"""Bringing this clone's lock table in line with the team's remote.

A fetch replaces the local ``refs/orch/locks`` with the remote's, unless this
clone holds offline leases: then one write through the remote carries them
onto its table (locks/offline.py) or names the conflict. The commit hook reads
the local table, so it never waits for the network; ``remote fetch``, every lock
write and pre-push bring it up to date (docs/ARCHITECTURE.md, remote mode).
"""

from __future__ import annotations

import time
from typing import Any

from orch_core.git import refs as gitrefs
from orch_core.git import remote as gitremote
from orch_core.locks import offline, storage
from orch_core.remote import mode
from orch_core.state.context import Context


def adopt(ctx: Context) -> dict[str, Any]:
    """Fetch the remote's orch refs and make the local lock table the remote's.

    Offline leases of this clone are reconciled by one write through the remote.
    Returns what ``remote status`` shows. Raises RemoteUnreachable.
    """
    name = mode.remote_name(ctx)
    if name is None:
        return {"remote": None}
    local_tip = ctx.odb.tip(storage.REF)
    held = offline.pending(storage.snapshot(ctx).locks) if local_tip else []
    out: dict[str, Any] = {"remote": name}
    if held:
        def keep(live: list[Any], now: float) -> tuple[list[Any], str, dict[str, Any]]:
            return live, "reconcile offline leases", {"session": "reconcile"}

        res = storage.mutate(ctx, "orch-hooks", "lock.reconcile", keep)
        with gitrefs.writer_lock(ctx.repo):
            # Nothing to push (every offline lease conflicted): the remote's table
            # replaces this clone's, without the dropped leases.
            theirs = gitremote.tracked(ctx.repo, name).get(storage.REF)
            if ctx.odb.tip(storage.REF) != theirs:
                gitremote.set_local(ctx.repo, {storage.REF: theirs})
        out.update({"reconciled": res.get("reconciled", []),
                    "offline_conflicts": res.get("offline_conflicts", []),
                    "warnings": res.get("warnings", [])})
    else:
        with gitrefs.writer_lock(ctx.repo):  # no lock write of this clone in between
            theirs = gitremote.fetch_orch(ctx.repo, name).get(storage.REF)
            if ctx.odb.tip(storage.REF) != theirs:
                gitremote.set_local(ctx.repo, {storage.REF: theirs})
        snap = storage.snapshot(ctx)  # refreshes the caches and locks.idx
        out["tip"] = snap.tip
    with gitrefs.writer_lock(ctx.repo, "queue"):
        queue = gitremote.tracked(ctx.repo, name).get(QUEUE)
        if gitrefs.read_ref_file(ctx.repo.common_dir, QUEUE) != queue:
            gitremote.set_local(ctx.repo, {QUEUE: queue})
    return out


QUEUE = "refs/orch/queue"  # merge/queue.py's ref (a layer above: named, not imported)


def fetched_age(ctx: Context) -> float | None:
    """Seconds since the lock table was last fetched from the remote (None: never)."""
    when = gitremote.last_fetched(ctx.repo)
    return None if when is None else max(0.0, time.time() - when)


DOCTOR_FILE = "remote-doctor.json"
REFS = ("refs/orch/locks", "refs/orch/queue")


def status(ctx: Context) -> dict[str, Any]:
    """What this clone knows of the remote, without the network."""
    import json

    name = mode.remote_name(ctx)
    if name is None:
        return {"remote": None, "mode": "local",
                "hint": "`orch-hooks install --remote NAME` shares locks through a remote"}
    repo = ctx.repo
    when = gitremote.last_fetched(repo)
    tracked = gitremote.tracked(repo, name)
    refs = {ref: {"remote": tracked.get(ref),
                  "local": gitrefs.read_ref_file(repo.common_dir, ref)} for ref in REFS}
    try:
        caps = json.loads((repo.orch_dir / DOCTOR_FILE).read_text())
    except (OSError, ValueError):
        caps = None
    return {"remote": name, "mode": "remote", "url": gitremote.url_of(repo, name),
            "last_fetch": when, "last_fetch_age": None if when is None
            else round(max(0.0, time.time() - when), 1),
            "refs": refs,
            "offline_leases": [lk.path for lk in offline.pending(storage.snapshot(ctx).locks)],
            "capabilities": caps}
