"""The lock table as data: records, the conflict rule and a fast conflict index.

Imported by the commit-path hook, so it depends on the standard library only.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping

from orch_core.paths import ancestors, key
from orch_core.records import Frozen

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import Field
    from typing import Any, ClassVar

    from orch_core.git.repo import Oid

EXCLUSIVE = "exclusive"
SHARED = "shared"
MODES = (EXCLUSIVE, SHARED)

# The tree of a lock-table commit holds one blob per session that holds locks,
# ``locks-<session>.jsonl`` (one JSON object per line, sorted by path and id), so a
# change re-serialises only the sessions it touches. ``locks.jsonl`` is the
# whole-table blob of the first layout: still read, replaced on the next write.
LEGACY_TABLE = "locks.jsonl"
_BLOB_PREFIX = "locks-"
_BLOB_SUFFIX = ".jsonl"
_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


# (name, type, default or _REQUIRED) of each field of a Lock, in order.
_REQUIRED = object()
_SPEC: tuple[tuple[str, str, Any], ...] = (
    ("id", "str", _REQUIRED), ("path", "str", _REQUIRED), ("mode", "str", _REQUIRED),
    ("session", "str", _REQUIRED), ("owner", "str", _REQUIRED),
    ("task", "str | None", _REQUIRED), ("acquired_at", "float", _REQUIRED),
    ("expires_at", "float", _REQUIRED), ("ttl", "float", _REQUIRED),
    ("release_on_land", "bool", False), ("branch", "str | None", None))
_LOCK_FIELDS = tuple(name for name, _type, _default in _SPEC)


class _AsDataclass(type):
    """Lock's metaclass: to ``dataclasses.replace``, ``fields``, ``asdict`` and
    ``is_dataclass`` a Lock is the frozen dataclass it used to be (hooks/receivelocks.py
    uses ``replace``). Their view is built on first use, so a lock command never
    imports ``dataclasses`` (orch_core/records.py)."""

    def __getattr__(cls, name: str) -> object:
        if name not in ("__dataclass_fields__", "__dataclass_params__"):
            raise AttributeError(name)
        import dataclasses

        view = dataclasses.make_dataclass(
            cls.__name__, [(n, t) if d is _REQUIRED else (n, t, d) for n, t, d in _SPEC],
            frozen=True)
        for attr in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, attr, getattr(view, attr))
        return type.__getattribute__(cls, name)


class Lock(Frozen, metaclass=_AsDataclass):
    """One lease (a frozen record: orch_core/records.py)."""

    FIELDS = _LOCK_FIELDS
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
    __match_args__ = ("id", "path", "mode", "session", "owner", "task", "acquired_at",
                      "expires_at", "ttl", "release_on_land", "branch")
    if TYPE_CHECKING:  # what dataclasses' functions look for (see _AsDataclass)
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def __init__(self, id: str, path: str, mode: str, session: str, owner: str,
                 task: str | None, acquired_at: float, expires_at: float, ttl: float,
                 release_on_land: bool = False, branch: str | None = None) -> None:
        self.__dict__.update(id=id, path=path, mode=mode, session=session, owner=owner,
                             task=task, acquired_at=acquired_at, expires_at=expires_at,
                             ttl=ttl, release_on_land=release_on_land, branch=branch)

    def _values(self) -> tuple[object, ...]:
        d = self.__dict__  # not Frozen's getattr loop: a 1,000-lock write compares many
        return (d["id"], d["path"], d["mode"], d["session"], d["owner"], d["task"],
                d["acquired_at"], d["expires_at"], d["ttl"], d["release_on_land"],
                d["branch"])

    def replace(self, **changes: Any) -> Lock:
        """A copy with ``changes`` (what ``dataclasses.replace`` gives)."""
        unknown = set(changes).difference(_LOCK_FIELDS)
        if unknown:
            raise TypeError(f"Lock has no field {sorted(unknown)[0]!r}")
        return Lock(**{**self.__dict__, **changes})

    @property
    def is_prefix(self) -> bool:
        return self.path.endswith("/")

    def live(self, now: float) -> bool:
        return self.expires_at > now

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy dominated every lock-table write.
        return {name: getattr(self, name) for name in _LOCK_FIELDS}

    def renewed(self, now: float) -> Lock:
        return self.replace(expires_at=now + self.ttl)

    @classmethod
    def from_json(cls, data: Any) -> Lock:
        if not isinstance(data, dict):
            raise ValueError("lock entry is not an object")
        try:
            lock = cls(
                id=str(data["id"]),
                path=str(data["path"]),
                mode=str(data["mode"]),
                session=str(data["session"]),
                owner=str(data.get("owner", "")),
                task=None if data.get("task") is None else str(data["task"]),
                acquired_at=float(data["acquired_at"]),
                expires_at=float(data["expires_at"]),
                ttl=float(data.get("ttl", 0)),
                release_on_land=bool(data.get("release_on_land", False)),
                branch=None if data.get("branch") is None else str(data["branch"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed lock entry: {e}") from e
        if lock.mode not in MODES or not lock.path:
            raise ValueError(f"malformed lock entry: mode {lock.mode!r} path {lock.path!r}")
        return lock


_NEVER = float("inf")


def covers(a_path: str, b_path: str, ignore_case: bool = False) -> bool:
    """True when the paths are equal or one lies under the other (a prefix)."""
    ka, kb = key(a_path, ignore_case), key(b_path, ignore_case)
    if ka == kb:
        return True
    if a_path.endswith("/") and kb.startswith(ka + "/"):
        return True
    return b_path.endswith("/") and ka.startswith(kb + "/")


def conflicts(a_path: str, a_mode: str, a_session: str, b: Lock,
              ignore_case: bool = False) -> bool:
    """The conflict rule: other session, one exclusive, paths overlap.

    See docs/ARCHITECTURE.md, "Lock rules".
    """
    if a_session == b.session:
        return False
    if a_mode == SHARED and b.mode == SHARED:
        return False
    return covers(a_path, b.path, ignore_case)


def serialise(locks: Iterable[Lock]) -> bytes:
    rows = sorted(locks, key=lambda lk: (lk.path, lk.id))
    encode = _ENCODER.encode  # json.dumps(sort_keys=True) builds an encoder per call
    return "".join(encode(lk.to_json()) + "\n" for lk in rows).encode()


_ENCODER = json.JSONEncoder(sort_keys=True)


def parse(blob: bytes, name: str = LEGACY_TABLE) -> tuple[list[Lock], list[str]]:
    """Locks in a table blob, and a warning for each line that could not be read."""
    locks: list[Lock] = []
    warnings: list[str] = []
    for n, line in enumerate(blob.decode(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            locks.append(Lock.from_json(json.loads(line)))
        except ValueError as e:
            warnings.append(f"{name} line {n}: {e}")
    return locks, warnings


def blob_name(session: str) -> str:
    """The tree entry holding ``session``'s locks (bytes outside [A-Za-z0-9._-] as %XX)."""
    text = "".join(ch if ch in _NAME_SAFE else "".join(f"%{b:02X}" for b in ch.encode())
                   for ch in session)
    return f"{_BLOB_PREFIX}{text}{_BLOB_SUFFIX}"


