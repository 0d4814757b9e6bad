"""`.orch.toml` at the repository root: the policy, reviewed like code."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from orch_core.errors import UsageError
from orch_core.git import objects as gitobjects
from orch_core.git import repo as gitrepo
from orch_core.records import Frozen

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FILENAME = ".orch.toml"

# section -> key -> (type, default). A type of list[...] is written as a tuple
# ("list", element type). Unknown sections or keys are refused: a typo in a
# policy file must not silently fall back to a default.
SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "locks": {
        "default_ttl": (int, 1800),
        "require_lock": (bool, False),
    },
    "sessions": {
        "ttl": (int, 900),
        "grace": (int, 60),
    },
    "merge": {
        "protected": (("list", str), ["main"]),
        "base": (str, "main"),
        "checks": (("list", str), []),
        "check_timeout": (int, 600),
        "strategy": (str, "merge"),
        "rules": (("list", dict), []),
        "merge_lock_ttl": (int, 900),
    },
    "worktrees": {
        "root": (str, ""),
    },
    # Owners who hold each role (docs/ARCHITECTURE.md, "Roles and approvals");
    # absent or empty: anyone (merge-reviewer: anyone but the author's owner).
    "roles": {
        "merge-reviewer": (("list", str), []),
        "doc-mirror-manager": (("list", str), []),
        "main-worker": (("list", str), []),
    },
    "cases": {
        "require_contract": (bool, False),
    },
    "team": {
        "max_concurrent_children": (int, 6),
        "reviewer_cmd": (str, ""),
        "tmux_socket": (str, "orch"),
        "tmux_session": (str, "orch"),
        "startup_grace": (float, 1.0),
    },
    "remote": {
        "name": (str, ""),
    },
    "scheduler": {
        "threshold": (float, 1.0),
        "w_files": (float, 0.05),
        "w_duration": (float, 0.01),
        "w_risk": (float, 0.5),
        "w_participants": (float, 0.2),
        "w_overlap": (float, 1.0),
    },
}

STRATEGIES = ("merge", "ff", "rebase")
# Durations that must be positive (checked at load, so the error names the key).
POSITIVE = (("locks", "default_ttl"), ("sessions", "ttl"), ("merge", "check_timeout"),
            ("merge", "merge_lock_ttl"), ("team", "max_concurrent_children"))


# [[approval]] tables: changed paths that need more eyes before they land.
APPROVAL_KEYS = {"paths": ("list", str), "approvals": int, "role": str}


# Frozen records (orch_core/records.py), not dataclasses: see docs/ARCHITECTURE.md,
# performance budgets.
class Rule(Frozen):
    FIELDS = ("pattern", "message")
    pattern: str
    message: str

    def __init__(self, pattern: str, message: str) -> None:
        self._set(pattern=pattern, message=message)


class ApprovalRule(Frozen):
    FIELDS = ("paths", "approvals", "role")
    paths: tuple[str, ...]
    approvals: int
    role: str | None

    def __init__(self, paths: tuple[str, ...], approvals: int, role: str | None) -> None:
        self._set(paths=paths, approvals=approvals, role=role)


class Config(Frozen):
    FIELDS = ("values", "source")
    values: dict[str, dict[str, Any]]
    source: Path | None

    def __init__(self, values: dict[str, dict[str, Any]] | None = None,
                 source: Path | None = None) -> None:
        self._set(values={} if values is None else values, source=source)

    def get(self, section: str, key: str) -> Any:
        if section in self.values and key in self.values[section]:
            return self.values[section][key]
        return SCHEMA[section][key][1]

    @property
    def protected(self) -> list[str]:
        return list(self.get("merge", "protected"))

    @property
    def protected_refs(self) -> list[str]:
        return [b if b.startswith("refs/") else f"refs/heads/{b}" for b in self.protected]

    @property
    def base_branch(self) -> str:
        return str(self.get("merge", "base"))

    def role(self, name: str) -> list[str]:
        """The owners holding role ``name`` (empty: the role is not restricted)."""
        return list(self.get("roles", name))

    @property
    def approval_rules(self) -> list[ApprovalRule]:
        return [ApprovalRule(tuple(r["paths"]), int(r.get("approvals", 1)), r.get("role"))
                for r in self.values.get("approval", {}).get("rules", [])]

    @property
    def rules(self) -> list[Rule]:
        return [Rule(r["pattern"], r.get("message", r["pattern"]))
                for r in self.get("merge", "rules")]


def _line_of(text: str, section: str, key: str) -> int:
    in_section = False
    for i, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped.strip("[]").strip() == section
        elif in_section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return i
    return 0


def _fail(path: Path, text: str, section: str, key: str, why: str) -> UsageError:
    line = _line_of(text, section, key)
    where = f"{path}:{line}" if line else str(path)
    return UsageError(f"{where}: [{section}] {key}: {why}", code="bad_config",
                      hint=f"fix {path.name} (see README, 'Configuration')")


def _check_type(value: Any, kind: Any) -> bool:
    if isinstance(kind, tuple):
        return isinstance(value, list) and all(_check_type(v, kind[1]) for v in value)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse(text: str, path: Path) -> Config:
    import tomllib  # here, not at the top: only a repository with .orch.toml pays it

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}", code="bad_config",
                         hint=f"fix the syntax of {path.name}") from e
    values: dict[str, dict[str, Any]] = {}
    if "approval" in data:
        values["approval"] = {"rules": _approvals(data.pop("approval"), path, text)}
    for section, body in data.items():
        if section not in SCHEMA:
            raise _fail(path, text, section, "", f"unknown section (known: {', '.join(SCHEMA)})")
        if not isinstance(body, dict):
            raise _fail(path, text, section, "", "must be a table")
        values[section] = {}
        for key, value in body.items():
            if key not in SCHEMA[section]:
                raise _fail(path, text, section, key,
                            f"unknown key (known: {', '.join(SCHEMA[section])})")
            kind = SCHEMA[section][key][0]
            if not _check_type(value, kind):
                want = f"list of {kind[1].__name__}" if isinstance(kind, tuple) else kind.__name__
                raise _fail(path, text, section, key, f"expected {want}, got {value!r}")
            values[section][key] = value
    for section, key in POSITIVE:
        value = values.get(section, {}).get(key)
        if value is not None and value <= 0:
            raise _fail(path, text, section, key, f"must be a positive number, got {value!r}")
    merge = values.get("merge", {})
    if merge.get("strategy", "merge") not in STRATEGIES:
        raise _fail(path, text, "merge", "strategy", f"must be one of {', '.join(STRATEGIES)}")
    for rule in merge.get("rules", []):
        if not isinstance(rule.get("pattern"), str):
            raise _fail(path, text, "merge", "rules", "each rule needs a string 'pattern'")
        try:
            re.compile(rule["pattern"])
        except re.error as e:
            raise _fail(path, text, "merge", "rules", f"bad regex {rule['pattern']!r}: {e}") from e
    for name in merge.get("protected", []):
        if not name or name.strip() != name or " " in name:
            raise _fail(path, text, "merge", "protected", f"bad branch name {name!r}")
    return Config(values, path)


def _approvals(body: Any, path: Path, text: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise _fail(path, text, "approval", "", "write it as [[approval]] tables")
    for rule in body:
        for key, value in rule.items():
            if key not in APPROVAL_KEYS:
                raise _fail(path, text, "approval", key,
                            f"unknown key (known: {', '.join(APPROVAL_KEYS)})")
            if not _check_type(value, APPROVAL_KEYS[key]):
                raise _fail(path, text, "approval", key, f"bad value {value!r}")
        if not rule.get("paths") or any(not p.strip() for p in rule["paths"]):
            raise _fail(path, text, "approval", "paths", "needs a list of path prefixes or globs")
        if int(rule.get("approvals", 1)) < 1:
            raise _fail(path, text, "approval", "approvals", "must be at least 1")
        if rule.get("role") is not None and rule["role"] not in SCHEMA["roles"]:
            raise _fail(path, text, "approval", "role",
                        f"unknown role (known: {', '.join(SCHEMA['roles'])})")
    return body


MAX_BYTES = 1 << 20  # a policy file is a few hundred bytes


def _read_policy(path: Path) -> bytes | None:
    """The file's bytes (None: absent); a device, FIFO or folder (a symlink to
    /dev/zero or /dev/stdin) is refused without reading, and so is a huge file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise UsageError(f"{path}: cannot be read ({e.strerror})", code="bad_config") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path} is not a regular file", code="bad_config",
                             hint="the policy must be a plain file (not a symlink to a "
                                  "device, a FIFO or a folder)")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise UsageError(f"{path} is larger than {MAX_BYTES} bytes", code="bad_config",
                         hint="a policy file is a few lines of TOML")
    return data


