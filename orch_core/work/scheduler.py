"""Worktree or lock: should a planned task get its own worktree or just take locks?

The score is a weighted sum of what makes sharing a worktree risky: how many
files the task changes, how long it runs, how risky it is, how many agents
work in parallel, and how many of its paths other sessions already lock.
Weights and the threshold live in `.orch.toml` [scheduler].
"""

from __future__ import annotations

from typing import Any

from orch_core.locks import service as locks
from orch_core.state.context import Context
from orch_core.work import sessions

RISK_LEVELS = {"low": 0.0, "medium": 1.0, "high": 2.0}


def decide(ctx: Context, session_id: str | None, files: int | None, duration: float,
           risk: str, participants: int | None, paths: list[str]) -> dict[str, Any]:
    cfg = ctx.config
    w = {k: float(cfg.get("scheduler", k))
         for k in ("w_files", "w_duration", "w_risk", "w_participants", "w_overlap")}
    threshold = float(cfg.get("scheduler", "threshold"))
    now = ctx.now()
    norm = locks.normalise_all(ctx, paths) if paths else []
    n_files = files if files is not None else len(norm)
    if participants is None:
        participants = sum(1 for s in sessions.all_sessions(ctx) if s.alive(now))
    blocked: list[str] = []
    if norm:
        snap = locks.snapshot(ctx)
        index = snap.index(ctx.ignore_case)
        me = session_id or ""
        # Checked as if for an exclusive lock: any lock by someone else on a path,
        # shared or not, means overlapping work.
        blocked = sorted(index.check(norm, me, now))
    overlap = len(blocked) / len(norm) if norm else 0.0
    parts = {
        "files": (w["w_files"] * n_files, f"{n_files} file(s) to change"),
        "duration": (w["w_duration"] * duration, f"expected {duration:g} min"),
        "risk": (w["w_risk"] * RISK_LEVELS[risk], f"risk {risk}"),
        "participants": (w["w_participants"] * max(0, participants - 1),
                         f"{participants} participant(s) in parallel"),
        "overlap": (w["w_overlap"] * overlap,
                    f"{len(blocked)} of {len(norm)} path(s) locked by other sessions"
                    + (f": {', '.join(blocked[:5])}" if blocked else "")),
    }
    score = round(sum(v for v, _ in parts.values()), 4)
    decision = "worktree" if score >= threshold else "lock"
    reasons = [f"{why} (+{v:.2f})" for v, why in
               sorted(parts.values(), key=lambda x: -x[0]) if v > 0]
    if not reasons:
        reasons = ["nothing suggests isolation"]
    verdict = (f"score {score:.2f} >= threshold {threshold:.2f}: use a worktree"
               if decision == "worktree" else
               f"score {score:.2f} < threshold {threshold:.2f}: lock the paths and work "
               f"in place")
    return {
        "score": score, "threshold": threshold, "decision": decision,
        "reasons": [verdict, *reasons],
        "factors": {k: round(v, 4) for k, (v, _) in parts.items()},
        "inputs": {"files": n_files, "duration": duration, "risk": risk,
                   "participants": participants, "paths": norm, "overlap": round(overlap, 4),
                   "overlapping_paths": blocked},
        "next": ("orch-hooks session open --worktree" if decision == "worktree"
                 else "orch-hooks lock acquire " + " ".join(norm or ["PATH..."])),
    }
