"""The `orch-hooks` console script: a bare ``--help`` here, everything else in cli/app.py.

Agents call the CLI once per action, so start-up is paid on every call. Importing
click alone costs more than the 35 ms budget of ``orch-hooks --help``
(docs/ARCHITECTURE.md, performance budgets), so the top-level help, the one text
an agent reads first, is printed from cli/helptext.py without importing click.
That text is what click prints at the full 80-column width; on a narrower
terminal click itself answers. `lock check`, `lock acquire` and `lock release`,
which agents call most, are run by cli/lockfront.py without click too; every
other argument list goes to click. tests/cli/test_front.py runs both over many
argument lists and compares bytes.
"""

from __future__ import annotations

import os
import sys

HELP_FLAGS = ("--help", "-h")


def _columns() -> int:
    """The terminal width as click's help formatter sees it (shutil.get_terminal_size)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80
    return columns or 80


def fast_help(args: list[str]) -> int | None:
    """The exit status after printing the top-level help, or None for click to answer."""
    if len(args) > 1 or (args and args[0] not in HELP_FLAGS) or _columns() < 80:
        return None
    from orch_core.cli.helptext import TOP_HELP

    try:
        sys.stdout.write(TOP_HELP)
        sys.stdout.flush()
    except BrokenPipeError:
        return 0
    return 0 if args else 2  # no arguments at all is a usage error that shows the help


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    code = fast_help(args)
    if code is not None:
        sys.exit(code)
    if "lock" in args:
        from orch_core.cli import lockfront

        call = lockfront.parse(args)
        if call is not None:
            lockfront.leave(lockfront.run(call))
    from orch_core.cli.app import main as click_main

    click_main(args)
