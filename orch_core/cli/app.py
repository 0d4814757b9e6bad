"""The click application of `orch-hooks`: parsing over the dispatcher, nothing more.

cli/main.py is the console script; it answers a bare ``--help`` itself and hands
everything else to :func:`main` here. Command groups load on first use: the
command name says which module registers it (``COMMANDS``), so `lock check`
imports the lock commands only.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from orch_core.cli.common import State
from orch_core.cli.output import print_error
from orch_core.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE, OrchError, log_bug

# Modules that add commands with `register(main_group)`, and the top-level commands
# each adds (a test checks this table against what the modules register).
CLI_MODULES: dict[str, tuple[str, ...]] = {
    "orch_core.cli.workspace": ("install", "uninstall", "doctor", "hook", "session", "lock"),
    "orch_core.cli.agents": ("serve", "mcp", "agent-guide", "worktree"),
    "orch_core.cli.work": ("task", "case", "step", "resume", "work", "mirror", "sync",
                           "rebuild"),
    "orch_core.cli.merge": ("merge",),
    "orch_core.cli.team": ("mail", "events", "spawn", "team", "status", "monitor"),
    "orch_core.cli.remote": ("remote", "server"),
}
COMMANDS = {cmd: mod for mod, cmds in CLI_MODULES.items() for cmd in cmds}

class LazyGroup(click.Group):
    """A group whose commands are registered by their module on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            importlib.import_module(module).register(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is not None:
            self._load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in CLI_MODULES:
            self._load(module)
        return super().list_commands(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--session", "session", metavar="ID", envvar=None,
              help="Act as this session (default: ORCH_SESSION, then the worktree's session).")
@click.option("--act-for", "act_for", is_flag=True, default=False,
              help="Let --session or ORCH_SESSION name a session of another owner "
                   "(journaled with both names; README, \"Identity\").")
@click.option("-C", "cwd", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run as if started in this directory.")
@click.version_option(package_name="orch-hooks")
@click.pass_context
def main_group(cctx: click.Context, session: str | None, act_for: bool,
               cwd: Path | None) -> None:
    """Coordinate coding agents in one git repository: locks enforced by git hooks,
    checkpoints on commits, resume after a lost context, and a merge queue.

    Start with `orch-hooks install`, then `orch-hooks session open`.
    """
    cctx.obj = State(cwd or Path.cwd(), session)
    if act_for:
        cctx.obj.ctx.cache["act_for"] = True  # read by work/identity.py
    cctx.call_on_close(cctx.obj.ctx.close)


def _usage_hint(e: click.exceptions.UsageError) -> str:
    if isinstance(e, click.exceptions.NoSuchOption) and e.option_name == "--session":
        # --session belongs to the top-level group; users naturally type it last.
        return "--session goes before the command: `orch-hooks --session ID COMMAND ...`"
    return ""


def _print_usage_json(message: str, hint: str) -> None:
    """A --json caller parses stdout: a usage error is JSON there too."""
    err = {"code": "usage", "message": message, "retryable": False, "hint": hint}
    click.echo(json.dumps({"error": err}, indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> None:
    """Run the click application: one top-level handler for every error."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        rv = main_group.main(args=args, prog_name="orch-hooks", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(EXIT_USAGE)
    except click.exceptions.UsageError as e:
        hint = _usage_hint(e)
        if as_json:
            cmd = e.ctx.command_path if e.ctx else "orch-hooks COMMAND"
            _print_usage_json(e.format_message(), hint or f"see `{cmd} --help`")
        e.show()
        if hint:
            click.echo(f"  hint: {hint}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except OrchError as e:
        print_error(e, as_json)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:
        path = log_bug(f"argv: {sys.argv!r}", e)
        if as_json:
            click.echo(json.dumps({"error": {
                "code": "internal", "message": f"{type(e).__name__}: {e}", "retryable": False,
                "hint": f"this is a bug; the traceback is in {path}"}}, indent=2, sort_keys=True))
        click.echo(f"orch-hooks: internal error: {type(e).__name__}: {e}", err=True)
        click.echo(f"  this is a bug; the traceback is in {path}", err=True)
        sys.exit(EXIT_BUG)
    sys.exit(rv if isinstance(rv, int) else 0)
