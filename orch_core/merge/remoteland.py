"""A landing in remote mode (merge/lander.py): main on the team's remote moves only
to the merge the lander tested, in one atomic push with the queue record of it.

Called by merge/lease.py: before the merge lock is taken, the remote's branches
are fetched (the entry's branch among them) and the lander refuses to build on a
main that is not the remote's. The queue record that marks the entry landed is pushed together with
``main: <tested merge>``, with a lease on main's old tip and on the queue tip it
was built on (remotequeue.py ``PUSH_WITH``); the server hook accepts main's move only
with that record (docs/ARCHITECTURE.md, remote mode).
"""

from __future__ import annotations

from orch_core.errors import Refused
from orch_core.git import remote as gitremote
from orch_core.git import repo as gitrepo
from orch_core.git.repo import Oid
from orch_core.merge import predict as merge
from orch_core.merge import queue as q
from orch_core.merge.remotequeue import PUSH_WITH
from orch_core.remote import mode
from orch_core.state.context import Context


def decide(ctx: Context) -> None:
    """Decide remote mode on the clone's own policy, as the lock commands do, before the
    lander reads everything else from the committed policy (the Context keeps it);
    reading the local policy also reports a typo in it, though nothing else reads it."""
    _local = ctx.config
    mode.remote_name(ctx)


def prepare(ctx: Context) -> None:
    """Fetch the remote's queue and branches; refuse when main here is not main there."""
    name = mode.remote_name(ctx)
    if name is None:
        return
    ref = merge.base_ref(ctx)
    branch = ref.removeprefix("refs/heads/")
    queue_tip = gitremote.fetch_orch(ctx.repo, name).get(q.REF)
    if queue_tip is not None:  # the remote's queue is the queue (queue.py trusts it)
        gitremote.set_local(ctx.repo, {q.REF: queue_tip})
    theirs = gitremote.fetch_branches(ctx.repo, name, branch)
    ours = gitrepo.rev_parse(ctx.repo, ref)
    if theirs is not None and ours != theirs:
        raise Refused(f"{branch} here ({str(ours)[:12]}) is not {branch} on {name} "
                      f"({theirs[:12]}): a landing builds on the remote's {branch}",
                      code="remote_moved",
                      hint=f"`git switch {branch} && git pull --ff-only {name} {branch}` "
                           "(the gate lets a branch follow its upstream), then land again")


def push_with_record(ctx: Context, result: str | None, tip: str | None) -> None:
    """Make the queue write that records the landing carry main's move."""
    if result and tip and mode.remote_name(ctx) is not None:
        ctx.cache[PUSH_WITH] = (gitremote.Update(merge.base_ref(ctx), Oid(result), Oid(tip)),)
