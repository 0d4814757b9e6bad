"""Who can be addressed: session ids, owners and roles, and the reader of a mailbox.

A session has the role `spawn --role R` recorded for it (the ``team`` table), and
every role of ``[roles]`` in the policy committed on the protected branch that
names its owner (merge/approval.py).
"""

from __future__ import annotations

from orch_core.errors import OrchError, UsageError
from orch_core.state import config
from orch_core.state.context import Context

SESSION, OWNER, ROLE = "session", "owner", "role"


def policy_roles(ctx: Context) -> dict[str, list[str]]:
    """Role -> owners, for the roles the committed policy gives to someone."""
    from orch_core.merge import approval

    try:
        return {role: names for role in config.SCHEMA["roles"]
                if (names := approval.holders(ctx, role))}
    except OrchError:  # no protected branch or policy to read: no policy roles
        return {}


def roles_by_session(ctx: Context) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = ctx.store.conn.execute(
        "SELECT session, role FROM team WHERE role IS NOT NULL AND role != ''").fetchall()
    for sid, role in [(str(r[0]), str(r[1])) for r in rows]:
        out.setdefault(sid, set()).add(role)
    held = policy_roles(ctx)
    if held:
        for sid, owner in ctx.store.conn.execute("SELECT id, owner FROM sessions"):
            mine = {role for role, names in held.items() if owner in names}
            if mine:
                out.setdefault(str(sid), set()).update(mine)
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
