"""Commands: install, uninstall, doctor, hook, session, lock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from orch_core.cli.common import State, json_option, pass_state, run_method
from orch_core.cli.output import acquired_text, check_text, lock_line, released_text

if TYPE_CHECKING:
    from orch_core.api.results import (
        LockCheck,
        LockListing,
        LockRenewed,
        SessionClosed,
        SessionJson,
        SessionListing,
        SessionOpened,
    )


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--force", is_flag=True, help="Rewrite shims even if current.")
    @click.option("--shared-hooks", is_flag=True,
                  help="Install into a hooks dir shared by other repositories (a global "
                       "or system core.hooksPath); the shims then do nothing in "
                       "repositories where orch is not installed.")
    @click.option("--remote", metavar="NAME",
                  help="Remote mode: the lock table, queue and notes are shared through "
                       "this git remote (written as [remote] name in .orch.toml).")
    @json_option
    @pass_state
    def install(state: State, force: bool, shared_hooks: bool, remote: str | None,
                as_json: bool) -> int:
        """Install the hooks in this repository (idempotent; chains existing hooks)."""
        def human(r: dict[str, Any]) -> str:
            lines = [f"hooks in {r['hooks_dir']}:"]
            lines += [f"  {h['hook']:<22} {h['action']}" for h in r["hooks"]]
            for m in r.get("moved_shims") or []:
                lines.append(f"  note: {m} is an orch shim a hook manager moved there")
            lines.append(f"state: {r['state']}")
            prot = r.get("protected") or []
            if r.get("policy_written"):
                lines.append(f"wrote {r['policy']} (commit it to share the policy)")
            if prot:
                lines.append(f"protected: {', '.join(prot)} (from {r['protected_from']}): "
                             f"it moves only through the merge queue; work on a branch of "
                             f"your own and `orch-hooks merge request` it")
                lines.append("  working alone without a queue? set protected = [] in "
                             ".orch.toml (README: Working alone)")
            else:
                lines.append("protected: none (.orch.toml says protected = [])")
            if r.get("remote"):
                lines.append(f"remote mode: locks, queue and notes go through "
                             f"{r['remote']!r}" + (" (wrote [remote] in .orch.toml: commit "
                                                   "it on main for the team)"
                                                   if r.get("remote_policy_written") else ""))
            lines.append(f"remove the hooks without Python: sh {r['uninstaller']}")
            lines.append("next: `orch-hooks session open` (and see `orch-hooks agent-guide`)")
            return "\n".join(lines)
        run_method(state, "workspace.init", {"force": force, "shared_hooks": shared_hooks,
                                              "remote": remote}, as_json, human)
        return 0

    @main.command()
    @click.option("--purge", is_flag=True,
                  help="Also remove refs/orch/*, refs/notes/orch, the orch state and "
                       "orch's worktrees, after saving unsaved work to a bundle.")
    @json_option
    @pass_state
    def uninstall(state: State, purge: bool, as_json: bool) -> int:
        """Remove the hooks and restore the hooks that were there before."""
        def human(r: dict[str, Any]) -> str:
            out = [f"  {h['hook']:<22} {h['action']}" for h in r["hooks"]]
            out += [f"saved: {s['what']} ({s['ref']})" for s in r.get("saved") or []]
            if r.get("bundle"):
                import shlex

                out.append(f"saved in {r['bundle']} (`git fetch {shlex.quote(r['bundle'])} "
                           "'refs/*:refs/*'` brings it back)")
            out += [f"removed: {item}" for item in r.get("removed") or []]
            left = r.get("left") or []
            if left:
                out.append("left in the repository (`orch-hooks uninstall --purge` removes "
                           "them):")
                out += [f"  {item['where']}: {item['what']}" for item in left]
            return "\n".join(out)

        run_method(state, "workspace.uninstall", {"purge": purge or None}, as_json, human,
                   sort_keys=False)
        return 0

    @main.command()
    @click.option("--fix", is_flag=True, help="Repair what is safe to repair.")
    @json_option
    @pass_state
    def doctor(state: State, fix: bool, as_json: bool) -> int:
        """Check hooks, caches, stale git lock files, the database and leases."""
        def human(r: dict[str, Any]) -> str:
            lines = []
            for f in r["findings"]:
                mark = "ok " if f["ok"] else ("fixed" if f["fixed"] else "BAD")
                lines.append(f"[{mark}] {f['check']}: {f['detail']}")
            if not r["healthy"]:
                lines.append("run `orch-hooks doctor --fix` to repair what is safe"
                             if not fix else "some problems need a person; see above")
            return "\n".join(lines)
        r = run_method(state, "workspace.doctor", {"fix": fix or None}, as_json, human,
                       sort_keys=False)
        return 0 if r["healthy"] else 1

    @main.command(context_settings={"ignore_unknown_options": True})
    @click.argument("hook", type=click.Choice(["pre-commit", "post-commit", "post-checkout",
                                               "pre-push", "reference-transaction",
                                               "post-rewrite", "pre-rebase"]))
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def hook(hook: str, args: tuple[str, ...]) -> int:
        """Run one hook by hand (used by the pre-commit framework plugin)."""
        from orch_core.hooks import main as hookmain

        return hookmain.main([hook, *args])

    @main.group()
    def session() -> None:
        """Open, list, heartbeat and close sessions (agent or human identities)."""

    @session.command("open")
    @click.option("--owner", help="Who this is (default: git user.name).")
    @click.option("--intent", type=click.Choice(["new_work", "resume_work"]),
                  default="new_work", show_default=True)
    @click.option("--ttl", type=click.IntRange(min=1), help="Seconds alive without heartbeat.")
    @click.option("--bind/--no-bind", default=None,
                  help="Bind to this worktree (default: if it has no live session).")
    @click.option("--worktree", is_flag=True, help="Create a session-root worktree for it.")
    @json_option
    @pass_state
    def session_open(state: State, owner: str | None, intent: str, ttl: int | None,
                     bind: bool | None, worktree: bool, as_json: bool) -> int:
        """Open a session; prints its id (export it as ORCH_SESSION)."""
        def human(r: SessionOpened) -> str:
            lines = [f"session {r['session_id']} opened for {r['owner']}"]
            if r.get("bound"):
                lines.append(f"bound to worktree {r['worktree']}")
            else:
                lines.append("not bound to this worktree; use:")
            lines.append(f"  {r['export']}")
            if r.get("enter"):
                lines.append(f"  {r['enter']}")
            return "\n".join(lines)
        run_method(state, "session.open", {"owner": owner, "intent": intent, "ttl": ttl,
                                           "bind": bind, "worktree": worktree or None},
                   as_json, human)
        return 0

    @session.command("list")
    @click.option("--all", "all_", is_flag=True, help="Include closed sessions.")
    @json_option
    @pass_state
    def session_list(state: State, all_: bool, as_json: bool) -> int:
        """List sessions."""
        def human(r: SessionListing) -> str:
            if not r["sessions"]:
                return "no sessions (open one with `orch-hooks session open`)"
            out = []
            for s in r["sessions"]:
                mark = "*" if s["id"] == r["current"] else " "
                alive = "alive" if s["alive"] else ("closed" if s["status"] == "closed"
                                                    else "interrupted")
                out.append(f"{mark} {s['id']}  {s['owner']:<16} {alive:<11} "
                           f"{s['branch'] or '-':<20} {s['worktree'] or ''}")
            return "\n".join(out)
        run_method(state, "session.list", {"all": all_ or None}, as_json, human)
        return 0

    @session.command("heartbeat")
    @json_option
    @pass_state
    def session_heartbeat(state: State, as_json: bool) -> int:
        """Keep the session alive."""
        def human(r: SessionJson) -> str:
            return f"session {r['id']} alive until {r['heartbeat_expires']}"
        run_method(state, "session.heartbeat", {}, as_json, human)
        return 0

    @session.command("close")
    @json_option
    @pass_state
    def session_close(state: State, as_json: bool) -> int:
        """Close the session and release its locks."""
        def human(r: SessionClosed) -> str:
            return "\n".join(
                [f"session {r['id']} closed; released {len(r['released'])} lock(s)"]
                + [f"  warning: {w}" for w in r.get("warnings", [])])
        run_method(state, "session.close", {}, as_json, human)
        return 0

    @main.group()
    def lock() -> None:
        """Path and prefix locks held as leases (a path ending in / is a prefix)."""

    @lock.command("acquire")
    @click.argument("paths", nargs=-1, required=True)
    @click.option("--shared", is_flag=True, help="Shared lock (compatible with other shared).")
    @click.option("--ttl", type=click.IntRange(min=1), help="Lease length in seconds.")
    @click.option("--task", help="Task or case id the lock is for.")
    @click.option("--release-on-land", is_flag=True,
                  help="Release when this session's branch lands on main.")
    @click.option("--offline", is_flag=True,
                  help="Remote mode, remote unreachable: take the lease in this clone "
                       "only, marked offline; the next push reconciles it.")
    @json_option
    @pass_state
    def lock_acquire(state: State, paths: tuple[str, ...], shared: bool, ttl: int | None,
                     task: str | None, release_on_land: bool, offline: bool,
                     as_json: bool) -> int:
        """Take locks on PATHS, all or nothing."""
        run_method(state, "lock.acquire",
                   {"paths": list(paths), "shared": shared or None, "ttl": ttl, "task": task,
                    "release_on_land": release_on_land or None, "offline": offline or None},
                   as_json, acquired_text)
        return 0

    @lock.command("release")
    @click.argument("targets", nargs=-1, required=True)
    @click.option("--force", is_flag=True, help="Release locks held by others (journaled).")
    @json_option
    @pass_state
    def lock_release(state: State, targets: tuple[str, ...], force: bool,
                     as_json: bool) -> int:
        """Release locks by PATH or LOCK_ID."""
        run_method(state, "lock.release", {"targets": list(targets), "force": force or None},
                   as_json, released_text)
        return 0

    @lock.command("heartbeat")
    @json_option
    @pass_state
    def lock_heartbeat(state: State, as_json: bool) -> int:
        """Renew every lease of the session."""
        def human(r: LockRenewed) -> str:
            return f"renewed {r['renewed']} lease(s) of {r['session']}"
        run_method(state, "lock.heartbeat", {}, as_json, human)
        return 0

    @lock.command("list")
    @click.option("--all", "all_", is_flag=True, help="Include expired leases.")
    @json_option
    @pass_state
    def lock_list(state: State, all_: bool, as_json: bool) -> int:
        """List live locks."""
        def human(r: LockListing) -> str:
            lines = [lock_line(lk) for lk in r["locks"]] or ["no live locks"]
            lines += [f"warning: {w}" for w in r.get("warnings", [])]
            return "\n".join(lines)
        run_method(state, "lock.list", {"all": all_ or None}, as_json, human)
        return 0

    @lock.command("check")
    @click.argument("paths", nargs=-1, required=True)
    @json_option
    @pass_state
    def lock_check(state: State, paths: tuple[str, ...], as_json: bool) -> int:
        """Exit 1 if any PATH is locked by another session."""
        r: LockCheck = run_method(state, "lock.check", {"paths": list(paths)}, as_json,
                                  check_text)
        return 0 if r["ok"] else 1

