"""Replay ``refs/orch/queue`` and the reflog of main: main only moved to tested merges, in order.

Every queue change is one commit on the ref, so its history shows each merge
lock taken, each tested merge recorded as the lease's ``target`` and each entry
that landed. :func:`verify_queue_history` checks, commit by commit:

- the history is one line (a CAS writer never forks it);
- each merge lock was taken for the entry at the head of the queue: the first
  approved entry in landing order (priority, then first come) of the state it
  was taken from, approved by a session other than its author;
- an entry became ``landed`` only while its lander held the lock with the
  entry's merge recorded as ``target``;

and against the reflog of main (moves after ``start``):

- main moved once per landed entry, in the order they landed, from the tip the
  merge was built on (``landed_on``) to the merge itself (``landed_as``), and
  never anywhere else;
- the current tip of main is the last of those moves.

:func:`rerun_checks` then runs the configured checks again on every commit main
moved to, so "passed its checks" does not rest on the lander's word.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orch_core.errors import UsageError
from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.merge import queue as q
from testing.audit import history

_SHOW = 20


@dataclass(frozen=True)
class Landed:
    commit: str  # the queue commit recording it
    entry: q.Entry


@dataclass
class QueueAudit:
    commits: int = 0
    locks_taken: int = 0
    landed: list[Landed] = field(default_factory=list)
    main_moves: list[githistory.ReflogEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "commits": self.commits, "locks_taken": self.locks_taken,
                "landed": len(self.landed), "main_moves": len(self.main_moves),
                "violation_count": len(self.problems), "violations": self.problems[:_SHOW]}


def _head(prev: q.QueueState, new: q.QueueState) -> q.Entry | None:
    """The entry a lander taking the lock on ``prev`` must pick (see lander.acquire).

    A lander first recovers entries left ``landing`` by a dead lander: landed if
    main has their merge, else approved again.
    """
    after = {e.id: e for e in new.entries}
    state = prev
    for e in prev.entries:
        if e.state == q.LANDING:
            done = after.get(e.id)
            fixed = q.LANDED if done is not None and done.state == q.LANDED else q.APPROVED
            state = state.with_entry(replace(e, state=fixed))
    return next((e for e in state.ordered() if e.state == q.APPROVED), None)


def verify_queue_history(repo: gitrepo.Repo, base_ref: str, start: str | None,
                         ref: str = q.REF) -> QueueAudit:
    """See the module docstring; ``start``: main's tip before the run (None: all moves)."""
    audit = QueueAudit()
    commits = history(repo, ref)
    audit.commits = len(commits)
    blobs = gitobjects.cat_objects(repo, [f"{c}:{q.FILE}" for c, _p, _t in commits])
    prev = q.QueueState()
    prev_commit: str | None = None
    for commit, parents, _ts in commits:
        short = commit[:12]
        if parents != ([prev_commit] if prev_commit else []):
            audit.problems.append(f"queue {short}: parents {parents} break the single line of "
                                  f"history (expected {prev_commit})")
        prev_commit = commit
        try:
            state = q.parse(blobs.get(f"{commit}:{q.FILE}"))
        except UsageError as err:
            audit.problems.append(f"queue {short}: {err.message}")
            continue
        lease = state.lease
        if lease is not None and (prev.lease is None or prev.lease.token != lease.token):
            audit.locks_taken += 1
            _check_take(audit, short, prev, state, lease)
        before = {e.id: e for e in prev.entries}
        for e in state.entries:
            old = before.get(e.id)
            if e.state != q.LANDED or (old is not None and old.state == q.LANDED):
                continue
            held = prev.lease
            if held is None or held.entry != e.id or not e.landed_as \
                    or held.target != e.landed_as:
                audit.problems.append(
                    f"queue {short}: {e.id} became landed without its lander holding the "
                    f"merge lock with the tested merge recorded (lease {held and held.entry}, "
                    f"target {held and held.target}, landed_as {e.landed_as})")
            audit.landed.append(Landed(commit, e))
        prev = state
    _check_main(audit, repo, base_ref, start)
    return audit


