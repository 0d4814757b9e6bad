"""The SQLite index of checkpoint notes (``refs/notes/orch``), rebuilt lazily.

Notes are the truth; the ``checkpoints`` table is a cache keyed on the notes
ref tip (``meta.notes_tip``). A reader that finds the tip moved (a commit, an
amend, a fetch) re-reads every note through one ``git cat-file --batch``.
A corrupt note line is reported and skipped.
"""

from __future__ import annotations

import json
from typing import Any

from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.state.context import Context
from orch_core.work import stamp

META_TIP = "notes_tip"
META_WARNINGS = "notes_warnings"


def ensure_index(ctx: Context) -> list[str]:
    """Bring the index up to the notes ref tip; returns the corrupt-note warnings."""
    store = ctx.store
    tip = gitrefs.read_ref_file(ctx.repo.common_dir, stamp.NOTES_REF) or "none"
    if store.meta(META_TIP) == tip:
        return list(json.loads(store.meta(META_WARNINGS) or "[]"))
    pairs = gitobjects.notes_list(ctx.repo, "orch")
    objects = gitobjects.cat_objects(ctx.repo, [o for pair in pairs for o in pair])
    rows: list[tuple[str, str | None, str | None, float, str]] = []
    warnings: list[str] = []
    for note_oid, commit in pairs:
        raw = objects.get(note_oid)
        if raw is None:
            warnings.append(f"note on {commit[:12]}: note blob missing")
            continue
        notes, bad = stamp.parse_note(raw.decode(errors="replace"))
        warnings.extend(f"note on {commit[:12]}: {w}" for w in bad)
        if not notes:
            continue
        # Amend and rebase concatenate notes: the last line is the newest.
        data = notes[-1]
        case = data.get("case")
        case_id = case.get("id") if isinstance(case, dict) else None
        sess = data.get("session")
        commit_raw = objects.get(commit)
        ts = gitobjects.commit_time(commit_raw) if commit_raw else 0.0
        rows.append((commit, sess if isinstance(sess, str) else None,
                     case_id if isinstance(case_id, str) else None, ts,
                     json.dumps(data, sort_keys=True)))
    with store.cache_write() as conn:
        conn.execute("DELETE FROM checkpoints")
        conn.executemany("INSERT OR REPLACE INTO checkpoints(commit_oid, session, case_id, ts,"
                         " data) VALUES (?,?,?,?,?)", rows)
        store.set_meta(conn, META_TIP, tip)
        store.set_meta(conn, META_WARNINGS, json.dumps(warnings))
    return warnings


def _row(r: Any) -> dict[str, Any]:
    data = json.loads(r["data"])
    return {"commit": r["commit_oid"], "session": r["session"], "case": r["case_id"],
            "ts": r["ts"], "note": data}


def last_for_session(ctx: Context, session_id: str,
                     case_id: str | None = None) -> dict[str, Any] | None:
    """The newest checkpoint of the session, or of its case (work taken over by attach)."""
    ensure_index(ctx)
    rows = ctx.store.conn.execute(
        "SELECT * FROM checkpoints WHERE session=? OR case_id=? ORDER BY ts DESC, "
        "CAST(json_extract(data, '$.db_version') AS INTEGER) DESC LIMIT 8",
        (session_id, case_id)).fetchall()
    if not rows:
        return None
    # A rebase or amend copies the note to the new commit and keeps the old one,
    # often with the same time: among equals, prefer a commit still on a branch.
    top = [r for r in rows if r["ts"] == rows[0]["ts"]]
    if len(top) > 1:
        for r in top:
            if githistory.on_a_branch(ctx.repo, r["commit_oid"]):
                return _row(r)
    return _row(rows[0])


def for_commit(ctx: Context, commit: str) -> dict[str, Any] | None:
    ensure_index(ctx)
    r = ctx.store.conn.execute("SELECT * FROM checkpoints WHERE commit_oid=?",
                               (commit,)).fetchone()
    return None if r is None else _row(r)


def max_db_version(ctx: Context) -> int:
    ensure_index(ctx)
    r = ctx.store.conn.execute(
        "SELECT MAX(CAST(json_extract(data, '$.db_version') AS INTEGER)) FROM checkpoints"
    ).fetchone()
    return int(r[0] or 0)
