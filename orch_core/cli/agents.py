"""Commands: serve, mcp, worktree (create, list, merge-to-parent, gc, rescued, decide),
agent-guide."""

from __future__ import annotations

from typing import Any

import click

from orch_core.cli.common import State, json_option, pass_state, run_method

AGENT_GUIDE = """\
## Working in this repository (orch-hooks)

Several agents share this repository. Git hooks refuse commits and pushes that
touch paths locked by another session, so follow these steps.

1. Open your session in your own worktree, then go there:
     orch-hooks session open --owner YOUR-NAME --worktree --json
     cd <path> && export ORCH_SESSION=<session_id>    # its "enter" field
2. Lock before you edit; a path ending in / locks the whole folder:
     orch-hooks lock check src/api/users.py
     orch-hooks lock acquire src/api/ --task CASE-ID
   A conflict names the holder, the task and the expiry: wait, pick other
   work, or ask the holder (`orch-hooks mail send --to HOLDER --subject ...`).
   Renew long leases with `orch-hooks lock heartbeat`.
3. Walk your case: `orch-hooks case begin CASE-ID`; after each step
   `orch-hooks step check STEP-ID`; at the end
   `orch-hooks case complete CASE-ID --next "what comes next"`.
   Commit often: each commit carries your checkpoint (git log --notes=orch).
   A case waits for its unfinished blockers and you run one case at a time
   (`--force` overrides both, and is journaled).
4. Lost your context (compaction, crash, new terminal)? `orch-hooks resume next`
   says what you were doing, what to do next and your unread mail. From a fresh session:
   `orch-hooks resume candidates`, then `orch-hooks resume attach SESSION`.
   Keep `orch-hooks session heartbeat` going: a session silent for its ttl
   plus the grace is dead, its locks stop counting for everyone and its case
   goes back to `orch-hooks task ready` (its checkpoint kept) for others to take.
   Until then (alive, or interrupted: heartbeat lapsed) the case stays its own;
   `case begin --force` takes it anyway (journaled), and then the old session's
   `resume next` says the case was taken: stop working on it.
5. Done: `orch-hooks merge request` queues your branch for main. Never push to
   main yourself; a reviewer of another owner approves (the roles and the risky
   paths that need more approvals are in .orch.toml on main: `orch-hooks merge
   queue` shows what an entry still needs) and the lander merges.
   `orch-hooks mirror request` asks the doc-mirror manager for a refresh.
6. `orch-hooks session close` releases your locks when you stop.
Tools instead of a shell: `orch-hooks mcp` (MCP; session_open, lock_acquire, ...)
or `orch-hooks serve` (JSON lines; rpc.describe lists every method and schema).
"""


def _wt_line(w: dict[str, Any]) -> str:
    state = w.get("session_state") or "none"
    sess = f"{w['session']} ({state})" if w.get("session") else "-"
    miss = "  [missing]" if w.get("missing") else ""
    return f"{w['kind']:<13} {w.get('branch') or '(detached)':<34} {sess:<24} {w['path']}{miss}"


