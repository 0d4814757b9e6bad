"""The server hook's rule for the merge queue (hooks/receivecheck.py), under the policy
committed on the server's main: entries move only along the queue's states, a review
counts only from another owner holding the reviewer role, ``[[approval]]`` rules are
met before an entry lands, and a landed entry names the commit the lander builds
(docs/ARCHITECTURE.md, "The server hook"). With an authenticated pusher, new entries
and new approvals must be that user's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orch_core.git import objects as gitobjects
from orch_core.git import remote as gitremote
from orch_core.git import serverside
from orch_core.git.repo import ZERO_OID, Repo

if TYPE_CHECKING:
    from orch_core.merge.queue import Entry, QueueState
    from orch_core.state.config import Config

QUEUE = "refs/orch/queue"

# Which states an entry may move to; LANDED is final (merge/queue.py names the states).
NEXT = {
    "queued": {"queued", "approved", "rejected", "canceled", "conflicted", "failed"},
    "approved": {"approved", "queued", "landing", "landed", "failed", "conflicted",
                 "canceled", "rejected"},
    "landing": {"landing", "landed", "failed", "conflicted", "approved", "queued"},
    "conflicted": {"conflicted", "queued", "approved", "canceled", "failed", "rejected"},
    "failed": {"failed", "queued", "canceled", "approved"},
    "rejected": {"rejected", "queued", "canceled", "approved"},
    "canceled": {"canceled", "queued"},
    "landed": {"landed"},
}


def queue_at(repo: Repo, tip: str) -> QueueState:
    from orch_core.merge import queue as q

    if tip == ZERO_OID:
        return q.QueueState()
    return q.parse(gitobjects.cat_blob(repo, f"{tip}:{q.FILE}"))


def policy(repo: Repo) -> Config:
    """The policy committed on the server's main (defaults when it has none; a
    malformed one refuses every queue write)."""
    from orch_core.state import config

    _exists, raw = gitobjects.file_at(repo, "refs/heads/main", config.FILENAME)
    return config.parse(raw.decode("utf-8") if raw is not None else "",
                        Path(f"main:{config.FILENAME}"))


def check_queue(repo: Repo, old: str, new: str, user: str | None,
                pushed_tips: dict[str, str]) -> list[str]:
    """``pushed_tips``: the refs this push moves, to their new oids."""
    from orch_core.errors import UsageError

    if new == ZERO_OID:
        return [f"{QUEUE}: deleting the merge queue is refused"]
    base = old
    if old != ZERO_OID and serverside.object_types(repo, [old]).get(old) != "commit":
        base = serverside.peeled_commit(repo, old) or ZERO_OID
    if serverside.chain(repo, base, new) is None:
        return [f"{QUEUE}: {new[:12]} does not descend from {base[:12]}; "
                "`orch-hooks remote fetch` and retry"]
    try:
        before = queue_at(repo, base)
        after = queue_at(repo, new)
        pol = policy(repo)
    except (UsageError, UnicodeDecodeError, ValueError) as err:
        return [f"{QUEUE}: {getattr(err, 'message', err)}"]
    was = {e.id: e for e in before.entries}
    out: list[str] = []
    for e in after.entries:
        prev = was.get(e.id)
        if prev == e:
            continue
        why = _step(repo, pol, prev, e, user, pushed_tips)
        if why:
            out.append(f"{QUEUE}: entry {e.id} ({e.branch}): {why}")
    return out


def _step(repo: Repo, pol: Config, prev: Entry | None, e: Entry, user: str | None,
          pushed_tips: dict[str, str]) -> str | None:
    from orch_core.merge import approval
    from orch_core.merge import queue as q

    if prev is None:
        if e.state != q.QUEUED or e.approvals or e.landed_as:
            return f"appears as {e.state}; a new entry is queued (`orch-hooks merge request`)"
        if user is not None and e.owner != user:
            return f"requested as {e.owner} by the authenticated user {user}"
        workers = pol.role(approval.WORKER)
        if workers and e.owner not in workers:
            return f"requesting a merge needs the role {approval.WORKER} ({', '.join(workers)})"
        return None
    if e.state not in NEXT.get(prev.state, set()):
        return f"may not go from {prev.state} to {e.state}"
    if (prev.author, prev.owner, prev.branch) != (e.author, e.owner, e.branch):
        return "changed its author, owner or branch"
    if e.tip != prev.tip and (e.state != q.QUEUED or e.approvals):
        return "changed its tip without going back to the queue (a new request resets reviews)"
    had = {(a.get("session"), a.get("owner")) for a in prev.approvals}
    reviewers = pol.role(approval.REVIEWER)
    for a in e.approvals:
        if (a.get("session"), a.get("owner")) in had:
            continue
        owner = str(a.get("owner", ""))
        if user is not None and owner != user:
            return f"an approval as {owner} pushed by the authenticated user {user}"
        if owner == e.owner:
            return "approved by its author's owner; the reviewer must be another owner"
        if reviewers and owner not in reviewers:
            return f"approved by {owner}, who lacks the role {approval.REVIEWER}"
    if e.state in (q.APPROVED, q.LANDING, q.LANDED) and prev.state != e.state \
            and not approval.approvers(e.owner, e.approvals, reviewers or None):
        return f"marked {e.state} without an approval by another owner" + (
            f" holding {approval.REVIEWER}" if reviewers else "")
    if e.state == q.LANDED and prev.state != q.LANDED:
        return _landed(repo, pol, e, pushed_tips)
    return None


def _landed(repo: Repo, pol: Config, e: Entry, pushed_tips: dict[str, str]) -> str | None:
    from orch_core.merge import approval

    result, on = e.landed_as, e.landed_on
    if not result or not on or e.landing_result != result:
        return "marked landed without the merge it landed as and the main it landed on"
    paths = serverside.changed_since_fork(repo, on, e.tip)
    for rule in pol.approval_rules:
        if not any(approval.matches(pat, p) for p in paths for pat in rule.paths):
            continue
        holders = pol.role(rule.role) if rule.role else None
        have = approval.approvers(e.owner, e.approvals, holders)
        if len(have) < rule.approvals:
            return (f"lands paths of the [[approval]] rule {list(rule.paths)} with "
                    f"{len(have)} of {rule.approvals} approvals")
    parents = serverside.parents_of(repo, result)
    strategy = str(pol.get("merge", "strategy"))
    fast = result == e.tip and serverside.is_ancestor(repo, on, e.tip)
    if parents is None:
        why: str | None = f"landed as {result[:12]}, which is not a commit"
    elif strategy == "merge":
        why = None if parents == [on, e.tip] or fast else (
            f"landed as {result[:12]}, which is not the merge of {on[:12]} and the "
            f"approved tip {e.tip[:12]}")
    elif strategy == "ff":
        why = None if fast else (f"landed as {result[:12]}, not the approved tip "
                                 f"{e.tip[:12]} fast-forwarded from {on[:12]}")
    else:  # rebase: a commit on top of main (its content is not re-derived here)
        why = None if serverside.is_ancestor(repo, on, result) else \
            f"landed as {result[:12]}, which does not descend from {on[:12]}"
    if why:
        return why
    main = pushed_tips.get(pol_ref(pol)) or gitremote.read_ref(repo, pol_ref(pol))
    if main is None or not serverside.is_ancestor(repo, result, main):
        return (f"marked landed as {result[:12]}, which {pol_ref(pol)} does not hold "
                "(a landing pushes the branch with its record)")
    return None


def pol_ref(pol: Config) -> str:
    return f"refs/heads/{pol.base_branch}"


def landed_authors(state: QueueState) -> set[str]:
    return {e.author for e in state.entries if e.state == "landed"}

