"""Audit the events table and the checkpoint notes after a run.

:func:`verify_events` proves ``db_version`` only ever grew by one per event: the
events, in insertion order, carry 1, 2, 3, ... up to ``meta.db_version`` with no
gap or repeat; versions a client observed over time never went down and never
ran ahead of the table. It also ties the coordination refs to the journal of
events: every commit of ``refs/orch/locks`` and ``refs/orch/queue`` was made by
a writer that recorded exactly one event naming it (``data.tip``).

:func:`verify_notes` proves every commit a client reported has its checkpoint
note in ``refs/notes/orch``, readable, and stamped with the session that made it.

Used by the stress run (benchmarks/stress.py); see also testing.audit for the
lock-table replay and testing.audit_queue for the merge queue and main.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.work.stamp import NOTES_REF, parse_note

TIP_REFS = ("refs/orch/locks", "refs/orch/queue")
_SHOW = 20


@dataclass
class EventAudit:
    events: int = 0
    db_version: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "db_version": self.db_version,
                "violation_count": len(self.problems), "violations": self.problems[:_SHOW]}


def read_events(db: Path) -> tuple[int, list[tuple[int, int, str, str]]]:
    """(meta db_version, [(seq, db_version, kind, data)...] in insertion order).

    Opened read-only, straight from the file: the audit must not go through the
    code it audits.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        meta = conn.execute("SELECT value FROM meta WHERE key='db_version'").fetchone()
        rows = conn.execute("SELECT seq, db_version, kind, data FROM events "
                            "ORDER BY seq").fetchall()
    finally:
        conn.close()
    return int(meta[0]) if meta else 0, [(int(a), int(b), str(c), str(d)) for a, b, c, d in rows]


def verify_events(db: Path, observed: Iterable[Sequence[int]] = (),
                  ref_commits: Mapping[str, Sequence[str]] | None = None) -> EventAudit:
    """See the module docstring. ``observed``: per client, db_versions in the order seen;
    ``ref_commits``: ref -> its commits (omit to skip the ref/event tie)."""
    audit = EventAudit()
    meta, rows = read_events(db)
    audit.events = len(rows)
    audit.db_version = meta
    expected = 1
    for seq, version, kind, _data in rows:
        if version != expected:
            what = "gap" if version > expected else "repeat or step back"
            audit.problems.append(f"event seq {seq} ({kind}) has db_version {version}, "
                                  f"expected {expected} ({what})")
        expected = version + 1
    if rows and rows[-1][1] != meta:
        audit.problems.append(f"meta db_version {meta} but the last event has {rows[-1][1]}")
    if not rows and meta:
        audit.problems.append(f"meta db_version {meta} but there are no events")
    for n, seen in enumerate(observed):
        for a, b in itertools.pairwise(seen):
            if b < a:
                audit.problems.append(f"client {n} saw db_version go down: {a} then {b}")
                break
        if seen and max(seen) > meta:
            audit.problems.append(f"client {n} saw db_version {max(seen)} > final {meta}")
    if ref_commits is not None:
        audit.problems += _tie_refs(rows, ref_commits)
    return audit


def _tie_refs(rows: list[tuple[int, int, str, str]],
              ref_commits: Mapping[str, Sequence[str]]) -> list[str]:
    tips: Counter[str] = Counter()
    for _seq, _version, kind, data in rows:
        try:
            tip = json.loads(data).get("tip")
        except (ValueError, AttributeError):
            continue
        if isinstance(tip, str) and kind.split(".")[0] in ("lock", "merge"):
            tips[tip] += 1
    problems: list[str] = []
    known: set[str] = set()
    for ref, commits in ref_commits.items():
        known.update(commits)
        for c in commits:
            if tips[c] != 1:
                problems.append(f"{ref} commit {c[:12]} is named by {tips[c]} events "
                                "(expected exactly 1)")
    for tip in tips:
        if tip not in known:
            problems.append(f"an event names {tip[:12]}, which is no commit of "
                            f"{', '.join(ref_commits)}")
    return problems


@dataclass
class NoteAudit:
    commits: int = 0
    noted: int = 0
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.problems)

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "commits": self.commits, "noted": self.noted,
                "missing_count": len(self.missing), "missing": self.missing[:_SHOW],
                "violation_count": len(self.missing) + len(self.problems),
                "problems": self.problems[:_SHOW]}


def verify_notes(repo: gitrepo.Repo, commits: Mapping[str, str | None],
                 notes_ref: str = NOTES_REF) -> NoteAudit:
    """``commits``: commit oid -> the session that made it (None: do not check who)."""
    audit = NoteAudit(commits=len(commits))
    blob_of: dict[str, str] = {str(c): str(b) for b, c in gitobjects.notes_list(repo, notes_ref)}
    wanted = [c for c in commits if c in blob_of]
    blobs = gitobjects.cat_objects(repo, [blob_of[c] for c in wanted])
    present = gitobjects.cat_objects(repo, [f"{c}^{{commit}}" for c in commits])
    for commit, session in commits.items():
        if present.get(f"{commit}^{{commit}}") is None:
            audit.problems.append(f"{commit[:12]}: reported as committed but not in the "
                                  "repository")
            continue
        if commit not in blob_of:
            audit.missing.append(commit)
            continue
        raw = blobs.get(blob_of[commit])
        objs, warnings = parse_note((raw or b"").decode(errors="replace"))
        if not objs:
            audit.problems.append(f"{commit[:12]}: note has no readable line "
                                  f"({'; '.join(warnings) or 'empty'})")
            continue
        audit.noted += 1
        if session is not None and not any(o.get("session") == session for o in objs):
            seen = sorted({str(o.get("session")) for o in objs})
            audit.problems.append(f"{commit[:12]}: note names session {', '.join(seen)}, "
                                  f"not {session} who committed it")
    return audit
