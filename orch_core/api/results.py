"""The shapes of the main method results, as the front ends print them.

Handlers still build plain dicts (the JSON on the wire is unchanged, key for
key); these TypedDicts name their keys so that mypy checks every ``r["holder"]``
of a CLI formatter, and tests/api/test_results.py checks real results against
them, nested shapes included. (No ``from __future__ import annotations`` here:
Python 3.11 cannot see ``NotRequired`` in a string annotation.)
"""

from typing import Any, NotRequired, TypedDict


class LockJson(TypedDict):
    id: str
    path: str
    mode: str
    session: str
    owner: str
    task: str | None
    acquired_at: float
    expires_at: float
    ttl: float
    release_on_land: bool
    branch: str | None
    live: bool
    expires: str
    expires_in: int
    holder_dead: NotRequired[bool]  # lock.list: a live lease of a dead session
    offline: NotRequired[bool]


class ConflictJson(TypedDict):
    path: str
    lock_id: str
    lock_path: str
    mode: str
    holder_session: str
    owner: str
    task: str | None
    expires_at: float
    expires: str
    expires_in: int


class LockAcquired(TypedDict):
    session: str
    paths: list[str]
    locks: list[LockJson]
    offline: NotRequired[bool]
    warnings: NotRequired[list[str]]
    reconciled: NotRequired[list[str]]
    offline_conflicts: NotRequired[list[dict[str, Any]]]


class LockReleased(TypedDict):
    session: str | None
    force: bool
    ids: list[str]
    released: list[LockJson]


class LockRenewed(TypedDict):
    session: str
    renewed: int
    locks: list[LockJson]


class LockListing(TypedDict):
    tip: str | None
    locks: list[LockJson]
    warnings: list[str]


class PathCheck(TypedDict):
    path: str
    blocked: bool
    conflicts: list[ConflictJson]


class LockCheck(TypedDict):
    session: str
    ok: bool
    paths: list[PathCheck]
    message: str


class SessionJson(TypedDict):
    id: str
    owner: str
    intent: str
    worktree: str | None
    branch: str | None
    status: str
    created_at: float
    heartbeat_at: float
    ttl: float
    current_case: str | None
    acked_version: int
    release_on_land: bool
    grace: float
    alive: bool
    dead: bool
    heartbeat_expires: str
    dead_at: str


class SessionOpened(SessionJson):
    session_id: str
    bound: bool
    export: str
    candidates: NotRequired[Any]
    # With worktree=true the result is worktree.create's: these come with it.
    path: NotRequired[str]
    base: NotRequired[str]
    enter: NotRequired[str]
    kind: NotRequired[str]
    next: NotRequired[str]


class SessionListing(TypedDict):
    sessions: list[SessionJson]
    current: str | None


class SessionClosed(SessionJson):
    released: list[LockJson]
    warnings: NotRequired[list[str]]


class TaskJson(TypedDict):
    id: str
    seq: int
    level: str
    title: str
    parent: str | None
    priority: int
    status: str
    holder: str | None
    contract: str | None
    fixtures: list[str]
    next_action: str | None
    reason: str | None
    created_at: str
    updated_at: str
    depth: NotRequired[int]


class TaskDetail(TaskJson):
    path: list[dict[str, Any]]
    children: list[dict[str, Any]]
    blocked_by: list[dict[str, Any]]
    blocks: list[str]
    steps: NotRequired[dict[str, Any]]


class TaskListing(TypedDict):
    tasks: list[TaskJson]
    count: int


class QueueEntryJson(TypedDict):
    id: str
    seq: int
    branch: str
    tip: str
    author: str
    owner: str
    priority: int
    state: str
    created_at: float
    updated_at: float
    reviewer: str | None
    review_reason: str | None
    cases: list[str]
    tasks: list[str]
    conflicts: list[dict[str, Any]]
    reason: str | None
    log: str | None
    log_path: str | None
    landing_result: str | None
    landed_as: str | None
    landed_on: str | None
    approvals: list[dict[str, Any]]
    position: int | None
    created: str
    updated: str
    warning: NotRequired[str]
    needs: NotRequired[list[dict[str, Any]]]  # approvals still needed ([[approval]])
    reviewer_dispatch: NotRequired[dict[str, Any]]


class MergeLease(TypedDict):
    holder: str
    entry: str
    pid: int
    host: str
    acquired: str
    expires: str
    live: bool


class QueueListing(TypedDict):
    base: str
    main: str | None
    entries: list[QueueEntryJson]
    finished: list[QueueEntryJson]
    merge_lock: MergeLease | None


class ResumeBase(TypedDict):
    main: str
    base: str | None
    behind: int | None
    changed_held_paths: list[str]
    stale: bool


class HeldLock(TypedDict):
    id: str
    path: str
    mode: str
    task: str | None
    expires: str


class Resume(TypedDict):
    session: str
    owner: str
    worktree: str | None
    branch: str | None
    alive: bool
    locks: list[HeldLock]
    last_checkpoint: dict[str, Any] | None
    base: ResumeBase
    warnings: list[str]
    db_version: int
    case: dict[str, Any] | None
    last_case: NotRequired[dict[str, Any] | None]
    ready: dict[str, Any] | None
    what: str
    next_action: str
    merge_failures: list[dict[str, Any]]
    attached: NotRequired[dict[str, Any]]
    taken: NotRequired[dict[str, Any] | None]
    mirror_requests: NotRequired[list[dict[str, Any]]]
    mail: NotRequired[dict[str, Any]]
