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
        rel, prefix = _through_symlinks(raw, rel, prefix, root)
    return rel + "/" if prefix else rel


def _through_symlinks(raw: str, rel: str, prefix: bool, root: Path) -> tuple[str, bool]:
    """``rel`` as git sees it: in-repo symlinked folders resolved to their target (git
    tracks nothing beyond a symlink, so ``alias/x`` is ``src/api/x``); a symlink as the
    last part stays itself unless it names a folder. Escaping the repository is refused."""
    real_root = os.path.realpath(root)
    beyond = os.path.realpath(os.path.join(real_root, rel))
    if beyond != real_root and not beyond.startswith(real_root + os.sep):
        raise UsageError(
            f"path {raw!r} escapes the repository through a symlink",
            hint="lock the path the symlink points to, inside the repository",
            code="bad_path")
    parts = rel.split("/")
    # The folders above the last part, resolved as far as they exist.
    i = len(parts) - 1
    while i > 0 and not os.path.isdir(os.path.join(real_root, *parts[:i])):
        i -= 1
    target = os.path.join(os.path.realpath(os.path.join(real_root, *parts[:i])), *parts[i:])
    if os.path.islink(target) and os.path.isdir(target):
        target = os.path.realpath(target)
    if target == real_root:
        raise UsageError(f"path {raw!r} names the whole repository", code="bad_path",
                         hint="lock a directory such as src/ instead")
    if not target.startswith(real_root + os.sep):
        raise UsageError(
            f"path {raw!r} escapes the repository through a symlink",
            hint="lock the path the symlink points to, inside the repository",
            code="bad_path",
        )
    resolved = os.path.relpath(target, real_root).replace(os.sep, "/")
    if resolved.split("/")[0] == ".git":
        raise UsageError(f"path {raw!r} is inside .git", code="bad_path",
                         hint="lock paths of the work tree, not git internals")
    if not prefix and os.path.isdir(target) and not os.path.islink(target):
        prefix = True
    return resolved, prefix


def within(cwd: Path, root: Path) -> str:
    """Where ``cwd`` sits under ``root`` (``src/api/``), '' at the root or outside it:
    paths given on a command line are relative to the current directory, as git's are."""
    real_root = os.path.realpath(root)
    here = os.path.realpath(cwd)
    if not here.startswith(real_root + os.sep):
        return ""
    rel = os.path.relpath(here, real_root).replace(os.sep, "/")
    return "" if rel.split("/")[0] == ".git" else rel + "/"


def key(path: str, ignore_case: bool = False) -> str:
    """Comparison key: no trailing slash, case-folded where the fs ignores case."""
    k = path.rstrip("/")
    return k.casefold() if ignore_case else k


def ancestors(path: str) -> list[str]:
    """Prefix keys strictly above ``path``: ``a/b/c`` -> ``['a', 'a/b']``."""
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
