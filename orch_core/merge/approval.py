"""Roles and risk-based approvals, from the policy committed on the protected branch.

``[roles]`` names the owners who may review merges, refresh the doc mirror and
request merges; ``[[approval]]`` tables make changes to risky paths wait for
more approvals, from distinct owners none of whom is the author's owner. The
policy is never read from a work tree (docs/ARCHITECTURE.md, "Roles and
approvals").
"""

from __future__ import annotations

import fnmatch
from typing import Any, Protocol

from orch_core.errors import Refused
from orch_core.git import history as githistory
from orch_core.state import config
from orch_core.state.context import Context

REVIEWER, MIRROR, WORKER = "merge-reviewer", "doc-mirror-manager", "main-worker"
_POLICY = "approval.policy"


class Actor(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def owner(self) -> str: ...


def team_policy(ctx: Context) -> config.Config:
    """The policy committed on the branch the queue lands into (kept by this Context
    while that branch's tip stays the same)."""
    from orch_core.merge import landpolicy

    hit = ctx.cache.get(_POLICY)
    if hit is not None and hit[0] == _policy_key(ctx, hit[1]):
        pol: config.Config = hit[2]
        return pol
    try:
        base, pol = landpolicy.landing_base(ctx)
    except Refused:  # no protected branch yet: what its default name holds, else defaults
        base = landpolicy.DEFAULT_BASE
        pol = landpolicy.policy_on(ctx.repo, base)
    ctx.cache[_POLICY] = (_policy_key(ctx, base), base, pol)
    return pol


def _policy_key(ctx: Context, base: str) -> str | None:
    from orch_core.git import refs as gitrefs

    return gitrefs.read_ref_file(ctx.repo.common_dir, f"refs/heads/{base}")


def holders(ctx: Context, role: str) -> list[str]:
    return team_policy(ctx).role(role)


def require_role(ctx: Context, role: str, who: Actor, what: str) -> None:
    """Refuse ``what`` unless ``who``'s owner holds ``role`` (an empty role: anyone)."""
    names = holders(ctx, role)
    if names and who.owner not in names:
        raise Refused(
            f"{what} needs the role {role}, held by {', '.join(names)}; session {who.id} "
            f"belongs to {who.owner}", code="role_required",
            hint=f"ask {names[0]} to do it; roles are set in [roles] of the {config.FILENAME} "
                 "committed on the protected branch",
            details={"role": role, "holders": names, "owner": who.owner})


def matches(pattern: str, path: str) -> bool:
    """A prefix (``migrations/``), a glob (``infra/*.tf``) or a file path."""
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return path == pattern or fnmatch.fnmatchcase(path, pattern) \
        or path.startswith(pattern + "/")


def changed_paths(ctx: Context, base: str, tip: str) -> set[str]:
    merge_base = githistory.merge_base(ctx.repo, base, tip)
    return set(githistory.changed_between(ctx.repo, merge_base or base, tip) or [])


def approvers(entry_owner: str, approvals: list[dict[str, Any]],
              role_holders: list[str] | None) -> list[str]:
    """Distinct approving owners that count: never the author's owner; holders of the
    rule's role when it names one."""
    out: list[str] = []
    for a in approvals:
        owner = str(a.get("owner", ""))
        if not owner or owner == entry_owner or owner in out:
            continue
        if role_holders and owner not in role_holders:
            continue
        out.append(owner)
    return out


def needed(ctx: Context, entry: Any, base_tip: str) -> list[dict[str, Any]]:
    """What ``entry`` still needs before it may land: one item per [[approval]] rule
    its changed paths match and whose approvals it does not have yet."""
    rules = team_policy(ctx).approval_rules
    if not rules:
        return []
    paths = sorted(changed_paths(ctx, base_tip, entry.tip))
    out: list[dict[str, Any]] = []
    for rule in rules:
        hit = [p for p in paths if any(matches(pat, p) for pat in rule.paths)]
        if not hit:
            continue
        role_holders = holders(ctx, rule.role) if rule.role else None
        have = approvers(entry.owner, entry.approvals, role_holders)
        if len(have) >= rule.approvals:
            continue
        out.append({"paths": list(rule.paths), "matched": hit[:5],
                    "approvals": rule.approvals, "have": have,
                    "missing": rule.approvals - len(have), "role": rule.role,
                    "holders": role_holders or []})
    return out


def needed_text(need: list[dict[str, Any]]) -> str:
    parts = []
    for n in need:
        who = (f" holding {n['role']} ({', '.join(n['holders'])})" if n["role"] and n["holders"]
               else "")
        parts.append(f"{n['missing']} more approval(s) from distinct owners other than the "
                     f"author{who} for {', '.join(n['matched'][:3])} (rule {n['paths']}: "
                     f"{n['approvals']} needed, approved by {', '.join(n['have']) or 'nobody'})")
    return "; ".join(parts)
