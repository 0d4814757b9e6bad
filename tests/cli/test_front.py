"""The console script's own `--help` is byte-for-byte click's; every other call is click's."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from orch_core.cli import app
from orch_core.cli.helptext import TOP_HELP
from testing.repos import ORCH, git, open_session, orch

CLICK = [sys.executable, "-c", "import sys\nfrom orch_core.cli.app import main\nmain(sys.argv[1:])"]

ARGVS = [
    [], ["--help"], ["-h"], ["--help", "--json"], ["-h", "lock"], ["lock", "--help"],
    ["lock", "check", "--help"], ["--hel"], ["-C", ".", "--help"], ["--session", "x", "-h"],
    ["help"], ["--HELP"], ["-hh"], ["--", "--help"], ["--help", "--help"], ["nope"],
    ["lock"], ["session", "-h"], ["merge", "queue", "--help"], ["--version"],
]
WIDTHS = [None, "80", "79", "50", "40", "200", "abc", "0", "-3"]


def _run(cmd: list[str], cwd: Path, columns: str | None) -> tuple[int, str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a) or "(none)")
def test_console_script_matches_click(repo: Path, argv: list[str]) -> None:
    widths = WIDTHS if len(argv) <= 1 else [None]
    for columns in widths:
        fast = _run([ORCH, *argv], repo, columns)
        slow = _run([*CLICK, *argv], repo, columns)
        assert fast == slow, (argv, columns)


def test_helptext_is_what_click_prints_at_80_columns(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      ) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as info:
        app.main(["--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out == TOP_HELP, "run `python -m orch_core.cli.helptext`"


def test_command_table_names_what_each_module_registers() -> None:
    for module, names in app.CLI_MODULES.items():
        group = click.Group()
        importlib.import_module(module).register(group)
        assert sorted(group.commands) == sorted(names), module


def _modules_after(cwd: Path, *argv: str, session: str | None = None) -> list[str]:
    code = ("import sys\nfrom orch_core.cli.main import main\nsys.argv = ['orch-hooks', "
            + ", ".join(repr(a) for a in argv) + "]\ntry:\n    main()\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in ('click', 'jsonschema', 'pygit2', 'mcp', "
            "'orch_core.merge.lander', 'orch_core.api.methods.work') if m in sys.modules), "
            "file=sys.stderr)")
    env = dict(os.environ)
    if session:
        env["ORCH_SESSION"] = session
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, env=env)
    found: list[str] = json.loads(proc.stderr.strip().splitlines()[-1].replace("'", '"'))
    return found


def test_commands_import_only_what_they_use(repo: Path) -> None:
    assert _modules_after(repo, "--help") == []
    sid = open_session(repo, "a")
    orch(repo, "lock", "acquire", "docs/", session=sid, check=True)
    assert _modules_after(repo, "lock", "check", "docs/x.md") == ["click"]
    assert _modules_after(repo, "lock", "check", "src/", "--json", session=sid) == ["click"]
    # With the SQLite cache behind the ref, the table is read through git, still no pygit2.
    held = git(repo, "rev-parse", "refs/orch/locks").stdout.strip()
    orch(repo, "lock", "release", "docs/", session=sid, check=True)
    git(repo, "update-ref", "refs/orch/locks", held)
    other = open_session(repo, "b", "--no-bind")
    assert _modules_after(repo, "lock", "check", "docs/x.md", session=other) == ["click"]
    blocked = orch(repo, "lock", "check", "docs/x.md", session=other)
    assert blocked.returncode == 1 and f"locked by session {sid}" in blocked.stdout
