"""What a landing obeys, none of it read from the lander's work tree.

The branch a landing moves is a protected branch from the list built into the
shims at install; the policy is the one committed on that branch (its checks,
rules, strategy); the lock rule is applied on behalf of the entry's author; the
merged policy must parse before the branch moves. A session can change its
work tree's ``.orch.toml`` without review, so nothing here reads it
(docs/ARCHITECTURE.md, "How main moves").
"""

from __future__ import annotations

import shlex
from pathlib import Path

from orch_core.errors import Refused, UsageError
from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.git import undo as gitundo
from orch_core.locks import branch_rule
from orch_core.state import config
from orch_core.state.context import Context

SHIM_MARKER = "# orch-hooks shim"
# The line of the rendered reference-transaction shim that lists the protected refs:
#     refs/heads/main|'refs/heads/odd name') hit=1; orch_protecting=1 ;;
CASE_TAIL = ") hit=1;"
NONE_PROTECTED = "refs/orch/never-protected"
DEFAULT_BASE = str(config.SCHEMA["merge"]["base"][1])


def installed_protected(repo: gitrepo.Repo) -> list[str] | None:
    """Branch names the installed reference-transaction shim protects (built at install
    from the policy then); None when no such shim is found."""
    hdir = gitrepo.hooks_dir(repo)
    try:
        files = sorted(p for p in hdir.iterdir() if p.is_file())
    except OSError:
        return None
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if SHIM_MARKER not in text[:400] or "\nORCH_HOOK=reference-transaction\n" not in text:
            continue
        for line in text.splitlines():
            pattern, tail, _rest = line.strip().partition(CASE_TAIL)
            if tail and pattern and not pattern.startswith("refs/heads/*"):
                return _case_branches(pattern)
    return None


def _case_branches(pattern: str) -> list[str]:
    lex = shlex.shlex(pattern, posix=True, punctuation_chars="|")
    lex.whitespace_split = True
    refs = [t for t in lex if t != "|"]
    return [r[len("refs/heads/"):] for r in refs
            if r.startswith("refs/heads/") and r != NONE_PROTECTED]


def policy_on(repo: gitrepo.Repo, branch: str) -> config.Config:
    """The policy committed on ``branch``.

    Without a committed ``.orch.toml`` the defaults apply, with the branch itself
    as base and protected (no default is weaker than what the file would say:
    the lock rule and the merged-policy check apply whatever the file holds). A
    committed file that leaves ``base`` out lands into the branch it is on.
    """
    _exists, raw = gitobjects.file_at(repo, f"refs/heads/{branch}", config.FILENAME)
    if raw is None:
        return config.Config({"merge": {"base": branch, "protected": [branch]}}, None)
    pol = _parse(raw, f"refs/heads/{branch}")
    if "base" not in pol.values.get("merge", {}):
        values = {k: dict(v) for k, v in pol.values.items()}
        values.setdefault("merge", {})["base"] = branch
        pol = config.Config(values, pol.source)
    return pol


def _parse(raw: bytes, rev: str) -> config.Config:
    where = Path(f"{rev}:{config.FILENAME}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{where}: not UTF-8 text", code="bad_config") from e
    return config.parse(text, where)


def landing_base(ctx: Context) -> tuple[str, config.Config]:
    """The protected branch this repository's queue lands into, and its committed policy.

    The first branch of the install-time list that exists and whose committed
    policy names it as base; without installed shims, the default base.
    """
    names = installed_protected(ctx.repo)
    candidates = names if names is not None else [DEFAULT_BASE]
    for name in candidates:
        if gitrepo.rev_parse(ctx.repo, f"refs/heads/{name}") is None:
            continue
        pol = policy_on(ctx.repo, name)
        if pol.base_branch == name:
            return name, pol
    shown = ", ".join(candidates) or "none"
    raise Refused(f"no protected branch to land into: the branches protected at install "
                  f"({shown}) do not exist or their committed {config.FILENAME} names "
                  "another base", code="no_base",
                  hint="`orch-hooks install` again after committing the policy; "
                       "`orch-hooks doctor` shows the installed hooks")


def merged_policy_error(ctx: Context, base: str, result: str) -> str | None:
    """Why the policy the merge ``result`` would put on ``base`` must not get there.

    A malformed policy on the protected branch would stop every later landing,
    the one that fixes it included; one naming another base would send the
    queue elsewhere.
    """
    _exists, raw = gitobjects.file_at(ctx.repo, result, config.FILENAME)
    if raw is None:
        return None
    try:
        pol = _parse(raw, result[:12])
    except UsageError as e:
        return (f"the merged {config.FILENAME} is malformed and would stop every later "
                f"landing: {e.message}")
    named = pol.values.get("merge", {}).get("base")
    if named is not None and named != base:
        return (f"the merged {config.FILENAME} sets [merge] base = {named!r}; the queue "
                f"lands into {base!r} (change the base by installing again, not by landing)")
    return None


def lock_refusal(ctx: Context, author: str, tip: str, branch_tip: str) -> str | None:
    """The lock rule for a landing: the branch's own change against ``tip`` must not
    touch a path locked by a live session other than the entry's ``author``."""
    found = branch_rule.update_conflicts(ctx, author, tip, tip, branch_tip)
    if not found:
        return None
    held = []
    for path, lks in sorted(found.items()):
        for lk in lks:
            held.append(f"{path} (locked by session {lk.session}, owner {lk.owner}, "
                        f"lock {lk.id} on {lk.path})")
    return (f"it changes {len(found)} path(s) locked by another session: "
            + "; ".join(held[:5]) + (" ..." if len(held) > 5 else "")
            + "; wait for the release, ask the holder, or leave those paths out")


def published(repo: gitrepo.Repo, base: str, tip: str, branch_tip: str) -> bool:
    """Does the merge strategy fast-forward ``base`` from ``tip`` to ``branch_tip``?

    When the branch descends from ``tip`` and is already on the base's upstream
    (the team's published history), yes: a merge commit over it would fork the
    local base from its upstream. Unpublished work keeps its merge commit (who
    requested, reviewed and landed it), as `git merge --no-ff` and a forge's
    merge button do; the ff strategy always fast-forwards.
    """
    upstream = gitundo.upstream_ref(repo, base)
    if upstream is None or not githistory.is_ancestor(repo, tip, branch_tip):
        return False
    return githistory.is_ancestor(repo, branch_tip, upstream)
