"""The normalised policy the shell fast paths read: they never parse TOML.

``<worktree git dir>/orch-policy`` (written by the Python side of pre-commit
and by install, rewritten in place seqlock-style by ``seqfile``)::

    policy  REQUIRE_LOCK  NONCE        header: 1 when [locks] require_lock is on
    .LINE                              the .orch.toml it was built from, line by line
    !LINE                              (its last line, when the file has no final newline)
    -                                  (instead of lines: there was no .orch.toml)
    end     NONCE                      trailer

REQUIRE_LOCK is on when the work tree's policy or the one committed on a
protected branch turns it on (``gate.require_lock``): a work tree may add the
rule, never drop it. ``orch_policy_clear`` in ``hooks/_header.sh`` compares the
copy with the work tree's ``.orch.toml`` (in the shell, no process), and treats
the copy as stale when a protected branch's ref file or packed-refs is newer than
it (the committed policy may have changed). Any difference, a torn read or a
policy that needs Python sends the commit to Python, which decides and writes the
file again (or, unchanged, marks it current). Whatever TOML spelling sets
``require_lock`` (a dotted key, an inline table, a quoted or escaped key) or a
malformed value, the shell only reads what Python made of it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import Any

from orch_core import seqfile
from orch_core.errors import UsageError
from orch_core.state import config
from orch_core.state.context import Context

CACHE = "orch-policy"


def cache_text(source: str | None, require_lock: bool, nonce: str) -> str:
    out = [f"policy\t{int(require_lock)}\t{nonce}"]
    if source is None:
        out.append("-")
    else:
        lines = source.split("\n")
        ends_nl = source.endswith("\n")
        if ends_nl:
            lines.pop()
        for i, line in enumerate(lines):
            out.append(("!" if i == len(lines) - 1 and not ends_nl else ".") + line)
    out.append(f"end\t{nonce}")
    return "\n".join(out) + "\n"


def _body(data: bytes) -> tuple[bytes, bytes]:
    """(header without its nonce, lines between header and trailer)."""
    head, _, rest = data.partition(b"\n")
    return head.rpartition(b"\t")[0], rest.rpartition(b"\nend\t")[0]


def index_stale(ctx: Context) -> bool:
    """Is locks.idx older than the git config (core.ignorecase may have changed since
    it was built), or in an older format? The shims then hand every decision to
    Python, so it is rewritten here."""
    from orch_core.locks import export as lockexport

    path = ctx.repo.orch_dir / lockexport.EXPORT
    try:
        if ((ctx.repo.common_dir / "config").stat().st_mtime_ns
                >= path.stat().st_mtime_ns):
            return True
        with open(path, "rb") as fh:
            head = fh.readline(200).split(b"\t")
    except OSError:
        return False
    return len(head) != 6 or head[4] != lockexport.VERSION.encode()


def refresh_index(ctx: Context, tip: str | None = None, table: list[Any] | None = None,
                  ) -> None:
    """Rewrite locks.idx under the current settings when :func:`index_stale`."""
    if not index_stale(ctx) or not (ctx.repo.orch_dir / "state.db").exists():
        return  # nothing to refresh, or no state to build it from (never create one here)
    from orch_core.locks import export as lockexport

    if table is None:
        from orch_core.locks import service as locks

        snap = locks.snapshot(ctx)
        tip, table = snap.tip, snap.locks
    lockexport.write_export(ctx, tip, table)


def _same_as(data: bytes) -> Callable[[bytes], bool]:
    body = _body(data)
    return lambda cur: _body(cur) == body


def write_cache(ctx: Context) -> None:
    """Write the normalised form of this work tree's .orch.toml (nothing when it is not
    a valid policy: then every commit goes to Python). Unchanged, the file is only
    marked current (its time set to now), so that the shell stops treating it as
    older than a protected branch that moved since."""
    from orch_core.git import refs as gitrefs
    from orch_core.merge import gate

    path = ctx.repo.toplevel / config.FILENAME
    text: str | None
    try:
        text = path.read_bytes().decode("utf-8")
        config.parse(text, path)
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError, UsageError):
        return
    if text is not None and "\0" in text:
        return
    cache = ctx.repo.git_dir / CACHE
    tips = [gitrefs.read_ref_file(ctx.repo.common_dir, r) for r in gate.shim_protected(ctx)]
    # The tips are read before the decision and again after the write: a protected
    # branch that moved in between leaves a file older than its ref, so it is rebuilt.
    for _ in range(3):
        try:
            required = gate.require_lock(ctx)
        except UsageError:
            return  # a malformed committed policy: Python decides every commit
        data = cache_text(text, required, secrets.token_hex(8)).encode()
        try:
            if not seqfile.rewrite_in_place(cache, data, unchanged=_same_as(data)):
                os.utime(cache)
        except OSError:
            return
        again = [gitrefs.read_ref_file(ctx.repo.common_dir, r)
                 for r in gate.shim_protected(ctx)]
        if again == tips:
            return
        tips = again


def cache_mismatch(ctx: Context) -> str | None:
    """What is wrong with this worktree's normalised policy (None: nothing). Only its
    ``require_lock`` flag can weaken a rule: the shell checks the rest itself."""
    from orch_core.merge import gate

    try:
        head = (ctx.repo.git_dir / CACHE).read_bytes().split(b"\n", 1)[0].split(b"\t")
    except OSError:
        return None  # no copy: every commit goes to Python
    if len(head) != 3 or head[0] != b"policy" or head[1] not in (b"0", b"1"):
        return None  # unreadable: the shell does not accept it either
    try:
        wanted = gate.require_lock(ctx)
    except UsageError:
        return None  # a malformed policy is reported by its own check
    if head[1] == b"0" and wanted:
        return ("says require_lock is off, but the policy (the work tree's or the one "
                "committed on a protected branch) turns it on")
    return None
