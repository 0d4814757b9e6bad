"""`lock check`, `lock acquire` and `lock release` without importing click.

Agents call these once per action, and importing click costs about as much as
the whole start-up budget of `lock check` (docs/ARCHITECTURE.md, performance
budgets). This front parses exactly the argument lists it fully understands:

    orch-hooks [--session ID] [-C DIR] lock check PATH... [--json]
    orch-hooks [--session ID] [-C DIR] lock acquire PATH... [--shared] [--ttl N]
               [--task ID] [--release-on-land] [--json]
    orch-hooks [--session ID] [-C DIR] lock release TARGET... [--force] [--json]

(options after the subcommand in any order among its arguments, each at most
once, values as separate arguments) and calls the same method with the same
parameters as the click command, printing the same bytes with the same exit
status. Anything else, including every usage error, help and shell completion,
is left to click (:func:`parse` returns None). tests/cli/test_front.py runs
both over many argument lists and compares stdout, stderr and exit status.
"""

from __future__ import annotations

import os
import sys

from orch_core.cli import output

# typing.TYPE_CHECKING without importing typing (about 3 ms of every call here);
# mypy reads this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

# Per subcommand: the method, the name of its positional list, its flags, and its
# options that take a value.
_COMMANDS: dict[str, tuple[str, str, frozenset[str], frozenset[str]]] = {
    "check": ("lock.check", "paths", frozenset({"--json"}), frozenset()),
    "acquire": ("lock.acquire", "paths",
                frozenset({"--json", "--shared", "--release-on-land"}),
                frozenset({"--ttl", "--task"})),
    "release": ("lock.release", "targets", frozenset({"--json", "--force"}), frozenset()),
}
_GLOBAL = frozenset({"--session", "-C"})
# click's shell completion runs when this variable is set (`_<PROG>_COMPLETE`).
_COMPLETE_VAR = "_ORCH_HOOKS_COMPLETE"


class Call:
    """An argument list the front answers (a plain class: a NamedTuple needs typing)."""

    __slots__ = ("args", "cwd", "flags", "session", "sub", "values")

    def __init__(self, sub: str, cwd: str | None, session: str | None, args: list[str],
                 flags: frozenset[str], values: dict[str, str]) -> None:
        self.sub, self.cwd, self.session = sub, cwd, session
        self.args, self.flags, self.values = args, flags, values


def _is_value(arg: str) -> bool:
    return arg != "" and not arg.startswith("-")


def _dir_ok(value: str) -> bool:
    """Would click's Path(file_okay=False) take ``value`` as given?"""
    if not _is_value(value):
        return False
    try:
        st = os.stat(value)
    except OSError:
        return True  # click takes a directory that does not exist (yet)
    except ValueError:
        return False
    import stat

    return not stat.S_ISREG(st.st_mode)


def parse(argv: list[str]) -> Call | None:
    """The call ``argv`` asks for, or None when click must answer."""
    if os.environ.get(_COMPLETE_VAR):
        return None
    glob: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i] in _GLOBAL:
        if argv[i] in glob or i + 1 >= len(argv) or not _is_value(argv[i + 1]):
            return None
        glob[argv[i]] = argv[i + 1]
        i += 2
    if argv[i:i + 1] != ["lock"] or i + 1 >= len(argv) or argv[i + 1] not in _COMMANDS:
        return None
    sub = argv[i + 1]
    _method, _list, flag_names, value_names = _COMMANDS[sub]
    args: list[str] = []
    flags: set[str] = set()
    values: dict[str, str] = {}
    rest = argv[i + 2:]
    j = 0
    while j < len(rest):
        arg = rest[j]
        if not arg.startswith("-"):
            args.append(arg)
        elif arg in flag_names and arg not in flags:
            flags.add(arg)
        elif arg in value_names and arg not in values and j + 1 < len(rest) \
                and _is_value(rest[j + 1]):
            values[arg] = rest[j + 1]
            j += 1
        else:
            return None
        j += 1
    ttl = values.get("--ttl")
    if ttl is not None and not (ttl.isascii() and ttl.isdigit() and int(ttl) >= 1):
        return None
    if not args or ("-C" in glob and not _dir_ok(glob["-C"])):
        return None
    return Call(sub, glob.get("-C"), glob.get("--session"), args, frozenset(flags), values)