def _check_take(audit: QueueAudit, short: str, prev: q.QueueState, state: q.QueueState,
                lease: q.Lease) -> None:
    want = _head(prev, state)
    taken = next((e for e in state.entries if e.id == lease.entry), None)
    if want is None or want.id != lease.entry:
        audit.problems.append(f"queue {short}: merge lock taken for {lease.entry}, but the "
                              f"head of the queue was {want.id if want else 'nothing'}")
    if taken is None or taken.state != q.LANDING:
        audit.problems.append(f"queue {short}: merge lock taken for {lease.entry}, which is "
                              f"{taken.state if taken else 'missing'}, not landing")
    elif not taken.reviewer or taken.reviewer == taken.author:
        audit.problems.append(f"queue {short}: {taken.id} is landing with reviewer "
                              f"{taken.reviewer!r} (author {taken.author})")


def _check_main(audit: QueueAudit, repo: gitrepo.Repo, base_ref: str, start: str | None) -> None:
    log = githistory.reflog(repo, base_ref)
    if start is not None:
        idx = max((i for i, m in enumerate(log) if m.new == start), default=None)
        if idx is None:
            audit.problems.append(f"{base_ref}: the reflog never shows the start {start[:12]}")
            return
        log = log[idx + 1:]
    moves = [m for m in log if m.old != m.new]
    audit.main_moves = moves
    landed = audit.landed
    for n, m in enumerate(moves):
        if n >= len(landed):
            audit.problems.append(f"{base_ref} moved {m.old[:12]} -> {m.new[:12]} "
                                  f"({m.message}) without a landed queue entry for it")
            continue
        e = landed[n].entry
        if m.new != e.landed_as or m.old != e.landed_on:
            audit.problems.append(
                f"{base_ref} move #{n + 1} {m.old[:12]} -> {m.new[:12]} is not landing "
                f"#{n + 1} ({e.id}: {str(e.landed_on)[:12]} -> {str(e.landed_as)[:12]})")
            continue
        parents = githistory.parents_of(repo, m.new) or []
        if m.old not in parents and not githistory.is_ancestor(repo, m.old, m.new):
            audit.problems.append(f"{base_ref} move #{n + 1} to {m.new[:12]} drops "
                                  f"{m.old[:12]} from history")
        if len(parents) == 2 and parents != [m.old, e.tip]:
            audit.problems.append(f"{base_ref} move #{n + 1}: merge {m.new[:12]} has parents "
                                  f"{[p[:12] for p in parents]}, not main and the reviewed "
                                  f"tip of {e.id}")
    for extra in landed[len(moves):]:
        audit.problems.append(f"{extra.entry.id} is recorded as landed at "
                              f"{str(extra.entry.landed_as)[:12]} but main never moved there")
    tip = gitrefs.read_ref_file(repo.common_dir, base_ref)
    expect = moves[-1].new if moves else start
    if expect is not None and tip != expect:
        audit.problems.append(f"{base_ref} is at {str(tip)[:12]}, not at its last recorded "
                              f"move {expect[:12]}")


def rerun_checks(repo: gitrepo.Repo, commits: Sequence[str], checks: Sequence[str],
                 workdir: Path, timeout: float = 120.0) -> list[str]:
    """Run ``checks`` on each commit in a scratch worktree; one line per failure."""
    if not commits or not checks:
        return []
    failures: list[str] = []
    env = gitrepo.no_git_env()
    gitworktree.land_worktree_add(repo, workdir, commits[0])
    try:
        for commit in commits:
            gitrepo.run(["git", *gitrepo.NO_HOOKS, "checkout", "-q", "-f", "--detach", commit],
                      cwd=workdir, env=env)
            gitrepo.run(["git", "clean", "-ffdxq"], cwd=workdir, env=env)
            for cmd in checks:
                try:
                    proc = subprocess.run(["/bin/sh", "-c", cmd], cwd=workdir, env=env,
                                          stdin=subprocess.DEVNULL, capture_output=True,
                                          timeout=timeout)
                except subprocess.TimeoutExpired:
                    failures.append(f"{commit[:12]}: `{cmd}` timed out")
                    break
                if proc.returncode != 0:
                    failures.append(f"{commit[:12]}: `{cmd}` exits {proc.returncode}: "
                                    + proc.stdout.decode(errors="replace")[-200:].strip())
                    break
    finally:
        gitworktree.land_worktree_remove(repo, workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return failures
