"""What a one-shot lock write imports and how it leaves (docs/ARCHITECTURE.md,
performance budgets): no dataclasses, inspect or subprocess, and the exit status
and every byte of output as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testing.repos import ORCH, git, open_session, orch

HEAVY = ("dataclasses", "inspect", "subprocess", "threading", "click", "jsonschema", "pygit2")


def _imported(cwd: Path, session: str, *argv: str) -> tuple[int, list[str]]:
    code = ("import sys\nfrom orch_core.cli.main import main\nsys.argv = ['orch-hooks', "
            + ", ".join(repr(a) for a in argv) + "]\ncode = 0\ntry:\n    main()\n"
            "except SystemExit as e:\n    code = e.code\n"
            f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    env = dict(os.environ, ORCH_SESSION=session)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, env=env)
    status, _sp, found = proc.stderr.strip().splitlines()[-1].partition(" ")
    return int(status), json.loads(found.replace("'", '"'))


def test_lock_writes_import_none_of_the_heavy_modules(repo: Path) -> None:
    (repo / ".orch.toml").write_text("[locks]\ndefault_ttl = 600\n")
    sid = open_session(repo, "a")
    orch(repo, "lock", "acquire", "docs/", session=sid, check=True)
    assert _imported(repo, sid, "lock", "acquire", "src/") == (0, [])
    assert _imported(repo, sid, "lock", "release", "src/", "docs/") == (0, [])
    # A refusal leaves the same way, with its own status.
    other = open_session(repo, "b", "--no-bind")
    orch(repo, "lock", "acquire", "docs/", session=sid, check=True)
    assert _imported(repo, other, "lock", "acquire", "docs/x.md") == (1, [])
    # The work tree's policy still sets the lease length.
    (repo / ".orch.toml").write_text("[locks]\ndefault_ttl = 700\n")
    assert _imported(repo, sid, "lock", "acquire", "src/") == (0, [])
    listed = json.loads(orch(repo, "lock", "list", "--json", session=sid, check=True).stdout)
    assert {lk["path"]: lk["ttl"] for lk in listed["locks"]}["src/"] == 700


def test_console_script_exit_keeps_status_and_output(repo: Path) -> None:
    sid = open_session(repo, "a")
    other = open_session(repo, "b", "--no-bind")
    got = orch(repo, "lock", "acquire", "docs/", "--json", session=sid)
    assert got.returncode == 0 and json.loads(got.stdout)["paths"] == ["docs/"]
    refused = orch(repo, "lock", "acquire", "docs/a.md", session=other)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"locked by session {sid}" in refused.stderr
    usage = orch(repo, "lock", "release", "nothing-here", session=sid)
    assert usage.returncode == 1 and "no live lock on nothing-here" in usage.stderr
    # Output into a pipe that is closed early: no traceback, as before.
    proc = subprocess.run(f"'{ORCH}' lock release docs/ | head -c 0", shell=True, cwd=repo,
                          capture_output=True, text=True, env=dict(os.environ, ORCH_SESSION=sid))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert git(repo, "log", "-1", "--format=%s", "refs/orch/locks").stdout.startswith("release")
