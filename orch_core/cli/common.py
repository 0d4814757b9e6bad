"""What every command module shares: the state click passes, the --json option, and
calling a method through the dispatcher."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orch_core.api import dispatch
from orch_core.cli import output
from orch_core.state.context import Context

Human = Callable[[Any], str]


class State:
    def __init__(self, cwd: Path, session: str | None) -> None:
        self.ctx = Context(cwd=cwd, session_override=session, one_shot=True)


pass_state = click.make_pass_decorator(State)


def run_method(state: State, name: str, params: dict[str, Any], as_json: bool,
               human: Human | None = None, sort_keys: bool = True) -> Any:
    """Call a registry method and print its result (JSON or human text)."""
    result = dispatch.call(state.ctx, name, {k: v for k, v in params.items() if v is not None})
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=sort_keys, default=str))
    elif human is not None:
        text = human(result)
        if text:
            click.echo(output.safe(text))  # escape sequences never reach a terminal raw
    return result


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
