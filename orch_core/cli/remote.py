"""Commands: remote (fetch, status, doctor), server (install, uninstall)."""

from __future__ import annotations

from typing import Any

import click

from orch_core.cli.common import State, json_option, pass_state, run_method


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _status_text(r: dict[str, Any]) -> str:
    if r.get("remote") is None:
        return f"remote mode: off (this clone only); {r.get('hint', '')}"
    lines = [f"remote mode: {r['remote']} ({r.get('url') or 'no URL'})",
             f"last fetch: {_age(r.get('last_fetch_age'))}"]
    for ref, tips in r["refs"].items():
        theirs, ours = tips.get("remote"), tips.get("local")
        same = "same" if theirs == ours else "differs"
        lines.append(f"  {ref}: remote {str(theirs)[:12]}  here {str(ours)[:12]}  ({same})")
    if r.get("offline_leases"):
        lines.append("offline leases (not on the remote yet): " + ", ".join(r["offline_leases"]))
    caps = r.get("capabilities")
    if caps:
        lines.append("capabilities (last `remote doctor`): " + ", ".join(
            f"{k}={'yes' if v else 'no'}" for k, v in caps.get("checks", {}).items()))
    else:
        lines.append("capabilities: unknown (run `orch-hooks remote doctor`)")
    return "\n".join(lines)


def _doctor_text(r: dict[str, Any]) -> str:
    lines = [f"remote {r['remote']} ({r['url']}), probed in {r['seconds']:.2f} s"]
    for name, ok in r["checks"].items():
        lines.append(f"  {name:<22} {'yes' if ok else 'no'}")
    lines.append("guarantees:")
    for g in r["guarantees"]:
        lines.append(f"  [{'holds' if g['holds'] else 'NOT  '}] {g['what']}")
    lines += [f"note: {n}" for n in r.get("notes", [])]
    return "\n".join(lines)


def _fetch_text(r: dict[str, Any]) -> str:
    lines = [f"fetched refs/orch/* from {r['remote']}"]
    if r.get("reconciled"):
        lines.append("reconciled offline leases: " + ", ".join(r["reconciled"]))
    lines += [f"warning: {w}" for w in r.get("warnings", [])]
    return "\n".join(lines)


def register(main: click.Group) -> None:
    @main.group()
    def remote() -> None:
        """Remote mode: the team's git remote holds the lock table and queue."""

    @remote.command("fetch")
    @json_option
    @pass_state
    def remote_fetch(state: State, as_json: bool) -> int:
        """Fetch the remote's lock table and queue; reconcile offline leases."""
        run_method(state, "remote.fetch", {}, as_json, _fetch_text)
        return 0

    @remote.command("status")
    @json_option
    @pass_state
    def remote_status(state: State, as_json: bool) -> int:
        """Show the remote, the last fetch and its capabilities (no network)."""
        run_method(state, "remote.status", {}, as_json, _status_text)
        return 0

    @remote.command("doctor")
    @click.argument("name", required=False)
    @json_option
    @pass_state
    def remote_doctor(state: State, name: str | None, as_json: bool) -> int:
        """Probe the remote: atomic push, push options, refs/orch access, server hook."""
        r = run_method(state, "remote.doctor", {"remote": name}, as_json, _doctor_text)
        return 0 if r.get("reachable") else 1

    @main.group()
    def server() -> None:
        """The server-side hook for a bare repository (self-managed git servers)."""

    @server.command("install")
    @click.argument("path")
    @click.option("--force", is_flag=True, help="Rewrite the hooks even if current.")
    @json_option
    @pass_state
    def server_install(state: State, path: str, force: bool, as_json: bool) -> int:
        """Install pre-receive and post-receive into the bare repository PATH."""
        def human(r: dict[str, Any]) -> str:
            return "\n".join([f"server hooks in {r['hooks_dir']}:"]
                             + [f"  {h['hook']:<14} {h['action']}" for h in r["hooks"]])
        run_method(state, "server.install", {"path": path, "force": force or None},
                   as_json, human)
        return 0

    @server.command("uninstall")
    @click.argument("path")
    @json_option
    @pass_state
    def server_uninstall(state: State, path: str, as_json: bool) -> int:
        """Remove the orch server hooks from the bare repository PATH."""
        def human(r: dict[str, Any]) -> str:
            return "\n".join(f"  {h['hook']:<14} {h['action']}" for h in r["hooks"])
        run_method(state, "server.uninstall", {"path": path}, as_json, human)
        return 0

    @server.command("repair")
    @click.argument("path")
    @json_option
    @pass_state
    def server_repair(state: State, path: str, as_json: bool) -> int:
        """Point orch refs of PATH that hold a tag (or other non-commit) at its commit."""
        def human(r: dict[str, Any]) -> str:
            lines = [f"  {x['ref']}: {str(x['was'])[:12]} -> {str(x['now'])[:12]}"
                     for x in r["repaired"]]
            lines += [f"  {x['ref']}: {str(x['was'])[:12]} points at no commit; left alone"
                      for x in r["left"]]
            return "\n".join(lines) or "every orch ref holds a commit"
        run_method(state, "server.repair", {"path": path}, as_json, human)
        return 0

