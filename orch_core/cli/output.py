"""Printing without importing click: the human texts of the lock commands and an
``echo`` that writes what ``click.echo`` writes.

Shared by the click commands (cli/workspace.py) and the lock front
(cli/lockfront.py), so both print the same bytes.
"""

from __future__ import annotations

import sys

# typing.TYPE_CHECKING without importing typing: the lock front (cli/lockfront.py)
# prints through this module and imports no typing at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from orch_core.api.results import LockAcquired, LockCheck, LockJson, LockReleased
    from orch_core.errors import OrchError


# C0 controls but newline and tab, DEL, C1 controls, and the bidirectional overrides:
# shown as escapes, never sent to a terminal raw (an OSC 52 in a mail subject would
# write the reader's clipboard). docs/ARCHITECTURE.md, "Text output".
_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20),
                                      *range(0x7F, 0xA0))}
_UNSAFE.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def safe(text: str) -> str:
    """``text`` fit for a terminal: control characters (escape sequences) made visible
    as ``\\xNN``; newlines and tabs kept. The one sanitiser of every human text
    output (lock lines, mail, events, status, errors); JSON output is never passed
    through it (json.dumps escapes them itself)."""
    return text.translate(_UNSAFE)


def _plain_stream(stream: object) -> bool:
    """Does click.echo write text to ``stream`` unchanged? (An ASCII stream click
    rewraps as UTF-8; a missing one it skips.)"""
    if stream is None:
        return False
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name != "ascii"
    except LookupError:
        return True


def echo(text: str, err: bool = False) -> None:
    """``click.echo(text, err=err)``: click itself only when it would change the text
    (ANSI escapes off a terminal, an ASCII-configured stream)."""
    stream = sys.stderr if err else sys.stdout
    if "\x1b" in text or not _plain_stream(stream):
        import click

        click.echo(text, err=err)
        return
    stream.write(text + "\n")
    stream.flush()


def print_error(e: OrchError, as_json: bool) -> None:
    """An expected failure: JSON on stdout for a --json caller, the message on stderr."""
    if as_json:
        import json

        echo(json.dumps({"error": e.to_dict()}, indent=2, sort_keys=True, default=str))
    msg = safe(e.message.rstrip())
    echo(f"orch-hooks: error: {msg}", err=True)
    if e.hint:
        echo(f"  hint: {safe(e.hint)}", err=True)


def lock_line(lk: LockJson) -> str:
    task = f" task {lk['task']}" if lk.get("task") else ""
    state = "" if lk.get("live", True) else " (expired)"
    return safe(f"{lk['id']}  {lk['path']:<32} {lk['mode']:<9} {lk['session']} "
                f"({lk['owner']}){task}  expires {lk['expires']}{state}")


def acquired_text(r: LockAcquired) -> str:
    lines = ["acquired " + lock_line(lk) for lk in r["locks"]]
    return "\n".join(lines + [f"warning: {w}" for w in r.get("warnings", [])])


def released_text(r: LockReleased) -> str:
    verb = "force-released " if r["force"] else "released "
    return "\n".join(verb + lock_line(lk) for lk in r["released"])


def check_text(r: LockCheck) -> str:
    if r["ok"]:
        return "free: " + ", ".join(p["path"] for p in r["paths"])
    return "blocked:\n" + str(r["message"])
