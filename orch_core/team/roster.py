"""Who can be addressed: session ids, owners and roles, and the reader of a mailbox.

A role is what `spawn --role R` recorded for a session (the ``team`` table), or
a ``role`` column of the sessions table where the schema has one.
"""

from __future__ import annotations

import sqlite3

from orch_core.errors import UsageError
from orch_core.state.context import Context

SESSION, OWNER, ROLE = "session", "owner", "role"


def _session_roles(ctx: Context) -> list[tuple[str, str]]:
    """(session, role) pairs from the sessions table, when it has a role column."""
    try:
        rows = ctx.store.conn.execute(
            "SELECT id, role FROM sessions WHERE role IS NOT NULL AND role != ''").fetchall()
    except sqlite3.OperationalError:  # no such column
        return []
    return [(str(r[0]), str(r[1])) for r in rows]


def roles_by_session(ctx: Context) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = ctx.store.conn.execute(
        "SELECT session, role FROM team WHERE role IS NOT NULL AND role != ''").fetchall()
    for sid, role in [(str(r[0]), str(r[1])) for r in rows] + _session_roles(ctx):
        out.setdefault(sid, set()).add(role)
    return out


def roles_of(ctx: Context, session_id: str) -> set[str]:
    return roles_by_session(ctx).get(session_id, set())


def resolve(ctx: Context, who: str) -> tuple[str, str]:
    """(kind, name) of a recipient: a session id, else an owner, else a role.

    Unknown names are a usage error that lists what can be addressed.
    """
    name = who.strip() if isinstance(who, str) else ""
    if not name:
        raise UsageError("no recipient given", code="bad_recipient",
                         hint="pass --to OWNER, SESSION-ID or ROLE")
    conn = ctx.store.conn
    if conn.execute("SELECT 1 FROM sessions WHERE id=?", (name,)).fetchone():
        return SESSION, name
    if conn.execute("SELECT 1 FROM sessions WHERE owner=?", (name,)).fetchone():
        return OWNER, name
    roles = {r for rs in roles_by_session(ctx).values() for r in rs}
    if name in roles:
        return ROLE, name
    owners = sorted({str(r[0]) for r in conn.execute("SELECT owner FROM sessions")})
    known = ", ".join(owners[:12]) or "none yet"
    role_txt = f"; roles: {', '.join(sorted(roles))}" if roles else ""
    raise UsageError(
        f"unknown recipient {name!r}: no session, owner or role has that name",
        code="unknown_recipient",
        hint=f"owners: {known}{role_txt}; `orch-hooks session list` shows sessions")
