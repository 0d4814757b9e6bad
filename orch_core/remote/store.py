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

from orch_core.git import refs as gitrefs
from orch_core.git import remote as gitremote
from orch_core.git.repo import Oid, Repo

# How long a client whose lease was rejected waits before it fetches again.
JITTER = (0.002, 0.03)
MAX_ATTEMPTS = 60


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

    def tip(self, ref: str) -> Oid | None:
        self.fetched = gitremote.fetch_orch(self.repo, self.remote)
        theirs = self.fetched.get(ref)
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
            time.sleep(random.uniform(*JITTER))
            raise gitrefs.CasMismatch("; ".join(res.stale))
        gitremote.set_local(self.repo, {ref: new,
                                        gitremote.tracking_ref(self.remote, ref): new})
