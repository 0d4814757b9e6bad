"""The lock table in ``refs/orch/locks``: read through a SQLite cache, written by CAS.

Every change is one commit on the ref whose message says what changed, so
``git log refs/orch/locks`` is the audit log. The cache in SQLite records the
tip it was built from; a reader that finds the ref moved reloads first.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from orch_core import clock, gitio
from orch_core.context import Context
from orch_core.errors import Busy, Conflict, NotFound, Refused, UsageError
from orch_core.locktable import EXCLUSIVE, SHARED, Lock, LockIndex, parse, serialise
from orch_core.paths import normalise
from orch_core.sessions import Session

REF = "refs/orch/locks"
TABLE = "locks.jsonl"
EXPORT = "locks.idx"
MAX_ATTEMPTS = 200


@dataclass(frozen=True)
class Snapshot:
    tip: gitio.Oid | None
    locks: list[Lock]
    warnings: list[str]


def _rows_to_locks(rows: Iterable[Any]) -> list[Lock]:
    return [Lock(id=r["id"], path=r["path"], mode=r["mode"], session=r["session"],
                 owner=r["owner"], task=r["task"], acquired_at=r["acquired_at"],
                 expires_at=r["expires_at"], ttl=r["ttl"],
                 release_on_land=bool(r["release_on_land"]), branch=r["branch"])
            for r in rows]


def _insert(conn: Any, locks: Iterable[Lock]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO locks(id, path, mode, session, owner, task, acquired_at,"
        " expires_at, ttl, release_on_land, branch) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(lk.id, lk.path, lk.mode, lk.session, lk.owner, lk.task, lk.acquired_at,
          lk.expires_at, lk.ttl, int(lk.release_on_land), lk.branch) for lk in locks],
    )


def _table_blob(ctx: Context, locks: list[Lock]) -> bytes:
    """``serialise(locks)``, reusing the line of every lock unchanged since the last write
    of this Context (a long-running server re-encoded 1,000 unchanged locks per call)."""
    old: dict[str, tuple[Lock, bytes]] = ctx.cache.get("locks.lines") or {}
    lines: dict[str, tuple[Lock, bytes]] = {}
    for lk in locks:
        prev = old.get(lk.id)
        lines[lk.id] = prev if prev is not None and _same_lock(prev[0], lk) \
            else (lk, serialise([lk]))
    ctx.cache["locks.lines"] = lines
    return b"".join(lines[lk.id][1] for lk in sorted(locks, key=lambda lk: (lk.path, lk.id)))


def _same_lock(a: Lock | None, b: Lock | None) -> bool:
    # Identity first: the memoised table hands the same objects around, and the
    # dataclass __eq__/__hash__ over 11 fields dominated a 1,000-lock write.
    return a is b or a == b


def write_export(ctx: Context, tip: str | None, locks: Iterable[Lock]) -> None:
    """The plain-text copy the shell fast path of pre-commit reads (see hooks/)."""
    lines = [f"tip\t{tip or 'none'}\t{int(ctx.ignore_case)}\n"]
    old: dict[str, tuple[Lock, str]] = ctx.cache.get("locks.export_lines") or {}
    memo: dict[str, tuple[Lock, str]] = {}
    for lk in locks:
        prev = old.get(lk.id)
        if prev is not None and _same_lock(prev[0], lk):
            line = prev[1]
        else:
            k = lk.path.rstrip("/")
            if ctx.ignore_case:
                k = k.casefold()
            line = (f"{k}\t{int(lk.path.endswith('/'))}\t{lk.session}\t{lk.mode}\t"
                    f"{int(lk.expires_at) + 1}\n")
        memo[lk.id] = (lk, line)
        lines.append(line)
    ctx.cache["locks.export_lines"] = memo
    if any(_awk_unsafe(lk.path) or _awk_unsafe(lk.session) for lk, _line in memo.values()):
        # A tab, newline, quote or backslash would shift the awk fields; flag the
        # file so the fast path hands every commit to Python instead of guessing.
        lines[0] = lines[0].rstrip("\n") + "\t1\n"
    path = ctx.repo.orch_dir / EXPORT
    tmp = path.with_name(f"{EXPORT}.{os.getpid()}.tmp")
    tmp.write_text("".join(lines))
    os.replace(tmp, path)


def _awk_unsafe(text: str) -> bool:
    return any(ch in '\t\n\r"\\' or ord(ch) < 0x20 for ch in text)


def _memo(ctx: Context, tip: str | None) -> list[Lock] | None:
    """The table at ``tip`` if this Context already read it (a commit never changes)."""
    hit = ctx.cache.get(_MEMO)
    if hit is not None and hit[0] == (tip or "none"):
        return list(hit[1])
    return None


def _remember(ctx: Context, tip: str | None, locks: Iterable[Lock]) -> None:
    ctx.cache[_MEMO] = (tip or "none", tuple(locks))


_MEMO = "locks.table"


def _cached_rows(ctx: Context, tip: str | None) -> list[Lock]:
    locks = _memo(ctx, tip)
    if locks is None:
        locks = _rows_to_locks(ctx.store.conn.execute("SELECT * FROM locks").fetchall())
        _remember(ctx, tip, locks)
    return locks


def snapshot(ctx: Context) -> Snapshot:
    """The current table, from the cache when its tip matches the ref."""
    repo = ctx.repo
    tip = gitio.read_ref_file(repo.common_dir, REF)
    store = ctx.store
    if (store.meta("locks_tip") or "none") == (tip or "none"):
        return Snapshot(tip, _cached_rows(ctx, tip), [])
    blob = gitio.cat_blob(repo, f"{tip}:{TABLE}") if tip else b""
    locks, warnings = parse(blob or b"")
    _refresh_cache(ctx, tip, locks)
    return Snapshot(tip, locks, warnings)


def _refresh_cache(ctx: Context, tip: str | None, locks: list[Lock]) -> None:
    with ctx.store.cache_write() as conn:
        conn.execute("DELETE FROM locks")
        _insert(conn, locks)
        ctx.store.set_meta(conn, "locks_tip", tip or "none")
    write_export(ctx, tip, locks)


def _load_at(ctx: Context, tip: gitio.Oid | None) -> tuple[list[Lock], bool]:
    """Locks at ``tip`` and whether the SQLite cache already holds exactly them."""
    if (ctx.store.meta("locks_tip") or "none") == (tip or "none"):
        return _cached_rows(ctx, tip), True
    if tip is None:
        return [], False
    blob = gitio.read_snapshot_file(ctx.pg, tip, TABLE)
    return parse(blob or b"")[0], False


Mutation = Callable[[list[Lock], float], tuple[list[Lock], str, dict[str, Any]]]


def mutate(ctx: Context, actor: str, kind: str, fn: Mutation) -> dict[str, Any]:
    """Read tip, apply ``fn`` to the live locks, CAS the ref; retry if it moved.

    ``fn`` raises to refuse (nothing is written) or returns the new table, the
    commit message and the result. Expired leases are reaped on the way.
    """
    repo = ctx.repo
    pg = ctx.pg
    with gitio.writer_lock(repo):
        # A writer SIGKILLed inside the ref transaction leaves <ref>.lock behind; it
        # only counts as stale (and is removed) after STALE_GIT_LOCK_SECONDS, so keep
        # waiting that long instead of burning the attempts in a second.
        lock_wait_until = time.monotonic() + gitio.STALE_GIT_LOCK_SECONDS + 2.0
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            attempt += 1
            if gitio.recover_stale_ref_lock(repo, REF):
                with ctx.store.write("orch-hooks", "recover.stale_ref_lock", {"ref": REF}):
                    pass
            tip = gitio.ref_tip(pg, REF)
            locks, cached = _load_at(ctx, tip)
            now = ctx.now()
            live = [lk for lk in locks if lk.live(now)]
            reaped = len(locks) - len(live)
            new, message, result = fn(live, now)
            if not reaped and _same(new, locks):
                return result
            if reaped:
                message += f"\n\nreaped {reaped} expired lease(s)"
            commit = gitio.write_snapshot(pg, {TABLE: _table_blob(ctx, new)}, tip, message,
                                          when=now)
            try:
                gitio.cas_ref(pg, REF, commit, tip, message.splitlines()[0])
            except gitio.CasMismatch:
                if (gitio.loose_ref_lock_path(repo, REF).exists()
                        and time.monotonic() < lock_wait_until):
                    attempt -= 1
                    time.sleep(0.05)
                    continue
                time.sleep(random.uniform(0.001, 0.01))
                continue
            old_ids = {lk.id: lk for lk in locks}
            new_ids = {lk.id: lk for lk in new}
            data = dict(result)
            data["tip"] = commit
            with ctx.store.write(actor, kind, _event_data(data)) as conn:
                if cached:
                    gone = [i for i in old_ids if i not in new_ids]
                    conn.executemany("DELETE FROM locks WHERE id=?", [(i,) for i in gone])
                    _insert(conn, [lk for i, lk in new_ids.items()
                                   if not _same_lock(old_ids.get(i), lk)])
                else:
                    conn.execute("DELETE FROM locks")
                    _insert(conn, new)
                ctx.store.set_meta(conn, "locks_tip", commit)
            _remember(ctx, commit, new)
            write_export(ctx, commit, new)
            touched = {lk.session for lk in locks
                       if not _same_lock(old_ids.get(lk.id), new_ids.get(lk.id))}
            touched |= {lk.session for lk in new if not _same_lock(old_ids.get(lk.id), lk)}
            _refresh_stamps(ctx, touched)
            return result
    if gitio.loose_ref_lock_path(repo, REF).exists():
        raise Busy(f"{gitio.loose_ref_lock_path(repo, REF)} is held by another git process",
                   hint="retry; if no git command is running, `orch-hooks doctor --fix` "
                        "removes it once it is stale")
    raise Busy(f"{REF} kept moving; gave up after {MAX_ATTEMPTS} attempts", hint="retry")


def _refresh_stamps(ctx: Context, session_ids: Iterable[str]) -> None:
    from orch_core import stamp

    for sid in session_ids:
        stamp.refresh(ctx, sid)


def _event_data(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("paths", "ids", "session", "force", "tip", "released", "renewed", "from", "to")
    return {k: v for k, v in result.items() if k in keep}


def _same(a: list[Lock], b: list[Lock]) -> bool:
    # Lock ids are unique within a table, so set equality is list equality up to order.
    if len(a) != len(b):
        return False
    by_id = {lk.id: lk for lk in b}
    return all(_same_lock(lk, by_id.get(lk.id)) for lk in a)


def describe(lk: Lock, now: float) -> dict[str, Any]:
    out = lk.to_json()
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


def normalise_all(ctx: Context, raw: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in raw:
        n = normalise(p, ctx.repo.toplevel)
        if n not in out:
            out.append(n)
    if not out:
        raise UsageError("no path given", hint="name at least one path, e.g. src/api/",
                         code="bad_path")
    return out


def acquire(ctx: Context, sess: Session, paths: list[str], shared: bool = False,
            ttl: float | None = None, task: str | None = None,
            release_on_land: bool = False) -> dict[str, Any]:
    norm = normalise_all(ctx, paths)
    life = float(ttl if ttl is not None else ctx.config.get("locks", "default_ttl"))
    if life <= 0:
        raise UsageError("--ttl must be a positive number of seconds", code="bad_param")
    mode = SHARED if shared else EXCLUSIVE

    def fn(live: list[Lock], now: float) -> tuple[list[Lock], str, dict[str, Any]]:
        index = LockIndex(live, ctx.ignore_case)
        found = {p: index.blockers(p, mode, sess.id, now) for p in norm}
        found = {p: v for p, v in found.items() if v}
        if found:
            raise Conflict(
                "lock conflict; nothing was acquired:\n" + "\n".join(conflict_lines(found, now)),
                hint="wait for the holder to release, ask them, or see `orch-hooks lock list`; "
                     "`orch-hooks lock release --force LOCK_ID` overrides (journaled)",
                details={"conflicts": [conflict_entry(p, lk, now)
                                       for p, v in found.items() for lk in v]},
            )
        keep = [lk for lk in live
                if not (lk.session == sess.id and lk.path in norm)]
        granted = [
            Lock(id="L-" + secrets.token_hex(4), path=p, mode=mode, session=sess.id,
                 owner=sess.owner, task=task, acquired_at=now, expires_at=now + life,
                 ttl=life, release_on_land=release_on_land, branch=sess.branch)
            for p in norm
        ]
        task_txt = f" for task {task}" if task else ""
        msg = (f"acquire {', '.join(norm)} [{mode}] by {sess.id} ({sess.owner}){task_txt}, "
               f"expires {clock.iso(now + life)}")
        return keep + granted, msg, {
            "session": sess.id, "paths": norm,
            "locks": [describe(lk, now) for lk in granted],
        }

    return mutate(ctx, sess.id, "lock.acquire", fn)


def release(ctx: Context, sess: Session | None, selectors: list[str],
            force: bool = False) -> dict[str, Any]:
    if not selectors:
        raise UsageError("nothing to release", hint="name a path or a lock id",
                         code="bad_param")
    wanted_ids = [s for s in selectors if s.startswith("L-")]
    wanted_paths = [normalise(s, None) for s in selectors if not s.startswith("L-")]
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
            match = [lk for lk in live if lk.path == p and (force or lk.session == who)]
            if not match:
                others = [lk for lk in live if lk.path == p]
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
        moved = [replace(lk, session=to.id, owner=to.owner, expires_at=now + lk.ttl)
                 for lk in live if lk.session == from_session]
        rest = [lk for lk in live if lk.session != from_session]
        return rest + moved, f"transfer {len(moved)} lock(s) from {from_session} to {to.id}", {
            "from": from_session, "to": to.id, "ids": [lk.id for lk in moved],
            "locks": [describe(lk, now) for lk in moved]}

    return mutate(ctx, to.id, "lock.transfer", fn)


def listing(ctx: Context, include_expired: bool = False) -> dict[str, Any]:
    snap = snapshot(ctx)
    now = ctx.now()
    rows = [lk for lk in snap.locks if include_expired or lk.live(now)]
    rows.sort(key=lambda lk: (lk.path, lk.id))
    return {"tip": snap.tip, "locks": [describe(lk, now) for lk in rows],
            "warnings": snap.warnings}


def check(ctx: Context, session_id: str, paths: list[str]) -> dict[str, Any]:
    norm = normalise_all(ctx, paths)
    snap = snapshot(ctx)
    now = ctx.now()
    index = LockIndex(snap.locks, ctx.ignore_case)
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
