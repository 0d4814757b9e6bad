"""Demo section: an agent drives orch-hooks through the JSON-lines server, gets its own
worktree, and a closed session's unsaved work is rescued by worktree gc."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from orch_core.demo.base import Demo, DemoFailed


class _Pipe:
    """`orch-hooks serve` with each request and response shown."""

    def __init__(self, d: Demo, cwd: Path) -> None:
        self.d = d
        print(f"[{d._where(cwd)}]$ orch-hooks serve      (requests ->, responses <-)")
        self.proc = subprocess.Popen([d.orch_bin, "serve"], cwd=cwd, env=d.env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.n = 0

    def call(self, method: str, params: dict[str, Any], show: tuple[str, ...] = (),
             expect_error: bool = False) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.n += 1
        line = json.dumps({"id": self.n, "method": method, "params": params})
        print(f"    -> {line}")
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        resp: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if "error" in resp:
            err = resp["error"]
            brief = {k: err[k] for k in ("code", "message", "hint")}
            schema = err.get("details", {}).get("schema")
            print(f"    <- {json.dumps({'id': resp['id'], 'error': brief})}")
            if schema:
                print(f"       (+ details.schema: properties {sorted(schema['properties'])}, "
                      f"required {schema['required']})")
            if not expect_error:
                raise DemoFailed(f"{method} failed: {err['message']}")
            return resp
        if expect_error:
            raise DemoFailed(f"{method} was expected to fail")
        result: dict[str, Any] = resp["result"]
        shown = {k: result[k] for k in show if k in result} if show else result
        text = json.dumps({"id": resp["id"], "result": shown})
        print(f"    <- {text if len(text) < 220 else text[:217] + '...'}")
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        print(f"    (end of input: server exited {rc})")
        if rc != 0:
            raise DemoFailed(f"orch-hooks serve exited {rc}")


def run(d: Demo) -> None:
    d.step("an agent without a terminal: open -> lock -> check over the JSON-lines server")
    p = _Pipe(d, d.repo)
    try:
        opened = p.call("session.open", {"owner": "agent-c", "worktree": True},
                        show=("session_id", "branch", "path", "enter"))
        sid = opened["session_id"]
        p.call("lock.acquire", {"paths": ["src/web/"], "session": sid, "task": "web-ui"},
               show=("paths",))
        other = next(iter(d.agents.values()))[0] if d.agents else None
        check = p.call("lock.check", {"paths": ["src/web/index.html"], "session": other},
                       show=("ok", "message"))
        if check["ok"]:
            raise DemoFailed("lock.check should report src/web/ as locked by agent-c")
        p.call("lock.acquire", {"paths": "src/web/"}, expect_error=True)
        p.call("no.such.method", {}, expect_error=True)
    finally:
        p.close()
    wt = Path(opened["path"])

    d.step("agent-c's own worktree: a sibling folder on its own branch")
    d.orch(d.repo, "worktree", "list")
    d.orch(d.repo, "worktree", "decide", "src/api/users.py", "src/web/", "--duration", "45",
           "--risk", "medium")

    d.step("agent-c's context dies with uncommitted work; gc saves it before removing")
    d.write(wt, "src/web/draft.html", "<p>half-written</p>\n")
    d.orch(wt, "session", "close", session=sid)
    d.orch(d.repo, "worktree", "gc")
    d.orch(d.repo, "worktree", "rescued")
    rescued = d.orch_json(d.repo, "worktree", "rescued")["rescued"]
    ref = rescued[0]["ref"]
    d.sh(d.repo, "git", "show", "--stat", "--format=%s", ref)

    d.step("the block to paste into AGENTS.md / CLAUDE.md")
    d.orch(d.repo, "agent-guide")
