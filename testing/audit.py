"""Replay the history of ``refs/orch/locks`` and prove no state held conflicting leases.

Every lock-table change is one commit on the ref, so the history is the audit log.
:func:`verify_lock_history` reads every commit (one ``git log --raw``, which names
the table blobs each commit changed, and one ``git cat-file --batch`` for those
blobs), rebuilds the table at each (one blob per session, or the whole-table
``locks.jsonl`` of the first layout; see :mod:`orch_core.locks.table`), and checks,
using the commit's own timestamp as "now" for liveness:

- the history is one line (each commit's parent is the one before it): a CAS
  writer never forks it;
- no state holds two live leases that conflict under the conflict rule
  (docs/ARCHITECTURE.md, "Lock rules")
  (checked pairwise with :func:`orch_core.locks.table.conflicts`, independently of
  :class:`~orch_core.locks.table.LockIndex`, which the writers use to decide);
- every grant a client reported (lock id, path, mode, session) appears in some
  state.

Used by the race test, the lock benchmark and stress runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.locks.table import Lock, conflicts, is_table_entry, parse_tree
from orch_core.paths import ancestors, key

REF = "refs/orch/locks"
# Above this many live leases in one state the pairwise scan walks ancestors instead.
PAIRWISE_LIMIT = 400


@dataclass(frozen=True)
class Grant:
    """A lock a client was told it holds."""

    lock_id: str
    path: str
    mode: str
    session: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grant:
        return cls(str(data["lock_id"]), str(data["path"]), str(data["mode"]),
                   str(data["session"]))


@dataclass(frozen=True)
class Violation:
    commit: str
    time: int
    a: Lock
    b: Lock

    def describe(self) -> str:
        return (f"{self.commit[:12]} @{self.time}: {self.a.id} {self.a.path} [{self.a.mode}] "
                f"by {self.a.session} vs {self.b.id} {self.b.path} [{self.b.mode}] "
                f"by {self.b.session}")


@dataclass
class LockAudit:
    ref: str
    commits: int = 0
    max_live: int = 0
    lock_ids: int = 0
    violations: list[Violation] = field(default_factory=list)
    missing_grants: list[Grant] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.violations or self.missing_grants or self.problems)

    def summary(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "ok": self.ok, "commits": self.commits,
            "lock_ids": self.lock_ids, "max_live": self.max_live,
            "violations": [v.describe() for v in self.violations[:20]],
            "violation_count": len(self.violations),
            "missing_grants": [g.lock_id for g in self.missing_grants[:20]],
            "missing_grant_count": len(self.missing_grants),
            "problems": self.problems[:20],
        }


def conflicting_pairs(locks: list[Lock], now: float,
                      ignore_case: bool = False) -> list[tuple[Lock, Lock]]:
    """Every pair of leases live at ``now`` that the lock rule says may not coexist."""
    live = [lk for lk in locks if lk.live(now)]
    out: list[tuple[Lock, Lock]] = []
    if len(live) <= PAIRWISE_LIMIT:
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                if conflicts(a.path, a.mode, a.session, b, ignore_case):
                    out.append((a, b))
        return out
    # Two paths overlap only if their keys are equal or one is an ancestor of the
    # other, so it is enough to look at each lock's own key and its ancestors.
    by_key: dict[str, list[Lock]] = {}
    for lk in live:
        by_key.setdefault(key(lk.path, ignore_case), []).append(lk)
    for k, group in by_key.items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if conflicts(a.path, a.mode, a.session, b, ignore_case):
                    out.append((a, b))
        for anc in ancestors(k):
            for a in by_key.get(anc, ()):
                for b in group:
                    if conflicts(a.path, a.mode, a.session, b, ignore_case):
                        out.append((a, b))
    return out


def history(repo: gitrepo.Repo, ref: str = REF) -> list[tuple[str, list[str], int]]:
    """(commit, parents, committer time) of every commit of ``ref``, oldest first."""
    proc = repo.run("log", "--reverse", "--format=%H %ct %P", ref, "--", check=False)
    if proc.returncode != 0:
        return []
    out: list[tuple[str, list[str], int]] = []
    for line in proc.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[2:], int(parts[1])))
    return out


def table_history(repo: gitrepo.Repo, ref: str = REF,
                  ) -> list[tuple[str, list[str], int, dict[str, str]]]:
    """(commit, parents, committer time, table entry -> blob oid) of every commit of
    ``ref``, oldest first, from one `git log --raw` (each commit's changes applied
    to the entries of the one before it: the history of a CAS ref is one line)."""
    proc = repo.run("log", "--reverse", "--root", "--no-renames", "--raw", "--no-abbrev",
                    "-z", "--format=C %H %ct %P", ref, "--", check=False)
    if proc.returncode != 0:
        return []
    out: list[tuple[str, list[str], int, dict[str, str]]] = []
    entries: dict[str, str] = {}
    tokens = iter(proc.stdout.decode(errors="surrogateescape").split("\0"))
    for tok in tokens:
        tok = tok.lstrip("\n")
        if tok.startswith("C "):
            parts = tok.split()
            entries = dict(entries)
            out.append((parts[1], parts[3:], int(parts[2]), entries))
        elif tok.startswith(":") and out:
            fields = tok.split()
            name = next(tokens, "")
            if not is_table_entry(name) or len(fields) < 5:
                continue
            if fields[4].startswith("D"):
                entries.pop(name, None)
            else:
                entries[name] = fields[3]
    return out


def verify_lock_history(repo: gitrepo.Repo, ref: str = REF,
                        grants: Iterable[Grant] = (),
                        ignore_case: bool = False) -> LockAudit:
    """Replay ``ref`` commit by commit; see the module docstring for what is checked."""
    audit = LockAudit(ref)
    commits = table_history(repo, ref)
    audit.commits = len(commits)
    oids = sorted({oid for *_c, entries in commits for oid in entries.values()})
    blobs = gitobjects.cat_objects(repo, oids)
    # A blob usually lives on across many commits: parse each (name, blob) once.
    parsed: dict[tuple[str, str], tuple[list[Lock], list[str]]] = {}
    seen: dict[str, set[tuple[str, str, str]]] = {}
    prev: str | None = None
    for commit, parents, ts, entries in commits:
        if parents != ([prev] if prev else []):
            audit.problems.append(f"{commit[:12]}: parents {parents} break the single line "
                                  f"of history (expected {prev})")
        prev = commit
        locks: list[Lock] = []
        warnings: list[str] = []
        for name, oid in sorted(entries.items()):
            got = parsed.get((name, oid))
            if got is None:
                blob = blobs.get(oid)
                got = parse_tree({name: blob}) if blob is not None else \
                    ([], [f"{name}: blob {oid[:12]} is missing"])
                parsed[(name, oid)] = got
            locks += got[0]
            warnings += got[1]
        audit.problems.extend(f"{commit[:12]}: {w}" for w in warnings)
        ids = [lk.id for lk in locks]
        if len(ids) != len(set(ids)):
            audit.problems.append(f"{commit[:12]}: a lock id appears twice")
        audit.max_live = max(audit.max_live, sum(1 for lk in locks if lk.live(ts)))
        for lk in locks:
            seen.setdefault(lk.id, set()).add((lk.path, lk.mode, lk.session))
        for a, b in conflicting_pairs(locks, ts, ignore_case):
            audit.violations.append(Violation(commit, ts, a, b))
    audit.lock_ids = len(seen)
    for g in grants:
        if (g.path, g.mode, g.session) not in seen.get(g.lock_id, set()):
            audit.missing_grants.append(g)
    return audit