def load(root: Path, memo: Any = None) -> Config:
    """The work tree's policy. ``memo`` (the open state store, if any) keeps what a
    parse made of the exact text, so a lock write does not import and run the TOML
    parser each time; anything but the same bytes is parsed again."""
    path = root / FILENAME
    raw = _read_policy(path)
    if raw is None:
        return Config({}, None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text", code="bad_config") from e
    if memo is None:
        return parse(text, path)
    import json

    key = f"worktree_policy:{root}"
    hit = memo.meta(key)
    if hit is not None:
        try:
            kept = json.loads(hit)
            if kept.get("text") == text:
                return Config(kept["values"], path)
        except (ValueError, AttributeError, KeyError, TypeError):
            pass
    parsed = parse(text, path)
    try:
        value = json.dumps({"text": text, "values": parsed.values}, sort_keys=True)
    except (TypeError, ValueError):
        return parsed
    with memo.cache_write() as conn:
        memo.set_meta(conn, key, value)
    return parsed


def load_at(repo: gitrepo.Repo, rev: str, fallback: Config) -> Config:
    """The policy committed at ``rev`` (e.g. main's tip), not the work tree's copy.

    Without a committed file the defaults apply; when ``rev`` does not resolve,
    ``fallback`` does.
    """
    exists, raw = gitobjects.file_at(repo, rev, FILENAME)
    if not exists:
        return fallback
    if raw is None:
        return Config({}, None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{rev}:{FILENAME}: not UTF-8 text", code="bad_config") from e
    return parse(text, Path(f"{rev}:{FILENAME}"))
