"""The merge queue in remote mode (merge/queue.py): written through the remote, and
which of its commits count as orch's (docs/ARCHITECTURE.md, remote mode)."""

from __future__ import annotations

from orch_core.git import history as githistory
from orch_core.git import refs as gitrefs
from orch_core.git import remote as gitremote
from orch_core.git.repo import Oid
from orch_core.remote import mode
from orch_core.remote.store import MAX_ATTEMPTS as MAX_ATTEMPTS
from orch_core.remote.store import RemoteStore
from orch_core.state.context import Context

# ctx.cache key: refs the next queue write pushes in the same atomic push (the
# lander's move of main with the record of it; merge/remoteland.py sets it).
PUSH_WITH = "remote.push_with"


def store(ctx: Context, local: gitrefs.RefStore) -> RemoteStore | None:
    """The store a queue write goes through in remote mode (None: local mode)."""
    name = mode.remote_name(ctx)
    if name is None:
        return None
    # The entries' branches, for the conflict predictions a queue write makes.
    gitremote.fetch_branches(ctx.repo, name, "main")
    return RemoteStore(ctx.repo, local, name, extra=tuple(ctx.cache.pop(PUSH_WITH, ())))


def accepted(ctx: Context, ref: str, history: set[Oid]) -> set[Oid]:
    """Remote mode: the queue commits the team's remote accepted (its server hook
    checks each successor; the README's forge limits say what holds without one)."""
    name = mode.remote_name(ctx)
    if name is None:
        return set()
    theirs = gitremote.tracked(ctx.repo, name).get(ref)
    if theirs is None or theirs not in history:
        return set()
    return githistory.commits_of(ctx.repo, theirs) or set()
