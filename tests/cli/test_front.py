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
    # The lock commands agents call most run without click (cli/lockfront.py).
    assert _modules_after(repo, "lock", "check", "docs/x.md") == []
    assert _modules_after(repo, "lock", "check", "src/", "--json", session=sid) == []
    assert _modules_after(repo, "lock", "acquire", "src/x.py", session=sid) == []
    assert _modules_after(repo, "lock", "release", "src/x.py", session=sid) == []
    assert _modules_after(repo, "lock", "list", session=sid) == ["click"]
    # With the SQLite cache behind the ref, the table is read through git, still no pygit2.
    held = git(repo, "rev-parse", "refs/orch/locks").stdout.strip()
    orch(repo, "lock", "release", "docs/", session=sid, check=True)
    git(repo, "update-ref", "refs/orch/locks", held)
    other = open_session(repo, "b", "--no-bind")
    assert _modules_after(repo, "lock", "check", "docs/x.md", session=other) == []
    blocked = orch(repo, "lock", "check", "docs/x.md", session=other)
    assert blocked.returncode == 1 and f"locked by session {sid}" in blocked.stdout


# `lock check|acquire|release` (cli/lockfront.py): the console script against click
# alone, each on its own copy of the same repository state, so a write by one run
# cannot change what the other sees. Lock ids are random and times move on: those
# are masked, nothing else. "A" and "B" stand for two sessions' ids; A is bound to
# the worktree and holds docs/ and src/api/users.py, B holds src/shared/ shared.
# (argv, ORCH_SESSION or None, does the front answer it without click?)
LOCK_CASES: list[tuple[list[str], str | None, bool]] = [
    (["lock", "check", "src/web/index.html"], "A", True),
    (["lock", "check", "docs/x.md"], "B", True),
    (["lock", "check", "docs/x.md", "--json"], "B", True),
    (["lock", "check", "--json", "docs/", "src/"], None, True),
    (["lock", "check", "src/shared/a.py", "src/api/users.py"], "B", True),
    (["lock", "check", "docs/x.md"], "s-unknown", True),
    (["--session", "s-nope", "lock", "check", "x", "--json"], None, True),
    (["--session", "B", "lock", "check", "docs/"], "A", True),
    (["lock", "check", "../outside"], "A", True),
    (["lock", "check", "/abs/path", "--json"], "A", True),
    (["lock", "check", ""], "A", True),
    (["lock", "check", "src/.git/x", "a//b/./c"], "A", True),
    (["-C", "src", "lock", "check", "web/index.html"], "A", True),
    (["-C", "missing-dir", "lock", "check", "x"], "A", True),
    (["-C", "README.md", "lock", "check", "x"], "A", False),
    (["-C", "", "lock", "check", "x"], "A", False),
    (["--session", "", "lock", "check", "x"], "A", False),
    (["--session=B", "lock", "check", "docs/"], None, False),
    (["lock", "check"], "A", False),
    (["lock", "check", "--help"], "A", False),
    (["lock", "check", "-x", "a"], "A", False),
    (["lock", "check", "a", "-"], "A", False),
    (["lock", "check", "--json", "--json", "a"], "A", False),
    (["lock", "check", "--", "-a"], "A", False),
    (["lock", "check", "a", "--session", "B"], "A", False),
    (["lock", "--json", "check", "a"], "A", False),
    (["lock", "list"], "A", False),
    (["-C", ".", "-C", ".", "lock", "check", "a"], "A", False),
    (["lock", "acquire", "src/new/"], "A", True),
    (["lock", "acquire", "docs/x.md"], "B", True),
    (["lock", "acquire", "docs/x.md", "--json"], "B", True),
    (["lock", "acquire", "src/new/", "--ttl", "60", "--task", "T-1", "--json"], "A", True),
    (["lock", "acquire", "a", "--ttl", "007", "--shared", "--release-on-land"], "A", True),
    (["--session", "B", "lock", "acquire", "src/shared/", "--shared"], None, True),
    (["lock", "acquire", "src/web/"], None, True),
    (["lock", "acquire", "src/web/"], "s-unknown", True),
    (["lock", "acquire", "src/web/", "--task", ""], "A", False),
    (["lock", "acquire", "a", "--ttl", "99999999999999999999999"], "A", True),
    (["lock", "acquire", "a", "--ttl", "0"], "A", False),
    (["lock", "acquire", "a", "--ttl", "abc"], "A", False),
    (["lock", "acquire", "a", "--ttl", "-5"], "A", False),
    (["lock", "acquire", "a", "--ttl"], "A", False),
    (["lock", "acquire", "a", "--task", "--json"], "A", False),
    (["lock", "acquire", "a", "--ttl", "5", "--ttl", "6"], "A", False),
    (["lock", "acquire", "a", "--force"], "A", False),
    (["lock", "release", "docs/"], "A", True),
    (["lock", "release", "docs/", "--json"], "B", True),
    (["lock", "release", "docs/", "--force", "--json"], "B", True),
    (["lock", "release", "L-deadbeef"], "A", True),
    (["lock", "release", "src/api/users.py", "docs/", "--json"], "A", True),
    (["lock", "release", "--force", "src/shared/"], None, True),
    (["lock", "release", "docs/"], None, True),
    (["lock", "release", "x/"], "s-unknown", True),
    (["--session", "B", "-C", ".", "lock", "release", "src/shared/", "--json"], None, True),
    (["lock", "release"], "A", False),
    (["lock", "release", "docs/", "--shared"], "A", False),
]