def is_table_entry(name: str) -> bool:
    return name == LEGACY_TABLE or (name.startswith(_BLOB_PREFIX)
                                    and name.endswith(_BLOB_SUFFIX))


def parse_tree(blobs: Mapping[str, bytes]) -> tuple[list[Lock], list[str]]:
    """The table held by a lock-table tree (entry name -> blob), with warnings.

    A lock filed in another session's blob is reported and left out: writers
    rewrite only the blobs of the sessions a change touches, so such a line could
    never be released.
    """
    locks: list[Lock] = []
    warnings: list[str] = []
    for name in sorted(blobs):
        if not is_table_entry(name):
            continue
        got, warns = parse(blobs[name], name)
        warnings += warns
        if name == LEGACY_TABLE:
            locks += got
            continue
        for lk in got:
            if blob_name(lk.session) == name:
                locks.append(lk)
            else:
                warnings.append(f"{name}: lock {lk.id} of session {lk.session} "
                                "is filed under another session; ignored")
    return locks, warnings


class LockIndex:
    """Answers 'who blocks this path' in O(depth) per path, not O(locks)."""

    def __init__(self, locks: Iterable[Lock], ignore_case: bool = False,
                 deadlines: Mapping[str, float] | None = None) -> None:
        self.ignore_case = ignore_case
        # Session -> when it is dead (docs/ARCHITECTURE.md, "Dead sessions"): from
        # then on its locks block nobody. A session not named counts by its leases.
        self.deadlines: Mapping[str, float] = deadlines or {}
        self.by_key: dict[str, list[Lock]] = {}
        for lk in locks:
            self.by_key.setdefault(key(lk.path, ignore_case), []).append(lk)
        self.sorted_keys = sorted(self.by_key)

    def apply(self, dropped: Iterable[Lock], added: Iterable[Lock]) -> None:
        """Update in place for a table change (O(changes x log locks), not a rebuild)."""
        for lk in dropped:
            k = key(lk.path, self.ignore_case)
            group = self.by_key.get(k) or []
            for i, other in enumerate(group):
                if other is lk or other == lk:
                    del group[i]
                    break
            if not group and k in self.by_key:
                del self.by_key[k]
                del self.sorted_keys[bisect.bisect_left(self.sorted_keys, k)]
        for lk in added:
            k = key(lk.path, self.ignore_case)
            if k not in self.by_key:
                self.by_key[k] = []
                bisect.insort(self.sorted_keys, k)
            self.by_key[k].append(lk)

    def _candidates(self, path: str) -> Iterable[Lock]:
        k = key(path, self.ignore_case)
        yield from self.by_key.get(k, ())
        for anc in ancestors(k):
            for lk in self.by_key.get(anc, ()):
                if lk.is_prefix:
                    yield lk
        if path.endswith("/"):
            lo = bisect.bisect_left(self.sorted_keys, k + "/")
            hi = bisect.bisect_left(self.sorted_keys, k + "0")  # '0' follows '/'
            for sub in self.sorted_keys[lo:hi]:
                yield from self.by_key[sub]

    def blockers(self, path: str, mode: str, session: str, now: float) -> list[Lock]:
        seen: set[str] = set()
        out: list[Lock] = []
        dead = self.deadlines
        for lk in self._candidates(path):
            if lk.id in seen or not lk.live(now) or dead.get(lk.session, _NEVER) <= now:
                continue
            if conflicts(path, mode, session, lk, self.ignore_case):
                seen.add(lk.id)
                out.append(lk)
        return out

    def check(self, paths: Iterable[str], session: str, now: float,
              mode: str = EXCLUSIVE) -> dict[str, list[Lock]]:
        """Paths that ``session`` may not change, with the locks in the way."""
        found: dict[str, list[Lock]] = {}
        for p in paths:
            hit = self.blockers(p, mode, session, now)
            if hit:
                found[p] = hit
        return found


