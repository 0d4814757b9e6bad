"""The top-level ``orch-hooks --help`` text as click prints it at 80 columns.

Printed by cli/main.py without importing click. Generated: after changing a
command's name or first docstring line, run ``python -m orch_core.cli.helptext``
(tests/cli/test_front.py fails until the two agree).
"""

TOP_HELP = """\
Usage: orch-hooks [OPTIONS] COMMAND [ARGS]...

  Coordinate coding agents in one git repository: locks enforced by git hooks,
  checkpoints on commits, resume after a lost context, and a merge queue.

  Start with `orch-hooks install`, then `orch-hooks session open`.

Options:
  --session ID  Act as this session (default: ORCH_SESSION, then the
                worktree's session).
  -C DIRECTORY  Run as if started in this directory.
  --version     Show the version and exit.
  -h, --help    Show this message and exit.

Commands:
  agent-guide  Print a short block for AGENTS.md / CLAUDE.md on how...
  case         Take, complete or fail a case (the checkpoint anchor).
  doctor       Check hooks, caches, stale git lock files, the database...
  hook         Run one hook by hand (used by the pre-commit framework...
  install      Install the hooks in this repository (idempotent; chains...
  lock         Path and prefix locks held as leases (a path ending in /...
  mcp          MCP server over stdio: every method as a tool (dots become...
  merge        The merge queue for main: request, review, land (only the...
  mirror       The Markdown mirror of the work state (refreshed only on...
  rebuild      Recreate the state database from git (refs/orch/work, lock...
  remote       Remote mode: the team's git remote holds the lock table...
  resume       Carry on after a lost context.
  serve        JSON-lines server on stdin/stdout: one request per line,...
  server       The server-side hook for a bare repository (self-managed...
  session      Open, list, heartbeat and close sessions (agent or human...
  step         Check or uncheck steps of your case.
  sync         Export the work state to refs/orch/work (what `rebuild`...
  task         Tasks: epic > feature > testgroup > case > step, and the...
  uninstall    Remove the hooks and restore the hooks that were there...
  work         Your current work reference (what, where, next).
  worktree     Session-root and child worktrees, their merge and safe...
"""

if __name__ == "__main__":
    import contextlib
    import io
    import os
    from pathlib import Path

    os.environ["COLUMNS"] = "80"
    from orch_core.cli.app import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    here = Path(__file__)
    source = here.read_text()
    head, _, rest = source.partition('TOP_HELP = """\\\n')
    _, _, tail = rest.partition('"""\n')
    here.write_text(head + 'TOP_HELP = """\\\n' + out.getvalue() + '"""\n' + tail)