def _params(call: Call) -> dict[str, Any]:
    """What the click command passes to the method (cli/workspace.py)."""
    f = call.flags
    if call.sub == "acquire":
        ttl = call.values.get("--ttl")
        return {"paths": call.args, "shared": "--shared" in f or None,
                "ttl": int(ttl) if ttl is not None else None, "task": call.values.get("--task"),
                "release_on_land": "--release-on-land" in f or None}
    if call.sub == "release":
        return {"targets": call.args, "force": "--force" in f or None}
    return {"paths": call.args}


def _human(sub: str) -> Callable[[Any], str]:
    texts: dict[str, Callable[[Any], str]] = {
        "check": output.check_text, "acquire": output.acquired_text,
        "release": output.released_text}
    return texts[sub]


def _invoke(call: Call) -> int:
    if call.sub == "check":
        # The common answer, every path free, from the hook index alone.
        from orch_core.cli import quickcheck

        code = quickcheck.answer(call.cwd, call.session, call.args, "--json" in call.flags)
        if code is not None:
            return code
    from pathlib import Path

    from orch_core.api import dispatch
    from orch_core.state.context import Context

    # A lock write needs core.ignorecase (the conflict rule) as surely as the repository.
    ctx = Context(cwd=Path(call.cwd) if call.cwd is not None else Path.cwd(),
                  session_override=call.session, one_shot=True,
                  case_with_repo=call.sub != "check")
    try:
        params = {k: v for k, v in _params(call).items() if v is not None}
        result = dispatch.call(ctx, _COMMANDS[call.sub][0], params)
        if "--json" in call.flags:
            import json

            output.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
        else:
            text = _human(call.sub)(result)
            if text:
                output.echo(output.safe(text))
    finally:
        ctx.close()
    return 0 if call.sub != "check" or result["ok"] else 1


class _PacifyFlush:
    """What click puts around stdout and stderr after a broken pipe: flushing them at
    exit stays quiet."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as e:
            import errno

            if e.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)


def run(call: Call) -> int:
    """Run ``call`` as the click application would: the exit status to leave with.

    The handlers mirror click's ``main(standalone_mode=False)`` and cli/app.py's.
    orch_core.errors (and typing with it) is imported only when something failed.
    """
    as_json = "--json" in call.flags
    try:
        try:
            return _invoke(call)
        except (EOFError, KeyboardInterrupt):
            from orch_core.errors import EXIT_INTERRUPTED

            output.echo("", err=True)  # click's blank line after ^C
            output.echo("aborted", err=True)
            return EXIT_INTERRUPTED
        except OSError as e:
            import errno

            if e.errno != errno.EPIPE:
                raise
            sys.stdout = _PacifyFlush(sys.stdout)
            sys.stderr = _PacifyFlush(sys.stderr)
            return 1
    except Exception as e:
        return _failed(e, as_json)


def leave(code: int) -> NoReturn:
    """Exit with ``code`` as ``sys.exit`` would, without tearing the interpreter down.

    Freeing every module of a lock write costs about 6 ms of each call
    (docs/ARCHITECTURE.md, performance budgets), and nothing of it is needed once
    the answer is out: the state database is closed, the writer lock and every file
    descriptor go with the process. What the exit would still do that matters runs
    here first: the ``atexit`` callbacks, and the flush of stdout and stderr. When
    a thread other than the main one is alive, or a flush fails (a closed pipe),
    the ordinary exit handles it as before; and so it does when the process is not
    the `orch-hooks` console script itself (a program that called :func:`main
    <orch_core.cli.main.main>` gets its SystemExit back).
    """
    script = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if os.path.basename(script) != "orch-hooks":
        sys.exit(code)
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)  # the ordinary exit joins them first
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # the ordinary exit reports it as it always did
        sys.exit(code)
    os._exit(code)


def _failed(e: Exception, as_json: bool) -> int:
    """The exit status after an error escaped the command (cli/app.py's handlers)."""
    from orch_core.errors import EXIT_BUG, OrchError, log_bug

    if isinstance(e, OrchError):
        output.print_error(e, as_json)
        return e.exit_code
    if isinstance(e, BrokenPipeError):
        return 0
    path = log_bug(f"argv: {sys.argv!r}", e)
    if as_json:
        import json

        output.echo(json.dumps({"error": {
            "code": "internal", "message": f"{type(e).__name__}: {e}", "retryable": False,
            "hint": f"this is a bug; the traceback is in {path}"}}, indent=2,
            sort_keys=True))
    output.echo(f"orch-hooks: internal error: {type(e).__name__}: {e}", err=True)
    output.echo(f"  this is a bug; the traceback is in {path}", err=True)
    return EXIT_BUG
