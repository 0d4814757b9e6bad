"""Repo-relative lock paths: normalisation and refusal of anything unsafe."""

from __future__ import annotations

import os
from pathlib import Path

from orch_core.errors import UsageError


def normalise(raw: str, root: Path | None = None) -> str:
    """Return ``a/b`` (a file) or ``a/b/`` (a prefix) for a path inside the repo.

    Refused, with a message naming the path: empty, NUL, absolute, any ``..``,
    ``.git`` internals, and (when ``root`` is given) anything that escapes the
    repository through a symlink. An existing directory becomes a prefix.
    """
    if not isinstance(raw, str) or raw.strip() == "":
        raise UsageError("empty path", hint="give a repo-relative path such as src/api/",
                         code="bad_path")
    if "\x00" in raw:
        raise UsageError(f"path {raw!r} contains a NUL byte", code="bad_path",
                         hint="give a repo-relative path such as src/api/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise UsageError(
            f"absolute path {raw!r} refused",
            hint="paths are relative to the repository root, e.g. src/api/users.py",
            code="bad_path",
        )
    prefix = raw.endswith("/")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if not parts:
        raise UsageError(f"path {raw!r} names the whole repository", code="bad_path",
                         hint="lock a directory such as src/ instead")
    if ".." in parts:
        raise UsageError(
            f"path {raw!r} contains '..'",
            hint="write the path as it sits under the repository root, without '..'",
            code="bad_path",
        )
    if parts[0] == ".git":
        raise UsageError(f"path {raw!r} is inside .git", code="bad_path",
                         hint="lock paths of the work tree, not git internals")
    rel = "/".join(parts)
    if root is not None:
        real_root = os.path.realpath(root)
        target = os.path.realpath(os.path.join(real_root, rel))
        if target != real_root and not target.startswith(real_root + os.sep):
            raise UsageError(
                f"path {raw!r} escapes the repository through a symlink",
                hint="lock the path the symlink points to, inside the repository",
                code="bad_path",
            )
        if not prefix and os.path.isdir(os.path.join(real_root, rel)) and not os.path.islink(
            os.path.join(real_root, rel)
        ):
            prefix = True
    return rel + "/" if prefix else rel


def key(path: str, ignore_case: bool = False) -> str:
    """Comparison key: no trailing slash, case-folded where the fs ignores case."""
    k = path.rstrip("/")
    return k.casefold() if ignore_case else k


def ancestors(path: str) -> list[str]:
    """Prefix keys strictly above ``path``: ``a/b/c`` -> ``['a', 'a/b']``."""
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
