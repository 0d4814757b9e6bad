"""Taking and giving up locks: acquire, release, renew, hand over, check, list.

The table and how it is stored are in locks/table.py and locks/storage.py; every
change here is one ``storage.mutate`` (one commit on ``refs/orch/locks``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from orch_core import clock
from orch_core.errors import Conflict, NotFound, Refused, UsageError
from orch_core.git import refs as gitrefs

# The table's ref, its reader and the one writer are part of the service's API.
from orch_core.locks.storage import REF as REF
from orch_core.locks.storage import Snapshot as Snapshot
from orch_core.locks.storage import index_at, index_for
from orch_core.locks.storage import mutate as mutate
from orch_core.locks.storage import read_table as read_table
from orch_core.locks.storage import snapshot as snapshot
from orch_core.locks.table import EXCLUSIVE, SHARED, Lock
from orch_core.paths import normalise, within
from orch_core.state.context import Context

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Session(Protocol):
        """Who takes or holds locks (work/sessions.py's Session is one)."""

        @property
        def id(self) -> str: ...

        @property
        def owner(self) -> str: ...

        @property
        def worktree(self) -> str | None: ...

        @property
        def branch(self) -> str | None: ...


def describe(lk: Lock, now: float) -> dict[str, Any]:
    out = lk.to_json()
    if lk.id.startswith("L-offline-"):
        out["offline"] = True
    out["live"] = lk.live(now)
    out["expires"] = clock.iso(lk.expires_at)
    out["expires_in"] = max(0, int(lk.expires_at - now))
    return out


def conflict_entry(path: str, lk: Lock, now: float) -> dict[str, Any]:
    return {
        "path": path,
        "lock_id": lk.id,
        "lock_path": lk.path,
        "mode": lk.mode,
        "holder_session": lk.session,
        "owner": lk.owner,
        "task": lk.task,
        "expires_at": lk.expires_at,
        "expires": clock.iso(lk.expires_at),
        "expires_in": max(0, int(lk.expires_at - now)),
    }


def conflict_lines(found: dict[str, list[Lock]], now: float) -> list[str]:
    lines: list[str] = []
    for path, locks in found.items():
        for lk in locks:
            task = f", task {lk.task}" if lk.task else ""
            mins = max(0, int(lk.expires_at - now)) // 60
            lines.append(
                f"  {path}: locked by session {lk.session} (owner {lk.owner}{task}); "
                f"lock {lk.id} on {lk.path} [{lk.mode}], expires {clock.iso(lk.expires_at)} "
                f"(in {mins} min)"
            )
    return lines


def ask_command(session_id: str) -> str:
    """The command that asks a lock holder for its paths (the mailbox, team/mail.py)."""
    return f"orch-hooks mail send --to {session_id} --subject 'may I have PATH?'"


def ask_hint(found: dict[str, list[Lock]]) -> str:
    holders = sorted({lk.session for v in found.values() for lk in v})
    return "; ".join(f"`{ask_command(h)}`" for h in holders[:3])


# A lease longer than this is a typo (and overflows the clock's dates).
MAX_TTL = 10 * 365 * 86400


def _from_cwd(ctx: Context, raw: str) -> str:
    """A path as given relative to the caller's directory, made repository-relative
    (as git reads paths: `lock acquire users.py` in src/api/ is src/api/users.py)."""
    if not isinstance(raw, str) or raw.startswith("/") or raw.strip() == "":
        return raw
    here = within(ctx.cwd, ctx.repo.toplevel)
    return here + raw if here else raw


def _token_hex(nbytes: int) -> str:
    """``secrets.token_hex(nbytes)``, which is exactly this, without importing
    secrets (base64, hmac, hashlib, random: about 4 ms of every one-shot write)."""
    return os.urandom(nbytes).hex()


def normalise_all(ctx: Context, raw: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in raw:
        n = normalise(_from_cwd(ctx, p), ctx.repo.toplevel)
        if n not in out:
            out.append(n)
    if not out:
        raise UsageError("no path given", hint="name at least one path, e.g. src/api/",
                         code="bad_path")
    return out


def acquire(ctx: Context, sess: Session, paths: list[str], shared: bool = False,
            ttl: float | None = None, task: str | None = None,
            release_on_land: bool = False, offline: bool = False) -> dict[str, Any]:
    from orch_core.locks.offline import OFFLINE_ID
    from orch_core.remote import mode as remote_mode

    id_prefix = "L-"
    if offline and remote_mode.remote_name(ctx) is not None:
        ctx.cache[remote_mode.OFFLINE] = True
        id_prefix = OFFLINE_ID

    norm = normalise_all(ctx, paths)
    life = float(ttl if ttl is not None else ctx.config.get("locks", "default_ttl"))
    if life <= 0:
        raise UsageError("--ttl must be a positive number of seconds", code="bad_param")
    if not life <= MAX_TTL:
        raise UsageError(f"--ttl {ttl if ttl is not None else life} is too long: at most "
                         f"{MAX_TTL} seconds (10 years)", code="bad_param",
                         hint="renew a lease with `orch-hooks lock heartbeat` instead")
    mode = SHARED if shared else EXCLUSIVE
    # The branch the session is on now (agents switch branches; the session record
    # keeps the one it opened on): release-on-land releases locks of that branch.
    branch = (gitrefs.worktree_branch(sess.worktree) if sess.worktree else None) or sess.branch

    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        index = index_for(ctx, live)
        found = {p: index.blockers(p, mode, sess.id, now) for p in norm}
        found = {p: v for p, v in found.items() if v}
        if found:
            raise Conflict(
                "lock conflict; nothing was acquired:\n" + "\n".join(conflict_lines(found, now)),
                hint=f"wait for the holder to release, ask them ({ask_hint(found)}), or see "
                     "`orch-hooks lock list`; "
                     "`orch-hooks lock release --force LOCK_ID` overrides (journaled)",
                details={"conflicts": [conflict_entry(p, lk, now)
                                       for p, v in found.items() for lk in v]},
            )
        keep = [lk for lk in live
                if not (lk.session == sess.id and lk.path in norm)]
        granted = [
            Lock(id=id_prefix + _token_hex(4), path=p, mode=mode, session=sess.id,
                 owner=sess.owner, task=task, acquired_at=now, expires_at=now + life,
                 ttl=life, release_on_land=release_on_land, branch=branch)
            for p in norm
        ]
        task_txt = f" for task {task}" if task else ""
        msg = (f"acquire {', '.join(norm)} [{mode}] by {sess.id} ({sess.owner}){task_txt}, "
               f"expires {clock.iso(now + life)}")
        if id_prefix != "L-":
            msg = "offline " + msg
        out: dict[str, Any] = {"session": sess.id, "paths": norm,
                               "locks": [describe(lk, now) for lk in granted]}
        if id_prefix != "L-":
            out["offline"] = True
            out["warnings"] = [
                "offline lease: granted in this clone only, not by the remote; the next "
                "lock change or push through the remote reconciles it, and a conflict "
                "found then is named and refused"]
        return keep + granted, msg, out

    return mutate(ctx, sess.id, "lock.acquire", fn)


def release(ctx: Context, sess: Session | None, selectors: list[str],
            force: bool = False) -> dict[str, Any]:
    if not selectors:
        raise UsageError("nothing to release", hint="name a path or a lock id",
                         code="bad_param")
    wanted_ids = [s for s in selectors if s.startswith("L-")]
    wanted_paths = [normalise(_from_cwd(ctx, s), ctx.repo.toplevel)
                    for s in selectors if not s.startswith("L-")]
    who = sess.id if sess else None
    if who is None and not force:
        raise UsageError("no session in effect", code="no_session",
                         hint="run `orch-hooks session open`, or use --force")

    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        chosen: list[Lock] = []
        for lid in wanted_ids:
            match = [lk for lk in live if lk.id == lid]
            if not match:
                raise NotFound(f"no live lock with id {lid}", code="unknown_lock",
                               hint="`orch-hooks lock list` shows the live locks")
            chosen.extend(match)
        for p in wanted_paths:
            # `src/api` names the prefix lock src/api/ too (the folder may be gone since).
            same = (p, p.rstrip("/"), p.rstrip("/") + "/")
            match = [lk for lk in live if lk.path in same and (force or lk.session == who)]
            if not match:
                others = [lk for lk in live if lk.path in same]
                if others:
                    holder = others[0]
                    raise Refused(
                        f"{p} is locked by session {holder.session} ({holder.owner}), not you",
                        hint="only the holder releases; `--force` overrides (journaled)",
                        code="not_holder")
                raise NotFound(f"no live lock on {p}", code="unknown_lock",
                               hint="`orch-hooks lock list` shows the live locks")
            chosen.extend(match)
        for lk in chosen:
            if lk.session != who and not force:
                raise Refused(
                    f"lock {lk.id} on {lk.path} is held by session {lk.session} ({lk.owner})",
                    hint="only the holder releases; `--force` overrides (journaled)",
                    code="not_holder")
        ids = {lk.id for lk in chosen}
        forced = [lk for lk in chosen if lk.session != who]
        msg = f"release {', '.join(sorted({lk.path for lk in chosen}))} by {who or 'nobody'}"
        if forced:
            msg = (f"force-release {', '.join(lk.path for lk in forced)} held by "
                   f"{', '.join(sorted({lk.session for lk in forced}))} (by {who or 'nobody'})")
        return [lk for lk in live if lk.id not in ids], msg, {
            "session": who, "force": bool(forced), "ids": sorted(ids),
            "released": [describe(lk, now) for lk in chosen],
        }

    return mutate(ctx, who or "force", "lock.force_release" if force else "lock.release", fn)


def heartbeat(ctx: Context, sess: Session) -> dict[str, Any]:
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        mine = [lk for lk in live if lk.session == sess.id]
        new = [lk.renewed(now) if lk.session == sess.id else lk for lk in live]
        return new, f"heartbeat {len(mine)} lease(s) of {sess.id}", {
            "session": sess.id, "renewed": len(mine),
            "locks": [describe(lk.renewed(now), now) for lk in mine],
        }

    return mutate(ctx, sess.id, "lock.heartbeat", fn)


def release_where(ctx: Context, actor: str, why: str,
                  pred: Callable[[Lock], bool]) -> dict[str, Any]:
    """Release every live lock matching ``pred`` (session close, landing)."""
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        gone = [lk for lk in live if pred(lk)]
        return [lk for lk in live if not pred(lk)], \
            f"release {len(gone)} lock(s): {why}", {
                "session": actor, "ids": [lk.id for lk in gone],
                "released": [describe(lk, now) for lk in gone]}

    return mutate(ctx, actor, "lock.release", fn)


def transfer(ctx: Context, from_session: str, to: Session) -> dict[str, Any]:
    """Hand every live lock of one session to another (resume attach)."""
    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        moved = [lk.replace(session=to.id, owner=to.owner, expires_at=now + lk.ttl)
                 for lk in live if lk.session == from_session]
        rest = [lk for lk in live if lk.session != from_session]
        return rest + moved, f"transfer {len(moved)} lock(s) from {from_session} to {to.id}", {
            "from": from_session, "to": to.id, "ids": [lk.id for lk in moved],
            "locks": [describe(lk, now) for lk in moved]}

    return mutate(ctx, to.id, "lock.transfer", fn, keep=frozenset({from_session}))


def listing(ctx: Context, include_expired: bool = False) -> dict[str, Any]:
    snap = snapshot(ctx)
    now = ctx.now()
    rows = [lk for lk in snap.locks if include_expired or snap.counts(lk, now)]
    rows.sort(key=lambda lk: (lk.path, lk.id))
    out = [describe(lk, now) for lk in rows]
    for row, lk in zip(out, rows, strict=True):
        row["live"] = snap.counts(lk, now)
        row["holder_dead"] = lk.live(now) and not row["live"]
    return {"tip": snap.tip, "locks": out, "warnings": snap.warnings}


def check(ctx: Context, session_id: str, paths: list[str]) -> dict[str, Any]:
    norm = normalise_all(ctx, paths)
    snap = snapshot(ctx)
    now = ctx.now()
    index = index_at(ctx, snap.tip, snap.locks)
    index.deadlines = snap.deadlines
    found = index.check(norm, session_id, now)
    return {
        "session": session_id,
        "ok": not found,
        "paths": [{"path": p, "blocked": p in found,
                   "conflicts": [conflict_entry(p, lk, now) for lk in found.get(p, [])]}
                  for p in norm],
        "message": "\n".join(conflict_lines(found, now)),
    }


def held_by(ctx: Context, session_id: str) -> list[Lock]:
    now = ctx.now()
    return [lk for lk in snapshot(ctx).locks if lk.session == session_id and lk.live(now)]
