"""`orch-hooks remote doctor`: what a remote offers, probed in a few seconds.

Four pushes at most, each with a short timeout: a probe ref created and deleted
under ``refs/orch/`` (write access, atomic push), the same with a push option,
and a push carrying ``-o orch-probe`` that the orch server hook answers and
refuses (nothing is written). The findings are kept for ``remote status``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from orch_core.git import remote as gitremote
from orch_core.git import repo as gitrepo
from orch_core.remote import mode
from orch_core.state.context import Context

DOCTOR_FILE = "remote-doctor.json"
STEP_TIMEOUT = 4.0


def doctor(ctx: Context, remote: str | None = None) -> dict[str, Any]:
    t0 = time.monotonic()
    name = remote or mode.remote_name(ctx) or "origin"
    url = gitremote.need_url(ctx.repo, name)
    checks = {"reachable": False, "write_refs_orch": False, "atomic_push": False,
              "push_options": False, "server_hook": False}
    notes: list[str] = []
    try:
        refs = gitremote.ls_remote(ctx.repo, name, timeout=STEP_TIMEOUT)
    except gitremote.RemoteUnreachable as e:
        notes.append(e.message)
        return _finish(ctx, name, url, checks, notes, t0)
    checks["reachable"] = True
    oid = next((o for o in refs.values() if gitrepo.rev_parse(ctx.repo, o)), None) \
        or gitrepo.rev_parse(ctx.repo, "HEAD")
    if oid is None:
        notes.append("no commit to probe with: commit or fetch something first")
        return _finish(ctx, name, url, checks, notes, t0)
    probe = f"refs/orch/probe-{os.urandom(4).hex()}"

    def left() -> float:
        return max(0.5, min(STEP_TIMEOUT, 4.5 - (time.monotonic() - t0)))

    ok, said = gitremote.push_probe(ctx.repo, name, probe, oid, timeout=left())
    checks["write_refs_orch"] = checks["atomic_push"] = ok
    if not ok:
        notes.append(f"pushing {probe}: {said or 'refused'}")
        if "atomic" in said:
            checks["write_refs_orch"] = False
    ok, said = gitremote.push_probe(ctx.repo, name, probe, oid, options=["orch-doctor"],
                                    timeout=left())
    checks["push_options"] = ok or "orch-hooks" in said
    if not checks["push_options"] and "push options" in said:
        notes.append("the server does not accept push options (receive.advertisePushOptions)")
    _ok, said = gitremote.push_probe(ctx.repo, name, probe, oid, options=["orch-probe"],
                                     delete_after=False, timeout=left())
    if _ok:  # no hook refused it: remove the probe ref again
        gitremote.push_probe(ctx.repo, name, probe + "-x", oid, timeout=left())
        gitremote.delete_remote_ref(ctx.repo, name, probe, oid, timeout=left())
    checks["server_hook"] = "server hook installed" in said
    return _finish(ctx, name, url, checks, notes, t0)


def guarantees(checks: dict[str, bool]) -> list[dict[str, Any]]:
    cas = checks["reachable"] and checks["write_refs_orch"]
    return [
        {"what": "lock changes are compare-and-swap pushes (no two clones both win)",
         "holds": cas},
        {"what": "several refs move all or none (--atomic: N paths, landing + queue)",
         "holds": cas and checks["atomic_push"]},
        {"what": "pushes that skip client hooks are still checked (locks, queue, main)",
         "holds": checks["server_hook"]},
        {"what": "refs/orch/* accept only commits that follow the lock and queue rules "
                 "(a session or reviewer name is proven only where the server "
                 "authenticates the pusher: README, forge limits)",
         "holds": checks["server_hook"]},
        {"what": "a push may name its session (-o orch-session=ID)",
         "holds": checks["push_options"]},
    ]


def _finish(ctx: Context, name: str, url: str, checks: dict[str, bool], notes: list[str],
            t0: float) -> dict[str, Any]:
    out = {"remote": name, "url": url, "reachable": checks["reachable"], "checks": checks,
           "guarantees": guarantees(checks), "notes": notes,
           "seconds": round(time.monotonic() - t0, 3), "probed_at": time.time()}
    if not checks["server_hook"] and checks["reachable"]:
        notes.append("no orch server hook: the rules hold only in clients that run the "
                     "hooks (README: forge limits); `orch-hooks server install` on a "
                     "self-managed server")
    try:
        ctx.repo.orch_dir.mkdir(parents=True, exist_ok=True)
        (ctx.repo.orch_dir / DOCTOR_FILE).write_text(json.dumps(out))
    except OSError:
        pass
    return out


def need_write_access(ctx: Context, name: str) -> None:
    """Refuse remote mode through a remote this clone cannot push ``refs/orch/*`` to
    (the first probe of :func:`doctor`); an unreachable one is retryable."""
    gitremote.need_url(ctx.repo, name)
    oid = gitrepo.rev_parse(ctx.repo, "HEAD")
    if oid is None:
        return  # nothing to probe with yet; the first lock command says what is wrong
    ok, said = gitremote.push_probe(ctx.repo, name, f"refs/orch/probe-{os.urandom(4).hex()}",
                                    oid, timeout=STEP_TIMEOUT * 2)
    if not ok:
        raise gitremote.read_only(ctx.repo, name, said)