_MASKS = [
    (r"L-[0-9a-f]{8}", "L-ID"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "ISO"),
    (r'("(?:acquired_at|expires_at)": )[0-9.e+]+', r"\1T"),
    (r'("expires_in": )\d+', r"\1N"),
    (r"\(in \d+ min\)", "(in N min)"),
]


def _mask(text: str) -> str:
    import re

    for pattern, repl in _MASKS:
        text = re.sub(pattern, repl, text)
    return text


@pytest.fixture(scope="module")
def lock_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from testing.repos import make_repo

    repo = make_repo(tmp_path_factory.mktemp("front") / "repo")
    a = open_session(repo, "alice")
    b = open_session(repo, "bob", "--no-bind")
    orch(repo, "lock", "acquire", "docs/", "src/api/users.py", "--task", "T-9", session=a,
         check=True)
    orch(repo, "lock", "acquire", "src/shared/", "--shared", session=b, check=True)
    return repo, {"A": a, "B": b}


def _in_copy(state: Path, work: Path, cmd: list[str], session: str | None,
             ) -> tuple[int, str, str]:
    import shutil

    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(state, work, symlinks=True)
    env = dict(os.environ)
    env.pop("ORCH_SESSION", None)
    if session is not None:
        env["ORCH_SESSION"] = session
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
    return proc.returncode, _mask(proc.stdout), _mask(proc.stderr)


@pytest.mark.parametrize("argv,session,fast", LOCK_CASES,
                         ids=lambda x: " ".join(x) if isinstance(x, list) else str(x))
def test_lock_front_matches_click(lock_state: tuple[Path, dict[str, str]], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                  session: str | None, fast: bool) -> None:
    from orch_core.cli import lockfront

    state, ids = lock_state
    argv = [ids.get(a, a) for a in argv]
    sid = ids.get(session, session) if session is not None else None
    monkeypatch.chdir(state)
    monkeypatch.delenv("_ORCH_HOOKS_COMPLETE", raising=False)
    assert (lockfront.parse(argv) is not None) == fast
    work = tmp_path / "work"
    front = _in_copy(state, work, [ORCH, *argv], sid)
    slow = _in_copy(state, work, [*CLICK, *argv], sid)
    assert front == slow, argv
    if fast and front[0] == 0 and argv[-1] != "--json":
        assert front[1], argv  # the case did something worth comparing


def test_lock_front_leaves_completion_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch_core.cli import lockfront

    monkeypatch.setenv("_ORCH_HOOKS_COMPLETE", "bash_complete")
    assert lockfront.parse(["lock", "check", "a"]) is None
