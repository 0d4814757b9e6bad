"""Conflict prediction (in memory) and the queue operations that use it.

Prediction merges each active entry with pygit2, without touching a working
tree: against main, and against every approved entry ahead of it. A cheap
path-overlap test skips merges that cannot conflict. An entry that no longer
merges into main becomes ``conflicted`` with the files listed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from orch_core.errors import NotFound, Refused, UsageError
from orch_core.git import history as githistory
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.git import worktree as gitworktree
from orch_core.merge import approval
from orch_core.merge import queue as q
from orch_core.state.context import Context
from orch_core.work.sessions import Session


def base_ref(ctx: Context) -> str:
    return f"refs/heads/{ctx.config.base_branch}"


def main_tip(ctx: Context) -> gitrepo.Oid:
    tip = gitrepo.rev_parse(ctx.repo, base_ref(ctx))
    if tip is None:
        raise UsageError(f"the base branch {ctx.config.base_branch!r} does not exist",
                         code="no_base",
                         hint="create it with a first commit, or set [merge] base in .orch.toml")
    return tip


def _overlap(a: set[str], b: set[str]) -> bool:
    """Same path, or one path a directory of the other (a file/directory clash)."""
    if a & b:
        return True
    dirs_a = {p[: i] for p in a for i in range(len(p)) if p[i] == "/"}
    dirs_b = {p[: i] for p in b for i in range(len(p)) if p[i] == "/"}
    return bool(dirs_a & b or dirs_b & a)


def predict(ctx: Context, state: q.QueueState, tip: str) -> dict[str, list[dict[str, Any]]]:
    """Entry id -> predicted conflicts: ``{"with": "main" | entry id, "files": [...]}``."""
    pg = ctx.pg
    need_tips(ctx, [e.tip for e in state.ordered()])
    base_changes: dict[str, set[str]] = {}
    changed: dict[str, set[str]] = {}
    ahead: list[q.Entry] = []
    out: dict[str, list[dict[str, Any]]] = {}
    for e in state.ordered():
        if e.tip not in pg:  # remote mode: a branch this clone has not fetched
            continue
        found: list[dict[str, Any]] = []
        base = githistory.merge_base(ctx.repo, tip, e.tip)
        mine = githistory.changed_paths(pg, base, e.tip)
        key = base or "none"
        if key not in base_changes:
            base_changes[key] = githistory.changed_paths(pg, base, tip)
        if _overlap(mine, base_changes[key]):
            files, _index = gitobjects.merge_in_memory(pg, tip, e.tip)
            if files:
                found.append({"with": "main", "branch": ctx.config.base_branch,
                              "files": files})
        for a in ahead:
            both = changed[a.id]
            if not _overlap(mine, both):
                continue
            files, _index = gitobjects.merge_in_memory(pg, a.tip, e.tip)
            # Keep files both touched: the rest differ only by the main drift between bases.
            files = [f for f in files if f in mine and f in both]
            if files:
                found.append({"with": a.id, "branch": a.branch, "files": files})
        changed[e.id] = mine
        if e.state in (q.APPROVED, q.LANDING):
            ahead.append(e)
        out[e.id] = found
    return out


def need_tips(ctx: Context, tips: list[str]) -> None:
    """Every entry's tip is in this clone: in remote mode fetched from the remote when
    missing; else a refusal naming `git fetch` (never a crash)."""
    missing = githistory.missing_commits(ctx.pg, tips)
    if not missing:
        return
    from orch_core.git import remote as gitremote
    from orch_core.remote import mode

    name = mode.remote_name(ctx)
    if name is not None:
        gitremote.fetch_branches(ctx.repo, name, ctx.config.base_branch)
        missing = githistory.missing_commits(ctx.pg, missing)
    if missing:
        raise Refused(f"the queued tip {missing[0][:12]} is not in this clone: its branch "
                      "was never fetched here", code="tip_missing",
                      hint=f"`git fetch {name or 'REMOTE'}` (the remote the branch was "
                           "pushed to), then retry")


def apply_predictions(ctx: Context, state: q.QueueState, tip: str,
                      now: float) -> q.QueueState:
    """Record fresh predictions; entries that no longer merge into main become conflicted."""
    preds = predict(ctx, state, tip)
    for e in state.ordered():
        found = preds.get(e.id, [])
        with_main = [f for c in found if c["with"] == "main" for f in c["files"]]
        new = replace(e, conflicts=found)
        if with_main and e.state in (q.QUEUED, q.APPROVED):
            new = replace(new, state=q.CONFLICTED, updated_at=now,
                          reason=f"no longer merges into {ctx.config.base_branch}: "
                                 f"conflicts in {', '.join(with_main)}")
        elif not with_main and e.state == q.CONFLICTED:
            new = replace(new, state=q.QUEUED, reviewer=None, updated_at=now, reason=None)
        if new != e:
            state = state.with_entry(new)
    return replace(state, predicted_at=tip)


def predict_again(ctx: Context, state: q.QueueState, tip: str, now: float) -> q.QueueState:
    """apply_predictions after a change of the queue; an entry whose commits this clone
    has not fetched (remote mode) leaves the predictions as they were."""
    try:
        return apply_predictions(ctx, state, tip, now)
    except (KeyError, ValueError):
        return state


def refresh(ctx: Context, actor: str) -> q.QueueState:
    """Re-run prediction if main moved since the last one (a read that heals the cache)."""
    _ref_tip, state = q.load(ctx)
    tip = gitrepo.rev_parse(ctx.repo, base_ref(ctx))
    if tip is None or state.predicted_at == tip or not state.ordered():
        return state

    def fn(st: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        if st.predicted_at == tip:
            return st, "", {}
        return apply_predictions(ctx, st, tip, now), f"predict conflicts at {tip[:12]}", {}

    q.mutate(ctx, actor, "merge.predict", fn, predicts=True)
    return q.load(ctx)[1]


# --- queue operations --------------------------------------------------------------


def _carried(ctx: Context, base: str, tip: str) -> tuple[list[str], list[str]]:
    """Cases and tasks named by the checkpoint notes of the commits in base..tip."""
    from orch_core.work import stamp

    cases: list[str] = []
    tasks: list[str] = []
    for _oid, _subject, note in githistory.notes_in_range(ctx.repo, base, tip):
        objs, _warnings = stamp.parse_note(note)
        for obj in objs:
            case = obj.get("case")
            if isinstance(case, dict):
                cid = case.get("id")
                if isinstance(cid, str) and cid not in cases:
                    cases.append(cid)
                for level, text in case.items():
                    if level in ("id", "title") or not isinstance(text, str):
                        continue
                    tid = text.split(" ", 1)[0]
                    if tid and tid not in tasks:
                        tasks.append(tid)
            elif isinstance(case, str) and case not in cases:
                cases.append(case)
            task = obj.get("task")
            if isinstance(task, str) and task not in tasks:
                tasks.append(task)
    return cases, tasks


def branch_tip(ctx: Context, branch: str) -> gitrepo.Oid:
    if not branch or branch.startswith("-") or ".." in branch or " " in branch:
        raise UsageError(f"bad branch name {branch!r}", code="bad_branch",
                         hint="name a local branch, e.g. `orch-hooks merge request my-feature`")
    tip = gitrepo.rev_parse(ctx.repo, f"refs/heads/{branch}")
    if tip is None:
        raise NotFound(f"no local branch {branch!r}", code="unknown_branch",
                       hint="`git branch` lists the local branches")
    return tip


def request(ctx: Context, sess: Session, branch: str | None,
            priority: int | None) -> dict[str, Any]:
    # What the user stands on: the branch checked out in the session's worktree now
    # (not the one recorded when the session opened), else this worktree's.
    here = gitworktree.worktree_branch(sess.worktree) if sess.worktree else None
    name = branch or here or gitrepo.head_branch(ctx.repo) or sess.branch
    if not name:
        raise UsageError("no branch given and HEAD is detached", code="bad_branch",
                         hint="name the branch: `orch-hooks merge request BRANCH`")
    if name.startswith("refs/heads/"):
        name = name[len("refs/heads/"):]
    if f"refs/heads/{name}" in ctx.config.protected_refs or name == ctx.config.base_branch:
        raise UsageError(f"{name} is a protected branch; queue a feature branch instead",
                         code="bad_branch",
                         hint="commit on a branch of your own (`orch-hooks session open "
                              "--worktree` makes one), then `orch-hooks merge request BRANCH`")
    approval.require_role(ctx, approval.WORKER, sess, f"requesting a merge of {name}")
    tip = branch_tip(ctx, name)
    base_tip = main_tip(ctx)
    if githistory.is_ancestor(ctx.repo, tip, base_tip):
        raise Refused(f"{name} has nothing to land: its tip {tip[:12]} is already on "
                      f"{ctx.config.base_branch}", code="nothing_to_land",
                      hint="commit your work on the branch first")
    cases, tasks = _carried(ctx, base_tip, tip)

    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        existing = next((e for e in state.entries if e.branch == name and e.active), None)
        if existing is not None and existing.state == q.LANDING:
            raise Refused(f"{name} is being landed ({existing.id})", code="landing",
                          hint="wait for `orch-hooks merge queue` to show the result")
        if existing is not None:
            entry = replace(existing, tip=tip, author=sess.id, owner=sess.owner,
                            priority=existing.priority if priority is None else priority,
                            state=q.QUEUED, reviewer=None, review_reason=None, reason=None,
                            cases=cases, tasks=tasks, updated_at=now, approvals=[])
            verb = "re-request"
        else:
            seq = state.seq + 1
            entry = q.Entry(id=f"Q-{seq}", seq=seq, branch=name, tip=tip, author=sess.id,
                            owner=sess.owner, priority=priority or 0, state=q.QUEUED,
                            created_at=now, updated_at=now, cases=cases, tasks=tasks)
            state = replace(state, seq=seq)
            verb = "request"
        state = apply_predictions(ctx, state.with_entry(entry), base_tip, now)
        entry = state.get(entry.id)
        msg = (f"{verb} {entry.id}: {name} at {tip[:12]} by {sess.id} ({sess.owner}), "
               f"priority {entry.priority}")
        return state, msg, q.describe(state, entry, now)

    out = q.mutate(ctx, sess.id, "merge.request", fn, predicts=True)
    from orch_core.merge import landpolicy

    locked = landpolicy.lock_refusal(ctx, sess.id, base_tip, tip)
    if locked:
        out["warning"] = (f"{name}: {locked}; the lander refuses to land it while those "
                          "locks are held")
    return out


def review(ctx: Context, sess: Session, entry_id: str, approve: bool,
           reason: str | None) -> dict[str, Any]:
    approval.require_role(ctx, approval.REVIEWER, sess, f"reviewing {entry_id}")
    tip = main_tip(ctx)

    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        e = state.get(entry_id)
        if e.author == sess.id or e.owner == sess.owner:
            mine = ("your session" if e.author == sess.id
                    else f"session {e.author} of your owner")
            raise Refused(f"{e.id} ({e.branch}) was requested by {mine} {e.owner}; "
                          "the reviewer must be a different session, of another owner",
                          code="self_review",
                          hint="ask another agent or a person to run "
                               f"`orch-hooks merge review {e.id} --approve`")
        if e.state not in (q.QUEUED, q.APPROVED):
            raise Refused(f"{e.id} is {e.state}; only queued entries can be reviewed",
                          code="bad_state",
                          hint="the author re-requests the branch after fixing it")
        new_state = q.APPROVED if approve else q.REJECTED
        given = [a for a in e.approvals if a.get("owner") != sess.owner]
        if approve:
            given.append({"session": sess.id, "owner": sess.owner, "at": now})
        new = replace(e, state=new_state, reviewer=sess.id, review_reason=reason,
                      updated_at=now, approvals=given if approve else [])
        # The entries behind this one see it approved (or gone) at once.
        state = predict_again(ctx, state.with_entry(new), tip, now)
        new = state.get(e.id)
        verb = "approve" if approve else "reject"
        why = f": {reason}" if reason else ""
        out = q.describe(state, new, now)
        moved = current_tip(ctx, e.branch)
        if moved is not None and moved != e.tip:
            out["warning"] = (f"{e.branch} moved since the request; the reviewed tip "
                              f"{e.tip[:12]} is what lands")
        return state, f"{verb} {e.id} ({e.branch}) by {sess.id} ({sess.owner}){why}", out

    out = q.mutate(ctx, sess.id, "merge.review", fn, predicts=True)
    out["needs"] = approval.needed(ctx, q.Entry.from_json(out), tip) if out.get("tip") else []
    return out


def current_tip(ctx: Context, branch: str) -> str | None:
    """Where ``branch`` is now: the remote's copy in remote mode (as last fetched),
    else the local branch; None when neither exists."""
    from orch_core.git import refs as gitrefs
    from orch_core.remote import mode

    name = mode.remote_name(ctx)
    if name is not None:
        theirs = gitrefs.read_ref_file(ctx.repo.common_dir, f"refs/remotes/{name}/{branch}")
        if theirs is not None:
            return theirs
    return gitrepo.rev_parse(ctx.repo, f"refs/heads/{branch}")


def cancel(ctx: Context, sess: Session | None, entry_id: str, force: bool) -> dict[str, Any]:
    who = sess.id if sess else None
    tip = gitrepo.rev_parse(ctx.repo, base_ref(ctx))

    def fn(state: q.QueueState, now: float) -> tuple[q.QueueState, str, dict[str, Any]]:
        e = state.get(entry_id)
        if e.state in (q.LANDED, q.CANCELED):
            raise Refused(f"{e.id} is already {e.state}", code="bad_state")
        if e.state == q.LANDING and state.lease is not None and state.lease.live(now):
            raise Refused(f"{e.id} is being landed right now", code="landing",
                          hint="wait for the landing to finish")
        if e.author != who and not force:
            raise Refused(f"{e.id} belongs to session {e.author} ({e.owner})",
                          code="not_author", hint="only the author cancels; --force overrides")
        new = replace(e, state=q.CANCELED, updated_at=now,
                      reason=f"canceled by {who or 'force'}")
        state = state.with_entry(new)
        if tip is not None:
            state = predict_again(ctx, state, tip, now)
        return state, f"cancel {e.id} ({e.branch}) by {who or 'force'}", \
            q.describe(state, new, now)

    return q.mutate(ctx, who or "force", "merge.cancel", fn, predicts=True)


def listing(ctx: Context, include_finished: int = 10) -> dict[str, Any]:
    state = refresh(ctx, "orch-hooks")
    now = ctx.now()
    active = [q.describe(state, e, now) for e in state.ordered()]
    tip = gitrepo.rev_parse(ctx.repo, base_ref(ctx))
    for row, e in zip(active, state.ordered(), strict=True):
        row["needs"] = approval.needed(ctx, e, tip) if tip else []
    done = [e for e in state.entries if not e.active]
    done.sort(key=lambda e: e.updated_at, reverse=True)
    return {"base": ctx.config.base_branch, "main": gitrepo.rev_parse(ctx.repo, base_ref(ctx)),
            "entries": active,
            "finished": [q.describe(state, e, now) for e in done[:include_finished]],
            "merge_lock": q.describe_lease(state.lease, now)}


def rule_findings(ctx: Context, old: str, new: str) -> list[dict[str, Any]]:
    """Methodology rules (.orch.toml [merge] rules): regexes refused in added lines."""
    rules = [(re.compile(r.pattern), r.message) for r in ctx.config.rules]
    if not rules:
        return []
    out: list[dict[str, Any]] = []
    for path, line_no, text in githistory.added_lines(ctx.repo, old, new):
        for rx, message in rules:
            if rx.search(text):
                out.append({"file": path, "line": line_no, "rule": message,
                            "text": text[:200]})
    return out


MAX_DIFF = 200_000


def review_context(ctx: Context, entry_id: str) -> dict[str, Any]:
    """What a reviewer needs: diff, notes (cases), predicted conflicts, rule findings."""
    state = refresh(ctx, "orch-hooks")
    e = state.get(entry_id)
    tip = main_tip(ctx)
    base = githistory.merge_base(ctx.repo, tip, e.tip) or tip
    stat = githistory.diffstat(ctx.repo, base, e.tip)
    diff = githistory.diff_text(ctx.repo, base, e.tip)
    commits = []
    for oid, subject, note in githistory.notes_in_range(ctx.repo, base, e.tip):
        from orch_core.work import stamp

        objs, _w = stamp.parse_note(note)
        commits.append({"commit": oid, "subject": subject, "notes": objs})
    return {"id": e.id, "branch": e.branch, "tip": e.tip, "state": e.state,
            "author": e.author, "owner": e.owner, "base": base,
            "position": state.position(e.id), "cases": e.cases, "tasks": e.tasks,
            "diffstat": stat, "diff": diff[:MAX_DIFF], "diff_truncated": len(diff) > MAX_DIFF,
            "commits": commits, "conflicts": e.conflicts,
            "approvals": e.approvals, "needs": approval.needed(ctx, e, tip),
            "rule_findings": rule_findings(ctx, base, e.tip)}
