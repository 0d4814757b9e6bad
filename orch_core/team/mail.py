"""The mailbox: ``refs/orch/mail``, one commit per message or acknowledgement.

Tree (flat): ``M-<n>.json`` per message (id, from, to, subject, body, re, time)
and ``acks-<reader>.json`` per reader (the ids that reader acknowledged). The
reader is the owner of the acting session, so read state follows an agent
across its sessions and worktrees, and travels with the ref to every clone.
Written only through the compare-and-swap loop of git/refs.py (``update``); see
docs/ARCHITECTURE.md, "The team".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from orch_core import clock
from orch_core.errors import NotFound, OrchError, Refused, UsageError
from orch_core.git import refs as gitrefs
from orch_core.git.repo import Oid
from orch_core.state.context import Context
from orch_core.team import roster
from orch_core.work.sessions import Session

REF = "refs/orch/mail"
MAX_SUBJECT = 200
MAX_BODY = 64 * 1024
_MSG = re.compile(r"^M-(\d+)\.json$")
_ID = re.compile(r"^M-\d+$")
_TEXT = ("id", "from_session", "from_owner", "to", "to_kind", "subject", "body", "time")


def _ack_name(reader: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", lambda m: f"%{ord(m.group(0)):02X}", reader)
    return f"acks-{safe}.json"


def _tip(ctx: Context) -> Oid | None:
    return gitrefs.read_ref_file(ctx.repo.common_dir, REF)


def _damaged_tip(tip: Oid, e: Exception) -> str:
    detail = e.message if isinstance(e, OrchError) else type(e).__name__
    return (f"{REF} points to {tip[:12]}, which is not a mailbox commit ({detail}): "
            "no message could be read")


def _files(ctx: Context, tip: Oid | None, warnings: list[str] | None = None,
           ) -> dict[str, bytes]:
    """The files of the mailbox at ``tip``. A tip that is not a commit (a blob, a
    tree, a missing object) reads as empty with a warning; writers pass no
    ``warnings`` and are refused instead (docs/ARCHITECTURE.md, "The team")."""
    if tip is None:
        return {}
    try:
        return ctx.odb.files(tip)
    except (AssertionError, KeyError, ValueError, OrchError) as e:
        if warnings is None:
            raise Refused(_damaged_tip(tip, e), code="mail_damaged",
                          hint=f"`orch-hooks doctor` names it; `git update-ref {REF} "
                               "<a mailbox commit>` (see its reflog) repairs it") from e
        warnings.append(_damaged_tip(tip, e))
        return {}


def _valid_message(name: str, doc: Any) -> str | None:
    """Why ``doc`` (from file ``name``) is not a message, or None when it is one."""
    if not isinstance(doc, dict):
        return f"not a JSON object but {type(doc).__name__}"
    bad = [k for k in _TEXT if not isinstance(doc.get(k), str)]
    if bad:
        return f"missing or non-text field(s) {', '.join(bad)}"
    if doc.get("re") is not None and not isinstance(doc["re"], str):
        return "field re is not text"
    if f"{doc['id']}.json" != name:
        return f"its id {doc['id']!r} does not match the file name"
    return None


def _load(name: str, data: bytes, warnings: list[str]) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        warnings.append(f"{REF}: {name} is not JSON: skipped (`orch-hooks doctor` names it)")
        return None


def messages_at(files: dict[str, bytes], warnings: list[str] | None = None,
                ) -> list[dict[str, Any]]:
    """The messages, oldest first; a malformed one is skipped with a warning that
    names its file."""
    warns: list[str] = [] if warnings is None else warnings
    out = []
    for name, data in files.items():
        if not _MSG.match(name):
            continue
        doc = _load(name, data, warns)
        if doc is None:
            continue
        why = _valid_message(name, doc)
        if why:
            warns.append(f"{REF}: {name} is not a message ({why}): skipped "
                         "(`orch-hooks doctor` names it)")
            continue
        out.append(doc)
    out.sort(key=lambda m: int(str(m["id"])[2:]))
    return out


def acks_at(files: dict[str, bytes], warnings: list[str] | None = None,
            ) -> dict[str, set[str]]:
    """The acknowledged ids per reader; a malformed acks file is skipped with a
    warning (its reader's messages read as unread until its next `mail ack`)."""
    warns: list[str] = [] if warnings is None else warnings
    out: dict[str, set[str]] = {}
    for name, data in files.items():
        if not name.startswith("acks-"):
            continue
        doc = _load(name, data, warns)
        if doc is None:
            continue
        ok = (isinstance(doc, dict) and isinstance(doc.get("reader"), str)
              and isinstance(doc.get("ids"), list)
              and all(isinstance(i, str) for i in doc["ids"]))
        if not ok:
            warns.append(f"{REF}: {name} is not an acknowledgement list (reader, ids): "
                         "skipped (`orch-hooks doctor` names it)")
            continue
        out[str(doc["reader"])] = set(doc["ids"])
    return out


def problems(ctx: Context) -> list[str]:
    """Everything wrong in the mailbox ref, for `orch-hooks doctor`."""
    warnings: list[str] = []
    files = _files(ctx, _tip(ctx), warnings)
    messages_at(files, warnings)
    acks_at(files, warnings)
    return warnings


def _for(msg: dict[str, Any], sess: Session, roles: set[str]) -> bool:
    kind, to = msg["to_kind"], msg["to"]
    return ((kind == roster.SESSION and to == sess.id)
            or (kind == roster.OWNER and to == sess.owner)
            or (kind == roster.ROLE and to in roles))


Build = Callable[[Oid | None, dict[str, bytes]],
                 tuple[dict[str, bytes | None], str, dict[str, Any]]]


Changes = tuple[dict[str, bytes | None], str, dict[str, Any]]


def _write(ctx: Context, actor: str, kind: str, build: Build) -> dict[str, Any]:
    """Run ``build(tip, files) -> (changes, message, result)`` in the CAS loop."""
    def attempt(tip: Oid | None) -> gitrefs.Proposal[dict[str, Any]]:
        files = _files(ctx, tip)
        changes, message, result = build(tip, files)
        if not changes:
            return gitrefs.Proposal(result)
        commit = ctx.odb.write_tree_update(tip, changes, message, when=ctx.now())

        def done(commit: Oid) -> dict[str, Any]:
            data = {k: v for k, v in result.items() if k in ("id", "to", "ids", "reader")}
            data["tip"] = commit
            with ctx.store.write(actor, kind, data):
                pass
            return result

        return gitrefs.Proposal(result, commit, message.splitlines()[0], done)

    return gitrefs.update(ctx.repo, ctx.odb, REF, attempt)


def send(ctx: Context, sess: Session, to: str, subject: str, body: str = "",
         re_id: str | None = None) -> dict[str, Any]:
    subject = (subject or "").strip()
    if not subject:
        raise UsageError("empty subject", code="bad_subject",
                         hint="say what the message is about: --subject 'may I have src/api/?'")
    if len(subject) > MAX_SUBJECT or "\n" in subject:
        raise UsageError(f"the subject must be one line of at most {MAX_SUBJECT} characters",
                         code="bad_subject", hint="put the details in --body")
    if len(body.encode()) > MAX_BODY:
        raise UsageError(f"the body is over {MAX_BODY // 1024} KiB", code="bad_body",
                         hint="send a path or a commit instead of the content")
    kind, name = roster.resolve(ctx, to)

    def build(tip: Oid | None, files: dict[str, bytes]) -> Changes:
        nums = [int(m.group(1)) for m in map(_MSG.match, files) if m]
        if re_id is not None and f"{re_id}.json" not in files:
            raise NotFound(f"no message {re_id!r} to reply to", code="unknown_message",
                           hint="`orch-hooks mail inbox` lists your messages")
        msg = {"id": f"M-{max(nums, default=0) + 1}", "from_session": sess.id,
               "from_owner": sess.owner, "to": name, "to_kind": kind, "subject": subject,
               "body": body, "re": re_id, "ts": ctx.now(), "time": clock.iso(ctx.now())}
        blob = json.dumps(msg, sort_keys=True).encode() + b"\n"
        text = f"mail {msg['id']} from {sess.owner} to {kind} {name}: {subject}"
        changes: dict[str, bytes | None] = {f"{msg['id']}.json": blob}
        return changes, text, msg

    return _write(ctx, sess.id, "mail.send", build)


def ack(ctx: Context, sess: Session, ids: list[str]) -> dict[str, Any]:
    reader = sess.owner

    def build(tip: Oid | None, files: dict[str, bytes]) -> Changes:
        unknown = [i for i in ids if not _ID.match(i) or f"{i}.json" not in files]
        if unknown:
            raise NotFound(f"no message {unknown[0]!r}", code="unknown_message",
                           hint="`orch-hooks mail inbox` lists your messages")
        done = {i for i in acks_at(files).get(reader, set()) if _ID.match(i)}
        new = sorted(done | set(ids), key=lambda i: int(i[2:]))
        result = {"reader": reader, "ids": ids, "acked": True}
        if set(new) == done:
            return {}, "", result
        doc = {"reader": reader, "ids": new}
        changes: dict[str, bytes | None] = {
            _ack_name(reader): json.dumps(doc, sort_keys=True).encode() + b"\n"}
        return changes, f"mail ack {', '.join(ids)} by {reader}", result

    return _write(ctx, sess.id, "mail.ack", build)


def _listing(msg: dict[str, Any], acked: set[str]) -> dict[str, Any]:
    out = {k: msg.get(k) for k in ("id", "from_owner", "from_session", "to", "to_kind",
                                   "subject", "re", "time")}
    out["unread"] = msg["id"] not in acked
    return out


def inbox(ctx: Context, sess: Session, unread_only: bool = False) -> dict[str, Any]:
    warnings: list[str] = []
    files = _files(ctx, _tip(ctx), warnings)
    acked = acks_at(files, warnings).get(sess.owner, set())
    roles = roster.roles_of(ctx, sess.id)
    mine = [_listing(m, acked) for m in messages_at(files, warnings) if _for(m, sess, roles)]
    if unread_only:
        mine = [m for m in mine if m["unread"]]
    return {"reader": sess.owner, "session": sess.id, "messages": mine,
            "unread": sum(1 for m in mine if m["unread"]), "warnings": warnings}


def read(ctx: Context, sess: Session | None, msg_id: str) -> dict[str, Any]:
    warnings: list[str] = []
    files = _files(ctx, _tip(ctx), warnings)
    name = f"{msg_id}.json"
    data = files.get(name) if _ID.match(msg_id) else None
    if data is None:
        raise NotFound(f"no message {msg_id!r}", code="unknown_message",
                       hint="`orch-hooks mail inbox` lists your messages"
                       + (f" ({warnings[0]})" if warnings else ""))
    got = messages_at({name: data}, warnings)
    if not got:
        raise Refused(f"message {msg_id} cannot be read: {warnings[-1]}", code="bad_message",
                      hint="`orch-hooks doctor` lists what is damaged in the mailbox")
    msg = got[0]
    if sess is not None:
        msg["unread"] = msg_id not in acks_at(files, warnings).get(sess.owner, set())
    if warnings:
        msg["warnings"] = warnings
    return msg


def unread_by_owner(ctx: Context, warnings: list[str] | None = None) -> dict[str, int]:
    """Unread messages per owner of an open session (for the overview)."""
    files = _files(ctx, _tip(ctx), [] if warnings is None else warnings)
    msgs = messages_at(files, warnings)
    if not msgs:
        return {}
    acks = acks_at(files, warnings)
    roles = roster.roles_by_session(ctx)
    rows = ctx.store.conn.execute(
        "SELECT * FROM sessions WHERE status='open' ORDER BY created_at").fetchall()
    ids: dict[str, set[str]] = {}
    for row in rows:
        sess = Session.from_row(row)
        mine = ids.setdefault(sess.owner, set())
        mine |= {m["id"] for m in msgs if _for(m, sess, roles.get(sess.id, set()))}
    out = {owner: len(got - acks.get(owner, set())) for owner, got in ids.items()}
    return {k: v for k, v in out.items() if v}