def speaks_line(actor: str, dead: Iterable[str], keep: Iterable[str],
                result: Mapping[str, Any], before: Iterable[Lock]) -> str:
    """The ``orch-sessions:`` line of a lock-table commit: the sessions the write speaks
    for (the actor, the dead sessions it reaps, a takeover's source, a forced
    release's holders); the server hook lets a write remove another session's live
    lease only for these (docs/ARCHITECTURE.md, "The server hook")."""
    forced = set(result.get("ids", [])) if result.get("force") else set()
    speaks = {actor, *dead, *keep, *(lk.session for lk in before if lk.id in forced)}
    return f"\n\norch-sessions: {' '.join(sorted(speaks))}"


class Snapshot(Frozen):
    """The table at ``tip`` as locks/storage.py ``snapshot`` reads it (a frozen record:
    orch_core/records.py)."""

    FIELDS = ("tip", "locks", "warnings", "deadlines")
    tip: Oid | None
    locks: list[Lock]
    warnings: list[str]
    # Holder session -> when it is dead; its locks stop counting then (LockIndex).
    deadlines: Mapping[str, float]

    def __init__(self, tip: Oid | None, locks: list[Lock], warnings: list[str],
                 deadlines: Mapping[str, float] | None = None) -> None:
        self._set(tip=tip, locks=locks, warnings=warnings,
                  deadlines={} if deadlines is None else deadlines)

    def index(self, ignore_case: bool) -> LockIndex:
        return LockIndex(self.locks, ignore_case, self.deadlines)

    def counts(self, lk: Lock, now: float) -> bool:
        """Does ``lk`` still block others: a live lease of a session not dead?"""
        return lk.expires_at > now and self.deadlines.get(lk.session, now + 1) > now