def register(main: click.Group) -> None:
    @main.command()
    @pass_state
    def serve(state: State) -> int:
        """JSON-lines server on stdin/stdout: one request per line, one response per line.

        Request: {"id": 1, "method": "lock.acquire", "params": {"paths": ["src/"]}}.
        `rpc.describe` lists every method with its schema. Exits 0 at end of input.
        """
        from orch_core.servers import jsonl as server

        state.ctx.one_shot = False  # long-running: write orch refs in process
        return server.serve(state.ctx)

    @main.command()
    @pass_state
    def mcp(state: State) -> int:
        """MCP server over stdio: every method as a tool (dots become underscores)."""
        from orch_core.servers import mcp as mcp_server

        state.ctx.one_shot = False  # long-running: write orch refs in process
        return mcp_server.serve(state.ctx)

    @main.command("agent-guide")
    def agent_guide() -> int:
        """Print a short block for AGENTS.md / CLAUDE.md on how agents work here."""
        click.echo(AGENT_GUIDE, nl=False)
        return 0

    @main.group()
    def worktree() -> None:
        """Session-root and child worktrees, their merge and safe clean-up."""

    @worktree.command("create")
    @click.option("--owner", help="Who the new session is (default: git user.name).")
    @click.option("--intent", type=click.Choice(["new_work", "resume_work"]),
                  default="new_work", show_default=True)
    @click.option("--ttl", type=click.IntRange(min=1), help="Seconds alive without heartbeat.")
    @click.option("--base", help="Start the branch here (default: the base branch).")
    @click.option("--parent", metavar="SESSION_ROOT",
                  help="Make a child worktree of this session root (session id, path or "
                       "branch).")
    @click.option("--name", help="Short name for a child worktree.")
    @json_option
    @pass_state
    def wt_create(state: State, owner: str | None, intent: str, ttl: int | None,
                  base: str | None, parent: str | None, name: str | None,
                  as_json: bool) -> int:
        """Create a session-root worktree (new session) or a child worktree (--parent)."""
        def human(r: dict[str, Any]) -> str:
            if r.get("candidates"):
                lines = [f"session {r['session_id']} opened; resume candidates:"]
                lines += [f"  {c}" for c in r["candidates"]]
                lines.append(f"  {r['export']}")
                return "\n".join(lines)
            what = "child worktree" if r.get("kind") == "child" else "session-root worktree"
            lines = [f"{what} {r['path']} on branch {r['branch']}"]
            if r.get("session_id"):
                lines.append(f"session {r['session_id']} ({r['owner']})")
            lines.append(f"enter it: {r['enter']}")
            return "\n".join(lines)
        run_method(state, "worktree.create",
                   {"owner": owner, "intent": intent, "ttl": ttl, "base": base,
                    "parent": parent, "name": name}, as_json, human)
        return 0

    @worktree.command("list")
    @json_option
    @pass_state
    def wt_list(state: State, as_json: bool) -> int:
        """List worktrees with their kind, branch and session state."""
        def human(r: dict[str, Any]) -> str:
            return "\n".join([f"root: {r['root']}", *(_wt_line(w) for w in r["worktrees"])])
        run_method(state, "worktree.list", {}, as_json, human)
        return 0

    @worktree.command("merge-to-parent")
    @click.argument("child", required=False)
    @json_option
    @pass_state
    def wt_merge(state: State, child: str | None, as_json: bool) -> int:
        """Merge a child worktree's branch into its session root (default: this one)."""
        def human(r: dict[str, Any]) -> str:
            if r["merged"]:
                return f"merged {r['child_branch']} into {r['parent_branch']} ({r['head']})"
            return (f"conflicts merging {r['child_branch']} into {r['parent_branch']}:\n"
                    + "\n".join(f"  {p}" for p in r["conflicts"]) + f"\n{r['hint']}")
        r = run_method(state, "worktree.merge_to_parent", {"child": child}, as_json, human)
        return 0 if r["merged"] else 1

    @worktree.command("gc")
    @click.option("--dry-run", is_flag=True, help="Only report.")
    @click.option("--no-rescue", is_flag=True,
                  help="Leave worktrees with unsaved work alone instead of saving them.")
    @json_option
    @pass_state
    def wt_gc(state: State, dry_run: bool, no_rescue: bool, as_json: bool) -> int:
        """Remove worktrees of closed or dead sessions; unsaved work goes to a rescue ref."""
        def human(r: dict[str, Any]) -> str:
            verb = "would remove" if r["dry_run"] else "removed"
            lines = []
            for w in r["removed"]:
                saved = f", saved to {w['rescue_ref']}" if w.get("rescue_ref") else ""
                lines.append(f"{verb} {w['path']} ({w['session_state']} session "
                             f"{w['session']}){saved}")
            lines += [f"kept {w['path']}: {w['why']}" for w in r["kept"]]
            return "\n".join(lines) or "nothing to clean up"
        run_method(state, "worktree.gc", {"dry_run": dry_run or None,
                                          "rescue": False if no_rescue else None},
                   as_json, human)
        return 0

    @worktree.command("rescued")
    @json_option
    @pass_state
    def wt_rescued(state: State, as_json: bool) -> int:
        """List work saved by gc under refs/orch/rescue/."""
        def human(r: dict[str, Any]) -> str:
            if not r["rescued"]:
                return "no rescued work"
            return "\n".join(f"{x['ref']}  {x['date']}  {x['subject']}\n  restore: {x['restore']}"
                             for x in r["rescued"])
        run_method(state, "worktree.rescued", {}, as_json, human)
        return 0

    @worktree.command("decide")
    @click.argument("paths", nargs=-1)
    @click.option("--files", type=click.IntRange(min=0), help="Files it will change.")
    @click.option("--duration", type=click.FloatRange(min=0), default=0.0,
                  help="Expected minutes.")
    @click.option("--risk", type=click.Choice(["low", "medium", "high"]), default="low",
                  show_default=True)
    @click.option("--participants", type=click.IntRange(min=0),
                  help="Agents in parallel (default: live sessions).")
    @json_option
    @pass_state
    def wt_decide(state: State, paths: tuple[str, ...], files: int | None, duration: float,
                  risk: str, participants: int | None, as_json: bool) -> int:
        """Worktree or lock for a planned task touching PATHS?"""
        def human(r: dict[str, Any]) -> str:
            return "\n".join([f"decision: {r['decision']} (score {r['score']:.2f})",
                              *(f"  {x}" for x in r["reasons"]), f"next: {r['next']}"])
        run_method(state, "scheduler.decide_worktree",
                   {"paths": list(paths) or None, "files": files, "duration": duration,
                    "risk": risk, "participants": participants}, as_json, human)
        return 0
