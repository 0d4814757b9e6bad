"""Was a protected branch moved past the gate?

git 2.39 runs no reference-transaction for `git branch -C X main` (a copy) or
`git symbolic-ref refs/heads/main refs/heads/X`, so the gate never sees them.
They are noticed afterwards instead: a protected branch that is a symbolic
ref, or that sits at a commit the merge queue never landed (nor is a
fast-forward of the last landing to its upstream, as `git pull --ff-only`
makes). Doctor reports it, the gate says so at its next call, and the lander
refuses to build on such a tip (README, "Bypass matrix").
"""

from __future__ import annotations

from orch_core.errors import Refused
from orch_core.state.context import Context


def symbolic_target(ctx: Context, ref: str) -> str | None:
    """What a protected ref points at when it is a symbolic ref, else None."""
    try:
        text = (ctx.repo.common_dir / ref).read_text(errors="replace").strip()
    except (OSError, ValueError):
        return None
    return text[len("ref:"):].strip() if text.startswith("ref:") else None


def _upstream_has(ctx: Context, ref: str, tip: str) -> bool:
    from orch_core.git import history as githistory
    from orch_core.git import refs as gitrefs
    from orch_core.git import undo

    upstream = undo.upstream_ref(ctx.repo, ref.removeprefix("refs/heads/"))
    if upstream is None:
        return False
    up = gitrefs.read_ref_file(ctx.repo.common_dir, upstream)
    return up is not None and githistory.is_ancestor(ctx.repo, tip, up)


def unlanded(ctx: Context, ref: str) -> str | None:
    """Why ``ref`` is at a commit the queue never landed, or None when it is not.

    Nothing is said before the queue's first landing (the branch's past is
    what the repository had before orch). Otherwise the tip must be the last
    landing's merge, the tested merge of a lease (a lander between moving the
    branch and recording it), or a fast-forward of the last landing that its
    upstream already has.
    """
    from orch_core.git import history as githistory
    from orch_core.git import refs as gitrefs
    from orch_core.merge import queue

    tip = gitrefs.read_ref_file(ctx.repo.common_dir, ref)
    if tip is None:
        return None
    _qtip, state = queue.read_state(ctx)
    landed = [e for e in state.entries if e.state == queue.LANDED and e.landed_as]
    if not landed:
        return None
    last = max(landed, key=lambda e: (e.updated_at, e.seq))
    if tip == last.landed_as:
        return None
    if state.lease is not None and state.lease.target == tip:
        return None
    if any(e.state == queue.LANDING and e.landing_result == tip for e in state.entries):
        return None
    if (last.landed_as and githistory.is_ancestor(ctx.repo, last.landed_as, tip)
            and _upstream_has(ctx, ref, tip)):
        return None
    return (f"{ref} is at {tip[:12]}, a commit the merge queue never landed (last landing: "
            f"{last.id} as {(last.landed_as or '')[:12]}); it was moved past the gate "
            "(e.g. `git branch -C`, or with the hooks off)")


def findings(ctx: Context, refs: list[str]) -> list[str]:
    """One line per protected ref that was moved past the gate or made symbolic."""
    out: list[str] = []
    for ref in refs:
        target = symbolic_target(ctx, ref)
        if target is not None:
            out.append(f"{ref} is a symbolic ref to {target} (`git symbolic-ref`): whatever "
                       f"moves {target} moves it")
            continue
        why = unlanded(ctx, ref)
        if why:
            out.append(why)
    return out


def untrusted_hint(ctx: Context) -> str:
    """How to make the queue history trusted again: rebuild the database."""
    from orch_core.git import refs as gitrefs

    how = ("run `orch-hooks rebuild --force`: it restores the work state from "
           "refs/orch/work and trusts the queue history it was rebuilt over (the current "
           "state.db is kept aside)")
    if gitrefs.read_ref_file(ctx.repo.common_dir, "refs/orch/work") is None:
        how = ("no work journal (refs/orch/work) exists to rebuild from: `orch-hooks sync` "
               "writes one from this database, then " + how.removeprefix("run "))
    return how + "; check `git log refs/orch/queue` first if you did not lose state.db"


def untrusted_queue(ctx: Context) -> str | None:
    """Why the gate cannot trust the queue's history, or None when it can.

    Each queue commit orch writes is recorded in ``state.db``; a database deleted
    or replaced and not rebuilt knows none of the earlier ones, so the lander's
    lease (and a landed entry, for pre-push) cannot be told from a forged one.
    """
    from orch_core.git import refs as gitrefs
    from orch_core.merge import queue

    tip = gitrefs.read_ref_file(ctx.repo.common_dir, queue.REF)
    if tip is None or queue.written_by_orch(ctx, tip):
        return None
    return (f"the merge queue's history ({queue.REF} at {tip[:12]}) holds commits this "
            "state database has no record of (state.db deleted or replaced, and not "
            "rebuilt; or a queue commit made by hand), so the gate cannot tell the "
            "lander's lease from a forged one and refuses every landing")


def refuse_landing(ctx: Context, ref: str) -> None:
    """The lander's check before it takes the merge lock and again before it moves
    ``ref``: refuse, naming the cause, what the gate would refuse at the move (or
    what would land unreviewed work): ``ref`` moved past the gate or made symbolic,
    or a queue history state.db has no record of."""
    found = findings(ctx, [ref])
    if found:
        raise Refused(
            f"landing refused: {'; '.join(found)}; building on it would land unreviewed "
            "work", code="protected_tampered",
            hint="`orch-hooks doctor` reports it; put the branch back at its last landing "
                 "(an administrator, with the hooks off), then land again")
    why = untrusted_queue(ctx)
    if why:
        raise Refused(f"landing refused: {why}", code="queue_untrusted",
                      hint=untrusted_hint(ctx))
