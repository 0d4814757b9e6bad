"""A ref store whose compare-and-swap is a push with a lease to the team's remote.

``git/refs.py`` ``update`` runs the same loop over it as over the local store:
``tip`` fetches the remote's orch refs and answers the remote's tip; ``cas``
pushes the new commit with ``--force-with-lease=REF:<the tip it was built on>``
and, once the remote took it, points the local ref (and the tracking ref) there.
A lease the remote rejects raises CasMismatch after a random pause, so the loop
fetches and builds again (docs/ARCHITECTURE.md, remote mode).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from orch_core.git import refs as gitrefs
from orch_core.git import remote as gitremote
from orch_core.git.repo import Oid, Repo

# A client whose lease was rejected waits a random time before it fetches again,
# up to BACKOFF * 2**losses (capped at BACKOFF_CAP): under heavy contention the
# clients spread out instead of all retrying at once.
BACKOFF = 0.004
BACKOFF_CAP = 0.25
MAX_ATTEMPTS = 60

T = TypeVar("T")


class _Refetch(Exception):
    """An attempt built on the last fetched tip refused or changed nothing: decide
    again on the remote's current tip (a refusal is never decided on a guess)."""


class RemoteStore:
    """``tip``/``cas`` against ``remote``; objects are read and written locally."""

    def __init__(self, repo: Repo, local: gitrefs.RefStore, remote: str, *,
                 keep_local: bool = False,
                 extra: tuple[gitremote.Update, ...] = ()) -> None:
        self.repo = repo
        self.local = local
        self.remote = remote
        # True while the local table holds offline leases not on the remote yet: a
        # fetch must not replace it before they are reconciled.
        self.keep_local = keep_local
        self.fetched: dict[str, Oid] = {}
        # Refs pushed in the same atomic push as every compare-and-swap (the lander's
        # move of main with the queue record of it), each with its own lease.
        self.extra = extra
        # The first attempt builds on the tip last fetched, without the network: if
        # nobody wrote since, the push wins at once; if somebody did, its lease fails
        # and the next attempt fetches. A refusal is only ever decided on a fetch.
        self.guess = True
        self.guessed = False
        self.losses = 0

    def update(self, ref: str, attempt: Callable[[Oid | None], gitrefs.Proposal[T]],
               **kw: Any) -> T:
        """``git/refs.py`` ``update`` over this store, with the first-attempt guess."""
        def guarded(tip: Oid | None) -> gitrefs.Proposal[T]:
            try:
                prop = attempt(tip)
            except Exception:
                if self.guessed:
                    raise _Refetch() from None
                raise
            if prop.commit is None and self.guessed:
                raise _Refetch()
            return prop

        try:
            return gitrefs.update(self.repo, self, ref, guarded, **kw)
        except _Refetch:
            self.guess = False
            return gitrefs.update(self.repo, self, ref, attempt, **kw)

    def tip(self, ref: str) -> Oid | None:
        if self.guess:
            self.guess = False
            known = gitrefs.read_ref_file(self.repo.common_dir,
                                          gitremote.tracking_ref(self.remote, ref)) \
                if gitremote.last_fetched(self.repo) is not None else None
            if known is not None:
                self.guessed = True
                return self._adopt(ref, known)
        self.guessed = False
        self.fetched = gitremote.fetch_orch(self.repo, self.remote)
        return self._adopt(ref, self.fetched.get(ref))

    def _adopt(self, ref: str, theirs: Oid | None) -> Oid | None:
        if not self.keep_local and self.local.tip(ref) != theirs:
            gitremote.set_local(self.repo, {ref: theirs})
        return theirs

    def cas(self, ref: str, new: Oid, old: Oid | None, message: str) -> None:
        res = gitremote.push(self.repo, self.remote,
                             [gitremote.Update(ref, new, old), *self.extra])
        if res.refused:
            raise gitremote.refused_error(res)
        moved = [s for s in res.stale if s.split()[0] in {u.ref for u in self.extra}]
        if moved:
            from orch_core.errors import Refused

            raise Refused(f"{moved[0].split()[0]} moved on {self.remote} since it was "
                          "fetched; nothing was pushed", code="remote_moved",
                          hint="`git fetch` and bring the branch up to date, then retry")
        if not res.ok:
            self.guessed = False
            self.losses += 1
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF * 2 ** self.losses)))
            raise gitrefs.CasMismatch("; ".join(res.stale))
        gitremote.set_local(self.repo, {ref: new,
                                        gitremote.tracking_ref(self.remote, ref): new})
