"""Checkpoint notes on commits (``refs/notes/orch``): the payload and the writer.

The post-commit shim stamps a note from a per-session payload file without
starting Python; this module keeps those files current and is the fallback
writer when no payload file exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

from orch_core import jsonlines
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.git import repo as gitrepo
from orch_core.locks import service as locks
from orch_core.locks import storage as lockstorage
from orch_core.seqfile import rewrite_in_place
from orch_core.state.context import Context
from orch_core.work import casestate

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NOTES_REF = "refs/notes/orch"
NOTE_VERSION = 1

def stamp_dir(ctx: Context) -> Path:
    return ctx.repo.orch_dir / "stamp"


def payload(ctx: Context, session_id: str | None, owner: str) -> dict[str, Any]:
    """The note of the session's next commit: who, its case, steps, next action, locks."""
    data: dict[str, Any] = {"v": NOTE_VERSION, "session": session_id, "owner": owner}
    if session_id:
        data.update(casestate.note_fields(ctx, session_id))
        data["locks"] = sorted(lk.path for lk in locks.held_by(ctx, session_id))
    data["db_version"] = ctx.store.db_version()
    return data


def _open_prefix(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=False, separators=(",", ":"), ensure_ascii=True)
    assert text.endswith("}")
    return text[:-1]


def write_payload_file(ctx: Context, path: Path, data: dict[str, Any]) -> bool:
    """Rewrite the payload file the post-commit shim reads; False if it already says this.

    Three lines: ``=NONCE BASE`` (the base branch), the note without its closing
    brace, ``end NONCE``. It is rewritten in place (no create + rename on every
    lock change): while a write is under way the first byte is ``x``, and the
    shim reads the first line again after the rest and uses the file only when
    both reads match and the trailer carries the same nonce; anything else (a
    torn read, a writer killed mid-write) sends the commit to the Python stamp.
    """
    from orch_core.state import committed

    base = committed.base_branch(ctx)
    body = _open_prefix(data)

    def unchanged(current: bytes) -> bool:
        lines = current.decode(errors="replace").split("\n")
        if len(lines) < 3 or not lines[0].startswith("=") or " " not in lines[0]:
            return False
        nonce, _sp, old_base = lines[0][1:].partition(" ")
        return old_base == base and lines[1] == body and lines[2] == f"end {nonce}"

    nonce = os.urandom(8).hex()  # = secrets.token_hex(8), without importing secrets
    text = f"={nonce} {base}\n{body}\nend {nonce}\n"
    try:
        return rewrite_in_place(path, text.encode(), unchanged)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return rewrite_in_place(path, text.encode(), unchanged)


def refresh(ctx: Context, session_id: str) -> None:
    """Rewrite the session's payload file; call after any change to its state (a write
    of the lock table calls it for every session whose locks changed)."""
    from orch_core.work import sessions

    sess = sessions.find(ctx, session_id)
    if sess is None:
        return
    path = stamp_dir(ctx) / f"{session_id}.json"
    ack = stamp_dir(ctx) / f"{session_id}.ack"
    if sess.status != "open":
        for p in (path, ack):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        return
    write_payload_file(ctx, path, payload(ctx, session_id, sess.owner))
    # The version last acknowledged with `work ack`: post-checkout compares it with the
    # payload's db_version in the shell to decide whether to print the resume hint.
    text = f"{sess.acked_version}\n"
    try:
        current = ack.read_text()
    except OSError:
        current = ""
    if current != text:
        tmp = ack.with_name(f".{ack.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, ack)


@contextlib.contextmanager
def notes_lock(ctx: Context) -> Any:
    """The same lock file the shell shim takes with flock(1)."""
    ctx.repo.orch_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(ctx.repo.orch_dir / "notes.flock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_note(ctx: Context, commit: str, data: dict[str, Any]) -> None:
    line = json.dumps(data, separators=(",", ":"), ensure_ascii=True) + "\n"
    with notes_lock(ctx):
        _wait_out_dead_writer(ctx)
        gitobjects.note_add(ctx.repo, NOTES_REF, commit, line)


def copy_notes(ctx: Context, command: str, mapping: str) -> None:
    """Carry the notes of rewritten commits to their copies (post-rewrite's "OLD NEW"
    lines) under the writer lock: git's own copy (notes.rewriteRef) would read the
    notes first and move the ref without checking, dropping notes written meanwhile."""
    with notes_lock(ctx):
        _wait_out_dead_writer(ctx)
        gitobjects.notes_copy_for_rewrite(ctx.repo, NOTES_REF, command, mapping)


def _wait_out_dead_writer(ctx: Context) -> None:
    """A stamp killed inside `git notes add` leaves refs/notes/orch.lock behind.

    Every orch writer of the notes ref holds notes.flock, so under it a lock file
    belongs to a dead writer or to a foreign `git notes` command; wait for it to
    go, or to turn stale and remove it, rather than lose this commit's note.
    """
    lock = gitrefs.loose_ref_lock_path(ctx.repo, NOTES_REF)
    deadline = time.monotonic() + gitrefs.STALE_GIT_LOCK_SECONDS + 2.0
    while lock.exists() and time.monotonic() < deadline:
        if gitrefs.recover_stale_ref_lock(ctx.repo, NOTES_REF):
            return
        time.sleep(0.05)


def stamp_head(ctx: Context, session_id: str | None, owner: str) -> dict[str, Any]:
    """The slow path of post-commit: build the note in Python and write it."""
    data = payload(ctx, session_id, owner)
    from orch_core.git import history as githistory  # here: a lock write needs none

    data["base"] = githistory.merge_base(ctx.repo, "HEAD", ctx.config.base_branch) or ""
    head = gitrepo.rev_parse(ctx.repo, "HEAD")
    if head:
        write_note(ctx, head, data)
    if session_id is None:
        write_payload_file(ctx, ctx.repo.git_dir / "orch-stamp-implicit.json",
                           {k: v for k, v in data.items() if k != "base"})
    return data


def parse_note(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Note lines as objects; a corrupt line is reported and skipped."""
    return jsonlines.objects(text.split("\n"), "note")


# The payload lists the session's locks: keep it current after every lock write.
if refresh not in lockstorage.SESSION_CHANGED:
    lockstorage.SESSION_CHANGED.append(refresh)
