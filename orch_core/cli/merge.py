"""Commands: merge request | queue | review | context | land | cancel | failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from orch_core.cli.common import State, json_option, pass_state, run_method

if TYPE_CHECKING:
    from orch_core.api.results import QueueEntryJson, QueueListing


def _conflicts(conflicts: list[dict[str, Any]] | None) -> str:
    parts = [f"{c['with'] if c['with'] != 'main' else c['branch']}: {', '.join(c['files'])}"
             for c in conflicts or []]
    return "; ".join(parts)


def _entry_line(e: QueueEntryJson) -> str:
    pos = f"#{e['position']}" if e.get("position") else "  "
    line = (f"{pos:>3} {e['id']:<6} {e['state']:<10} {e['branch']:<24} {e['tip'][:10]}  "
            f"by {e['owner']} ({e['author']})  prio {e['priority']}")
    if e.get("reviewer"):
        line += f"  reviewer {e['reviewer']}"
    conf = _conflicts(e.get("conflicts"))
    if conf:
        line += f"\n      predicted conflicts with {conf}"
    if e.get("reason"):
        line += f"\n      {e['reason']}"
    need = e.get("needs")
    if need:
        from orch_core.merge.approval import needed_text

        line += f"\n      needs {needed_text(need)}"
    return line


def _queue_text(r: QueueListing) -> str:
    lines = [f"queue for {r['base']} (at {(r['main'] or 'none')[:12]}):"]
    lines += [_entry_line(e) for e in r["entries"]] or ["  (empty)"]
    lease = r.get("merge_lock")
    if lease and lease["live"]:
        lines.append(f"merge lock: {lease['holder']} landing {lease['entry']} until "
                     f"{lease['expires']}")
    if r.get("finished"):
        lines.append("recently finished:")
        lines += [_entry_line(e) for e in r["finished"]]
    return "\n".join(lines)


def _land_text(r: dict[str, Any]) -> str:
    if not r.get("id"):
        return f"nothing landed: {r.get('reason')}"
    checks = ", ".join(f"`{c['command']}` {'ok' if c['ok'] else 'FAILED'} ({c['seconds']} s)"
                       for c in r["checks"]) or "no checks configured"
    if r["landed"]:
        lines = [f"landed {r['id']} ({r['branch']}): main {r['main_before'][:12]} -> "
                 f"{r['main_after'][:12]}", f"  checks: {checks}"]
        if r["released_locks"]:
            lines.append("  released locks: " + ", ".join(lk["path"]
                                                         for lk in r["released_locks"]))
        return "\n".join(lines)
    lines = [f"{r['id']} ({r['branch']}) NOT landed: {r['state']}: {r['reason']}",
             f"  checks: {checks}", f"  main untouched at {(r['main_before'] or '')[:12]}",
             f"  log: {r['log_path']}"]
    tail = (r.get("log_tail") or "").strip().splitlines()[-8:]
    lines += ["  | " + ln for ln in tail]
    return "\n".join(lines)


def register(main: click.Group) -> None:
    @main.group()
    def merge() -> None:
        """The merge queue for main: request, review, land (only the lander moves main)."""

    @merge.command("request")
    @click.argument("branch", required=False)
    @click.option("--priority", type=int, help="Higher lands first (default 0).")
    @json_option
    @pass_state
    def request(state: State, branch: str | None, priority: int | None,
                as_json: bool) -> int:
        """Queue BRANCH (default: the branch checked out in your worktree) for main."""
        def human(r: QueueEntryJson) -> str:
            text = (f"queued {r['id']}: {r['branch']} at {r['tip'][:12]}, position "
                    f"#{r['position']} ({r['state']})")
            conf = _conflicts(r.get("conflicts"))
            if conf:
                text += f"\n  predicted conflicts with {conf}"
            if r.get("warning"):
                text += f"\n  warning: {r['warning']}"
            if r["state"] == "queued":
                text += (f"\n  next: another session runs `orch-hooks merge review {r['id']} "
                         "--approve`")
            return text
        run_method(state, "merge.request", {"branch": branch, "priority": priority},
                   as_json, human)
        return 0

    @merge.command("queue")
    @click.option("--finished", type=click.IntRange(min=0), default=10, show_default=True,
                  help="How many finished entries to show.")
    @json_option
    @pass_state
    def queue_cmd(state: State, finished: int, as_json: bool) -> int:
        """Show the queue: order, state, position, predicted conflicts."""
        run_method(state, "merge.main.queue", {"finished": finished}, as_json, _queue_text)
        return 0

    @merge.command("review")
    @click.argument("entry_id", metavar="ID")
    @click.option("--approve", is_flag=True, help="Approve the entry.")
    @click.option("--reject", is_flag=True, help="Reject the entry.")
    @click.option("--reason", help="Why (shown to the author).")
    @json_option
    @pass_state
    def review(state: State, entry_id: str, approve: bool, reject: bool, reason: str | None,
               as_json: bool) -> int:
        """Approve or reject entry ID (not your own)."""
        # Two flags, not one flag_value pair: with a pair the last flag given wins silently.
        if approve == reject:
            raise click.UsageError("give exactly one of --approve or --reject")
        verdict = "approve" if approve else "reject"

        def human(r: dict[str, Any]) -> str:
            text = f"{r['id']} ({r['branch']}) {r['state']} by {r['reviewer']}"
            if r.get("warning"):
                text += f"\n  warning: {r['warning']}"
            return text
        run_method(state, "merge.review", {"id": entry_id, "approve": verdict == "approve",
                                           "reason": reason}, as_json, human)
        return 0

    @merge.command("context")
    @click.argument("entry_id", metavar="ID")
    @json_option
    @pass_state
    def context(state: State, entry_id: str, as_json: bool) -> int:
        """What a reviewer needs for entry ID: diff, cases, conflicts, rule findings."""
        def human(r: dict[str, Any]) -> str:
            lines = [f"{r['id']}: {r['branch']} at {r['tip'][:12]} by {r['owner']} "
                     f"({r['author']}), {r['state']}, "
                     + (f"position #{r['position']}" if r["position"] else "not in the queue"),
                     f"cases: {', '.join(r['cases']) or '-'}   tasks: "
                     f"{', '.join(r['tasks']) or '-'}", "commits:"]
            lines += [f"  {c['commit'][:10]} {c['subject']}" for c in r["commits"]]
            conf = _conflicts(r.get("conflicts"))
            lines.append(f"predicted conflicts: {conf or 'none'}")
            if r["rule_findings"]:
                lines.append("rule findings:")
                lines += [f"  {f['file']}:{f['line']}: {f['rule']}: {f['text']}"
                          for f in r["rule_findings"]]
            else:
                lines.append("rule findings: none")
            lines += ["", r["diffstat"].rstrip(), "", r["diff"].rstrip()]
            return "\n".join(lines)
        run_method(state, "merge.review_context", {"id": entry_id}, as_json, human)
        return 0

    @merge.command("land")
    @json_option
    @pass_state
    def land(state: State, as_json: bool) -> int:
        """Land the next approved entry (exit 1 if it failed or conflicted)."""
        r = run_method(state, "merge.main.land", {}, as_json, _land_text)
        return 0 if r.get("landed") or not r.get("id") else 1

    @merge.command("cancel")
    @click.argument("entry_id", metavar="ID")
    @click.option("--force", is_flag=True, help="Cancel another session's entry.")
    @json_option
    @pass_state
    def cancel(state: State, entry_id: str, force: bool, as_json: bool) -> int:
        """Take entry ID out of the queue."""
        run_method(state, "merge.cancel", {"id": entry_id, "force": force or None}, as_json,
                   lambda r: f"{r['id']} ({r['branch']}) canceled")
        return 0

    @merge.command("failures")
    @json_option
    @pass_state
    def failures(state: State, as_json: bool) -> int:
        """Your entries that need a fix (failed, conflicted, rejected)."""
        def human(r: dict[str, Any]) -> str:
            if not r["failures"]:
                return "nothing to fix"
            return "\n".join(f"{f['id']} {f['branch']} {f['state']}: {f['reason']}\n"
                             f"  next: {f['next_action']}" for f in r["failures"])
        run_method(state, "merge.failures", {}, as_json, human)
        return 0
