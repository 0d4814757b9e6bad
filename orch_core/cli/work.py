"""Commands: task, case, step, resume, work, mirror, sync, rebuild."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import click

from orch_core.cli.common import State, json_option, pass_state, run_method

if TYPE_CHECKING:
    from orch_core.api.results import Resume, TaskDetail, TaskJson, TaskListing

MARK = {"succeeded": "x", "canceled": "-", "running": "~", "failed": "!", "blocked": "#"}


def _task_line(t: TaskJson, depth: int = 0) -> str:
    holder = f"  [{t['holder']}]" if t.get("holder") and t["status"] == "running" else ""
    prio = f"  p{t['priority']}" if t.get("priority") else ""
    return (f"{'  ' * depth}[{MARK.get(t['status'], ' ')}] {t['id']:<8} {t['title']}"
            f"  ({t['level']}, {t['status']}){prio}{holder}")


def _case_text(r: dict[str, Any]) -> str:
    steps = r["steps"]
    path = " > ".join(f"{p['id']} {p['title']}" for p in r.get("path", []))
    lines = [f"case {r['id']} {r['title']!r} ({r['status']})" + (f"  in {path}" if path else ""),
             f"  steps {steps['done']}/{steps['total']} done"]
    lines += [f"  [x] {s['id']} {s['title']}" for s in steps["done_steps"]]
    lines += [f"  [ ] {s['id']} {s['title']}" for s in steps["open_steps"]]
    if r.get("next_action"):
        lines.append(f"  next: {r['next_action']}")
    if r.get("reason"):
        lines.append(f"  reason: {r['reason']}")
    lines += [f"  locked {lk['path']} ({lk['id']})" for lk in r.get("locks", [])]
    return "\n".join(lines)


def _resume_text(r: Resume) -> str:
    lines = [f"session {r['session']} ({r['owner']}), "
             f"{'alive' if r['alive'] else 'heartbeat expired'}",
             f"  worktree {r['worktree'] or '-'}  branch {r['branch'] or '-'}"]
    if r.get("attached"):
        a = r["attached"]
        lines.insert(0, f"attached the work of {a['from']}: cases {', '.join(a['cases']) or '-'},"
                        f" {len(a['locks'])} lock(s)" + (f"; {a['enter']}" if a['enter'] else ""))
    if r["case"]:
        lines.append(_case_text(r["case"]))
    elif lc := r.get("last_case"):
        lines.append(f"  last case {lc['id']} {lc['title']!r} {lc['status']}"
                     + (f"; it said next: {lc['next_action']}" if lc["next_action"] else ""))
    lines.append(f"NEXT: {r['next_action']}")
    for f in r.get("merge_failures", []):
        lines.append(f"  merge queue: {f['id']} {f['branch']} {f['state']}: {f['reason']}")
    if r["locks"]:
        lines.append("  locks: " + ", ".join(lk["path"] for lk in r["locks"]))
    cp = r.get("last_checkpoint")
    if cp:
        steps = cp.get("steps") or {}
        lines.append(f"  last checkpoint: {cp['commit'][:12]} case {cp['case'] or '-'}"
                     + (f", steps {steps.get('done')}/{steps.get('total')}" if steps else ""))
    base = r["base"]
    if base.get("behind"):
        lines.append(f"  base is {base['behind']} commit(s) behind {base['main']}")
    if base.get("stale"):
        lines.append(f"  WARNING stale base: {base['main']} changed paths you hold: "
                     + ", ".join(base["changed_held_paths"][:10])
                     + f" (rebase onto {base['main']} before going on)")
    lines += [f"  warning: {w}" for w in r.get("warnings", [])]
    box = r.get("mail") or {}
    if box.get("unread"):
        lines.append(f"  unread mail: {box['unread']} (`orch-hooks mail inbox --unread`)")
        lines += [f"    {m['id']} from {m['from_owner']}: {m['subject']}"
                  for m in box.get("messages", [])]
    return "\n".join(lines)


def register(main: click.Group) -> None:
    @main.group()
    def task() -> None:
        """Tasks: epic > feature > testgroup > case > step, and the plan graph."""

    @task.command("create")
    @click.option("--level", required=True,
                  type=click.Choice(["epic", "feature", "testgroup", "case", "step"]))
    @click.option("--title", required=True)
    @click.option("--parent", metavar="ID", help="Parent task (the level directly above).")
    @click.option("--priority", type=int, help="Higher runs first (default 0).")
    @json_option
    @pass_state
    def task_create(state: State, level: str, title: str, parent: str | None,
                    priority: int | None, as_json: bool) -> int:
        """Create a task; prints its id."""
        run_method(state, "task.create", {"level": level, "title": title, "parent": parent,
                                          "priority": priority}, as_json,
                   lambda r: f"{r['id']}  {r['level']} {r['title']!r}")
        return 0

    @task.command("list")
    @click.option("--tree", is_flag=True, help="Show the hierarchy.")
    @click.option("--status", type=click.Choice(["queued", "running", "succeeded", "failed",
                                                 "blocked", "canceled"]))
    @json_option
    @pass_state
    def task_list(state: State, tree: bool, status: str | None, as_json: bool) -> int:
        """List tasks."""
        def human(r: TaskListing) -> str:
            if not r["tasks"]:
                return "no tasks (create one with `orch-hooks task create --level epic ...`)"
            return "\n".join(_task_line(t, t.get("depth", 0)) for t in r["tasks"])
        run_method(state, "task.list", {"tree": tree or None, "status": status}, as_json, human)
        return 0

    @task.command("get")
    @click.argument("task_id", metavar="ID")
    @json_option
    @pass_state
    def task_get(state: State, task_id: str, as_json: bool) -> int:
        """Show one task."""
        def human(r: TaskDetail) -> str:
            lines = [_task_line(r)]
            if r["path"]:
                lines.append("  path: " + " > ".join(f"{p['id']} {p['title']}"
                                                     for p in r["path"]))
            lines += ["  " + _task_line(cast("TaskJson", {**c, "priority": 0, "holder": None}))
                      for c in r["children"]]
            if r["blocked_by"]:
                lines.append("  blocked by: " + ", ".join(f"{b['id']} ({b['status']})"
                                                          for b in r["blocked_by"]))
            if r["blocks"]:
                lines.append("  blocks: " + ", ".join(r["blocks"]))
            for key in ("contract", "next_action", "reason"):
                if r.get(key):
                    lines.append(f"  {key}: {r[key]}")
            return "\n".join(lines)
        run_method(state, "task.get", {"id": task_id}, as_json, human)
        return 0

    @task.command("set-status")
    @click.argument("task_id", metavar="ID")
    @click.argument("status", type=click.Choice(["queued", "running", "succeeded", "failed",
                                                 "blocked", "canceled"]))
    @click.option("--reason")
    @click.option("--force", is_flag=True,
                  help="Change a case another live session holds (journaled).")
    @json_option
    @pass_state
    def task_set_status(state: State, task_id: str, status: str, reason: str | None,
                        force: bool, as_json: bool) -> int:
        """Set a task's status."""
        run_method(state, "task.set_status", {"id": task_id, "status": status,
                                              "reason": reason, "force": force or None},
                   as_json, _task_line)
        return 0

    @task.group("dep")
    def dep() -> None:
        """Dependencies of the plan graph."""

    @dep.command("add")
    @click.argument("task_id", metavar="ID")
    @click.option("--blocks", "blocked", required=True, metavar="OTHER",
                  help="The task that must wait for ID.")
    @json_option
    @pass_state
    def dep_add(state: State, task_id: str, blocked: str, as_json: bool) -> int:
        """Record that ID blocks OTHER."""
        run_method(state, "plan.dep.add", {"blocker": task_id, "blocked": blocked}, as_json,
                   lambda r: f"{r['blocker']} blocks {r['blocked']}")
        return 0

    @dep.command("rm")
    @click.argument("task_id", metavar="ID")
    @click.option("--blocks", "blocked", required=True, metavar="OTHER")
    @json_option
    @pass_state
    def dep_rm(state: State, task_id: str, blocked: str, as_json: bool) -> int:
        """Remove the dependency ID blocks OTHER."""
        run_method(state, "plan.dep.remove", {"blocker": task_id, "blocked": blocked},
                   as_json, lambda r: f"{r['blocker']} no longer blocks {r['blocked']}")
        return 0

    @task.command("ready")
    @click.option("--level", type=click.Choice(["epic", "feature", "testgroup", "case", "step",
                                                "any"]), help="Default: case.")
    @click.option("--limit", type=click.IntRange(min=1))
    @json_option
    @pass_state
    def task_ready(state: State, level: str | None, limit: int | None, as_json: bool) -> int:
        """Work ready to start, highest priority first."""
        run_method(state, "plan.ready", {"level": level, "limit": limit}, as_json,
                   lambda r: "\n".join(_task_line(t) for t in r["ready"])
                   or "nothing ready")
        return 0

    @main.group()
    def case() -> None:
        """Take, complete or fail a case (the checkpoint anchor)."""

    @case.command("begin")
    @click.argument("case_id", metavar="ID")
    @click.option("--contract", metavar="TEXT", help="Input contract of the case.")
    @click.option("--fixture", "fixtures", multiple=True, metavar="PATH")
    @click.option("--lock", "lock_paths", multiple=True, metavar="PATH",
                  help="Lock PATH for this case in the same step (all or none).")
    @click.option("--force", is_flag=True, help="Begin despite unfinished blockers or "
                  "another running case of your session (journaled).")
    @json_option
    @pass_state
    def case_begin(state: State, case_id: str, contract: str | None,
                   fixtures: tuple[str, ...], lock_paths: tuple[str, ...], force: bool,
                   as_json: bool) -> int:
        """Take case ID for your session."""
        run_method(state, "case.begin", {"id": case_id, "contract": contract,
                                         "fixtures": list(fixtures) or None,
                                         "locks": list(lock_paths) or None,
                                         "force": force or None},
                   as_json, _case_text)
        return 0

    @case.command("complete")
    @click.argument("case_id", metavar="ID")
    @click.option("--next", "next_", required=True, metavar="TEXT",
                  help="What comes next (read by whoever resumes).")
    @click.option("--force", is_flag=True, help="Complete with open steps.")
    @json_option
    @pass_state
    def case_complete(state: State, case_id: str, next_: str, force: bool,
                      as_json: bool) -> int:
        """Finish case ID."""
        run_method(state, "case.complete", {"id": case_id, "next": next_,
                                            "force": force or None}, as_json, _case_text)
        return 0

    @case.command("fail")
    @click.argument("case_id", metavar="ID")
    @click.option("--reason", required=True, metavar="TEXT")
    @json_option
    @pass_state
    def case_fail(state: State, case_id: str, reason: str, as_json: bool) -> int:
        """Mark case ID failed."""
        run_method(state, "case.fail", {"id": case_id, "reason": reason}, as_json, _case_text)
        return 0

    @main.group()
    def step() -> None:
        """Check or uncheck steps of your case."""

    @step.command("check")
    @click.argument("step_id", metavar="STEP_ID")
    @json_option
    @pass_state
    def step_check(state: State, step_id: str, as_json: bool) -> int:
        """Mark STEP_ID done."""
        run_method(state, "step.check", {"id": step_id}, as_json, _case_text)
        return 0

    @step.command("uncheck")
    @click.argument("step_id", metavar="STEP_ID")
    @json_option
    @pass_state
    def step_uncheck(state: State, step_id: str, as_json: bool) -> int:
        """Mark STEP_ID not done."""
        run_method(state, "step.uncheck", {"id": step_id}, as_json, _case_text)
        return 0

    @main.group()
    def resume() -> None:
        """Carry on after a lost context."""

    @resume.command("next")
    @json_option
    @pass_state
    def resume_next(state: State, as_json: bool) -> int:
        """What your session was doing and what to do next."""
        run_method(state, "resume.next", {}, as_json, _resume_text)
        return 0

    @resume.command("candidates")
    @json_option
    @pass_state
    def resume_candidates(state: State, as_json: bool) -> int:
        """Interrupted sessions with work in progress."""
        def human(r: dict[str, Any]) -> str:
            if not r["candidates"]:
                return "no interrupted work"
            out = []
            for c in r["candidates"]:
                case = c["case"]
                what = (f"case {case['id']} {case['title']!r} steps "
                        f"{case['steps']['done']}/{case['steps']['total']}" if case
                        else "no case")
                out.append(f"{c['session']} ({c['owner']}) {what}; locks "
                           f"{', '.join(c['locks']) or '-'}\n  take over: {c['attach']}")
            return "\n".join(out)
        run_method(state, "resume.candidates.list", {}, as_json, human)
        return 0

    @resume.command("attach")
    @click.argument("session_id", metavar="SESSION")
    @click.option("--force", is_flag=True, help="Even if that session is still alive.")
    @json_option
    @pass_state
    def resume_attach(state: State, session_id: str, force: bool, as_json: bool) -> int:
        """Take over SESSION's case and locks."""
        run_method(state, "resume.candidates.attach",
                   {"from_session": session_id, "force": force or None}, as_json,
                   _resume_text)
        return 0

    @main.group()
    def work() -> None:
        """Your current work reference (what, where, next)."""

    @work.command("current-ref")
    @json_option
    @pass_state
    def work_current_ref(state: State, as_json: bool) -> int:
        """A short block to paste into an agent's context."""
        run_method(state, "work.current_ref", {}, as_json, lambda r: str(r["text"]))
        return 0

    @work.command("ack")
    @json_option
    @pass_state
    def work_ack(state: State, as_json: bool) -> int:
        """Record that you have read the current state."""
        run_method(state, "work.current_ref.ack", {}, as_json,
                   lambda r: f"acked db_version {r['acked_version']}")
        return 0

    @main.group()
    def mirror() -> None:
        """The Markdown mirror of the work state (refreshed only on request)."""

    @mirror.command("status")
    @json_option
    @pass_state
    def mirror_status(state: State, as_json: bool) -> int:
        """db_version, md_version and whether the mirror is outdated."""
        run_method(state, "mirror.status", {}, as_json,
                   lambda r: f"db_version {r['db_version']}, md_version {r['md_version']}: "
                             f"{'OUTDATED' if r['outdated'] else 'current'} ({r['path']})")
        return 0

    @mirror.command("refresh")
    @click.option("--out", metavar="PATH", help="Where to write the Markdown.")
    @json_option
    @pass_state
    def mirror_refresh(state: State, out: str | None, as_json: bool) -> int:
        """Write the Markdown snapshot."""
        run_method(state, "mirror.refresh", {"out": out}, as_json,
                   lambda r: f"wrote {r['path']} (md_version {r['md_version']})")
        return 0

    @mirror.command("request")
    @click.option("--reason", metavar="TEXT", help="What changed, or why it is needed.")
    @json_option
    @pass_state
    def mirror_request(state: State, reason: str | None, as_json: bool) -> int:
        """Ask the doc-mirror manager to refresh the mirror (shown in their `resume next`)."""
        run_method(state, "mirror.request", {"reason": reason}, as_json,
                   lambda r: f"refresh requested ({len(r['pending'])} pending)")
        return 0

    @main.command("sync")
    @json_option
    @pass_state
    def sync(state: State, as_json: bool) -> int:
        """Export the work state to refs/orch/work (what `rebuild` restores)."""
        run_method(state, "journal.sync", {}, as_json,
                   lambda r: f"{r['ref']} at {r['tip'][:12]} (db_version {r['db_version']})"
                             + ("" if r["synced"] else ", already current"))
        return 0

    @main.command("rebuild")
    @click.option("--force", is_flag=True, help="Replace an existing database (kept aside).")
    @json_option
    @pass_state
    def rebuild(state: State, force: bool, as_json: bool) -> int:
        """Recreate the state database from git (refs/orch/work, lock refs, notes)."""
        def human(r: dict[str, Any]) -> str:
            lines = [f"rebuilt {r['db']} from {r['journal'][:12]} at db_version "
                     f"{r['db_version']}: " + ", ".join(f"{v} {k}"
                                                       for k, v in r["restored"].items())]
            if r["moved_aside"]:
                lines.append(f"  old database kept as {r['moved_aside']}")
            lines += [f"  warning: {w}" for w in r["warnings"]]
            return "\n".join(lines)
        run_method(state, "journal.rebuild", {"force": force or None}, as_json, human)
        return 0
