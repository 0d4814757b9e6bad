"""The server hook's rule for the lock table (hooks/receivecheck.py): a successor may
grant nothing conflicting, must parse cleanly, and may remove or change another
session's unexpired lease only the way the lock commands do (docs/ARCHITECTURE.md,
"The server hook").

Who may remove or change a live lease L:
- a write that declares L's session (the ``orch-sessions:`` line every lock-table
  commit carries, or ``-o orch-session=ID``): its holder's release, a takeover of a
  dead session, a forced release; when the server authenticated the pusher, only if
  L's owner is that user;
- the authenticated user who owns L (a user's own dead sessions);
- anyone, once L expired (``SKEW`` early: clocks differ), or once the queue
  records a landing of L's session's branch (the lander releases the author's locks).
A renewal (only ``expires_at`` later) needs nobody's word.
"""

from __future__ import annotations

from dataclasses import replace

from orch_core.git import serverside
from orch_core.git.repo import ZERO_OID, Repo
from orch_core.locks.storage import TableUnreadable, read_table
from orch_core.locks.table import Lock, LockIndex

LOCKS = "refs/orch/locks"
# The line of a lock-table commit message naming the sessions it writes for
# (locks/storage.py ``mutate`` writes it).
SESSIONS_LINE = "orch-sessions:"
# A client reaps a lease its own clock says expired; a server clock this far behind
# must not turn that into a refusal, so a lease this close to its end counts as
# expired for removal (never for a new grant).
SKEW = 30.0
FIX_LOCK = "`orch-hooks lock list` after `orch-hooks remote fetch`; wait for the release or " \
           "ask the holder, then push again"


def declared_sessions(messages: list[str]) -> set[str]:
    out: set[str] = set()
    for msg in messages:
        for line in msg.splitlines():
            if line.startswith(SESSIONS_LINE):
                out |= set(line[len(SESSIONS_LINE):].split())
    return out


def _renewal(before: Lock, after: Lock) -> bool:
    return after.expires_at >= before.expires_at and \
        replace(after, expires_at=before.expires_at) == before


def check_locks(repo: Repo, old: str, new: str, now: float, claimed: str | None,
                user: str | None, landed_authors: set[str]) -> list[str]:
    """A lock-table update: a linear successor, well formed, granting nothing
    conflicting and taking no other session's live lease."""
    if new == ZERO_OID:
        return [f"{LOCKS}: deleting the lock table is refused; release locks with "
                "`orch-hooks lock release`"]
    base = old
    if old != ZERO_OID and serverside.object_types(repo, [old]).get(old) != "commit":
        # A ref damaged before the hook refused non-commits: build on what it points at.
        base = serverside.peeled_commit(repo, old) or ZERO_OID
    steps = serverside.chain(repo, base, new)
    if steps is None:
        return [f"{LOCKS}: {new[:12]} does not descend from {base[:12]} (history rewritten); "
                "`orch-hooks remote fetch` and retry the lock command"]
    prev = None if base == ZERO_OID else base
    for commit, parents in steps:
        if parents != ([prev] if prev else []):
            return [f"{LOCKS}: commit {commit[:12]} is not a one-parent successor; "
                    "only orch-hooks lock commands write the lock table"]
        prev = commit
    try:
        before = read_table(repo, base)[0] if base != ZERO_OID else []
        table, warnings = read_table(repo, new)
    except TableUnreadable as e:
        return [f"{LOCKS}: {e.message}"]
    if warnings:
        return [f"{LOCKS}: the new table is malformed ({warnings[0]}); only orch-hooks "
                "lock commands write the lock table"]
    writers = declared_sessions(serverside.messages(repo, base, new))
    if claimed:
        writers.add(claimed)
    out = _taken(before, table, now, writers, user, landed_authors)
    live = [lk for lk in table if lk.live(now)]
    index = LockIndex(live, False)
    had = {lk.id for lk in before}
    for lk in live:
        if lk.id in had:
            continue
        for other in index.blockers(lk.path, lk.mode, lk.session, now):
            out.append(f"{LOCKS}: the new lease {lk.id} on {lk.path} (session {lk.session}) "
                       f"conflicts with {other.id} on {other.path} held by session "
                       f"{other.session} ({other.owner}); {FIX_LOCK}")
    return out


def _taken(before: list[Lock], after: list[Lock], now: float, writers: set[str],
           user: str | None, landed_authors: set[str]) -> list[str]:
    new = {lk.id: lk for lk in after}
    out: list[str] = []
    for lk in before:
        if not lk.live(now + SKEW):
            continue
        got = new.get(lk.id)
        if got is not None and (got == lk or _renewal(lk, got)):
            continue
        if user is not None and lk.owner == user:
            continue
        if lk.session in writers and user is None:
            continue
        if got is None and lk.session in landed_authors:
            continue
        how = "removes" if got is None else "rewrites"
        who = f"user {user}" if user is not None else \
            f"session(s) {', '.join(sorted(writers))}" if writers else "no session"
        out.append(f"{LOCKS}: this table {how} lease {lk.id} on {lk.path} of session "
                   f"{lk.session} ({lk.owner}), unexpired until its holder releases it; "
                   f"the push speaks for {who}; {FIX_LOCK}")
    return out
