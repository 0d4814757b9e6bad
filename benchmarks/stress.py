"""Stress run: N agent processes at once, then an independent check of every invariant.

Each worker is a real process with its own worktree and session. For a fixed
time it mixes lock acquire/release/heartbeat (on overlapping paths: its own
directory, a pool of shared files, the shared directory as a prefix, shared-mode
locks, leases left to expire), case steps, real ``git commit`` through the
installed hooks, commits on paths another session holds (the hook must refuse
them), merge requests, reviews of other sessions' entries (and self-reviews,
which must be refused) and landings through the queue's lander, whose check
(``sh ci/check.sh``) fails on branches that carry the marker ``BROKEN``.
Every worker appends what it did (grants, refusals, commits with their oids,
landings, the db_version it saw) to ``results/wNN.jsonl``.

The checker reads only those files and the repository, and verifies:

- no two conflicting leases were ever live at once (replay of refs/orch/locks),
  and every grant a worker was told about is in that history;
- every commit a worker made has its checkpoint note, naming its session;
- db_version only grew, with no gaps in the events, and every commit of the
  coordination refs has exactly one event;
- main only moved to merges that passed their checks (the checks are run again
  on every commit main moved to), in queue order (replay of refs/orch/queue
  against the reflog of main);
- no commit went in while another session's lease on its path was live before
  and after it; no worker hit an unexpected error.

    python benchmarks/stress.py                       # 16 processes, 30 s
    python benchmarks/stress.py --procs 4 --duration 5 --seed 7 --keep /tmp/st
    python benchmarks/stress.py --check /tmp/st       # check a kept run again

Exit status 1 on any violation. ``main()`` returns the figures for run_all.py
(benchmarks/bench_stress.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent))

from benchmarks.common import ORCH, Figure, figure, git, report, workdir  # noqa: E402

PROCS = 16
DURATION = 30.0
SEED = 1
SHARED_FILES = 8
CHECK = "sh ci/check.sh"
CHECK_SCRIPT = ("#!/bin/sh\n# Fails when a file under src/ carries the marker.\n"
                "! grep -rq BROKEN src/\n")
ORCH_TOML = f"""[locks]
default_ttl = 120

[merge]
protected = ["main"]
checks = ["{CHECK}"]
check_timeout = 60
merge_lock_ttl = 120
"""


# -- set-up ----------------------------------------------------------------------------

def setup(base: Path, procs: int, seed: int) -> dict[str, Any]:
    """The repository, one worktree + bound session + case per worker; returns run.json."""
    from orch_core.api import dispatch as api
    from orch_core.state.context import Context
    from orch_core.work import sessions

    repo = base / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("stress repository\n")
    (repo / "ci").mkdir()
    (repo / "ci" / "check.sh").write_text(CHECK_SCRIPT)
    (repo / ".orch.toml").write_text(ORCH_TOML)
    for i in range(SHARED_FILES):
        p = repo / "src" / "shared" / f"f{i:02d}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"# shared module {i}\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("# guide\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial import")
    workers: list[dict[str, Any]] = []
    for i in range(procs):
        wt = base / "wt" / f"w{i:02d}"
        git(repo, "worktree", "add", "-q", "-b", f"w{i:02d}-0", str(wt), "main")
    subprocess.run([ORCH, "install"], cwd=repo, check=True, capture_output=True)
    ctx = Context(cwd=repo, env={})
    try:
        epic = api.call(ctx, "task.create", {"level": "epic", "title": "stress"})["id"]
        feat = api.call(ctx, "task.create", {"level": "feature", "title": "agents",
                                             "parent": epic})["id"]
        group = api.call(ctx, "task.create", {"level": "testgroup", "title": "work",
                                              "parent": feat})["id"]
        for i in range(procs):
            wt = base / "wt" / f"w{i:02d}"
            sess, _bound = sessions.open_session(ctx, f"agent-{i:02d}", "new_work", 7200,
                                                 bind=True, worktree=wt, branch=f"w{i:02d}-0")
            workers.append({"n": i, "session": sess.id, "worktree": str(wt),
                            "seed": seed * 1000 + i, "group": group})
        start_main = git(repo, "rev-parse", "main").strip()
    finally:
        ctx.close()
    spec = {"repo": str(repo), "start_main": start_main, "checks": [CHECK],
            "procs": procs, "seed": seed, "workers": workers,
            "results": str(base / "results")}
    (base / "results").mkdir()
    (base / "run.json").write_text(json.dumps(spec, indent=1))
    return spec


# -- a worker --------------------------------------------------------------------------

class Worker:
    """One agent: its own worktree, session and case, acting until the deadline."""

    def __init__(self, spec: dict[str, Any], me: dict[str, Any], out: Path) -> None:
        from orch_core.state.context import Context

        self.n = int(me["n"])
        self.sid = str(me["session"])
        self.wt = Path(me["worktree"])
        self.group = str(me["group"])
        self.rng = random.Random(int(me["seed"]))
        self.ctx = Context(cwd=self.wt, env={})
        self.out = open(out, "a")  # noqa: SIM115  (closed in finish())
        self.feature = 0
        self.branch = f"w{self.n:02d}-0"
        self.entry: str | None = None
        self.held: list[str] = []  # lock ids the worker holds and will release
        self.case: str | None = None
        self.steps: list[str] = []
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("ORCH_SESSION", "GIT_DIR", "GIT_INDEX_FILE")}

    # recording
    def record(self, op: str, ok: bool, **data: Any) -> None:
        row = {"t": time.time(), "op": op, "ok": ok, "dbv": self.ctx.store.db_version(),
               **data}
        self.out.write(json.dumps(row) + "\n")
        self.out.flush()

    def call(self, name: str, params: dict[str, Any]) -> Any:
        from orch_core.api import dispatch as api

        return api.call(self.ctx, name, {**params, "session": self.sid})

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["git", *args], cwd=self.wt, capture_output=True, text=True,
                              env=self.env)
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.strip()[-500:]}")
        return proc

    # operations
    def new_case(self) -> None:
        case = self.call("task.create", {"level": "case", "title": f"agent {self.n} work",
                                         "parent": self.group})["id"]
        self.steps = [self.call("task.create", {"level": "step", "title": f"step {k}",
                                                "parent": case})["id"] for k in range(4)]
        self.call("case.begin", {"id": case, "contract": "stress"})
        self.case = case
        self.record("case.begin", True, case=case)

    def check_step(self) -> None:
        if not self.steps:
            assert self.case is not None
            self.call("case.complete", {"id": self.case, "next": "take the next case"})
            self.record("case.complete", True, case=self.case)
            self.new_case()
        step = self.steps.pop(0)
        self.call("step.check", {"id": step})
        self.record("step.check", True, step=step)

    def acquire(self, paths: list[str], shared: bool = False, ttl: int = 120,
                release_on_land: bool = False) -> list[dict[str, Any]] | None:
        from orch_core.errors import Busy, Conflict

        try:
            res = self.call("lock.acquire", {"paths": paths, "shared": shared, "ttl": ttl,
                                             "release_on_land": release_on_land})
        except Conflict as e:
            self.record("lock.acquire", False, refused="conflict", paths=paths,
                        holders=[c["holder_session"] for c in e.details.get("conflicts", [])])
            return None
        except Busy as e:
            self.record("lock.acquire", False, refused="busy", paths=paths, why=e.message)
            return None
        grants = [{"lock_id": lk["id"], "path": lk["path"], "mode": lk["mode"],
                   "session": self.sid} for lk in res["locks"]]
        self.record("lock.acquire", True, paths=paths, grants=grants, ttl=ttl)
        return list(res["locks"])

    def release_held(self) -> None:
        from orch_core.errors import NotFound

        if not self.held:
            return
        try:
            self.call("lock.release", {"targets": self.held})
            self.record("lock.release", True, ids=self.held)
        except NotFound:  # released on landing, or reaped
            self.record("lock.release", False, ids=self.held, why="already gone")
        self.held = []

    def commit(self, files: dict[str, str], message: str) -> str | None:
        for rel, text in files.items():
            p = self.wt / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "a") as fh:
                fh.write(text)
        self.git("add", *files)
        proc = self.git("commit", "-q", "-m", message, check=False)
        if proc.returncode != 0:
            self.restore(list(files))
            self.record("commit", False, paths=sorted(files), error=proc.stderr[-800:],
                        unexpected=True)
            return None
        oid = self.git("rev-parse", "HEAD").stdout.strip()
        self.record("commit", True, oid=oid, paths=sorted(files), branch=self.branch)
        return oid

    def restore(self, paths: list[str]) -> None:
        self.git("reset", "-q", "--", *paths, check=False)
        self.git("checkout", "-q", "--", *paths, check=False)
        for rel in paths:  # a file that only existed in the index
            tracked = self.git("ls-files", "--error-unmatch", rel, check=False)
            if tracked.returncode != 0:
                (self.wt / rel).unlink(missing_ok=True)

    def start_feature(self) -> None:
        """A new branch from main: lock, commit (a step between), release, queue it."""
        rng = self.rng
        self.feature += 1
        self.branch = f"w{self.n:02d}-{self.feature}"
        self.git("switch", "-q", "-c", self.branch, "main")
        self.record("switch", True, branch=self.branch)
        own = f"src/agents/w{self.n:02d}/"
        paths = [own]
        r = rng.random()
        if r < 0.55:
            paths.append(f"src/shared/f{rng.randrange(SHARED_FILES):02d}.py")
        elif r < 0.65:
            paths.append("src/shared/")
        on_land = rng.random() < 0.2
        got = self.acquire(paths, ttl=120, release_on_land=on_land)
        if got is None and len(paths) > 1:
            paths = [own]
            got = self.acquire(paths, ttl=120, release_on_land=on_land)
        if got is None:
            return
        if not on_land:
            self.held = [lk["id"] for lk in got]
        if rng.random() < 0.2:
            # A shared lock for reading alongside: blocks others' exclusive locks only.
            self.acquire(["docs/"], shared=True, ttl=rng.choice((2, 30)))
        broken = rng.random() < 0.12
        for k in range(rng.choice((1, 1, 2, 3))):
            files = {f"{own}f{self.feature}.py": f"X_{k} = {k}\n"}
            if broken and k == 0:
                files[f"{own}f{self.feature}.py"] += "# BROKEN on purpose\n"
            shared = [p for p in paths if p.startswith("src/shared/")]
            if shared and rng.random() < 0.7:
                target = shared[0]
                if target.endswith("/"):
                    target += f"f{rng.randrange(SHARED_FILES):02d}.py"
                files[target] = f"# w{self.n:02d} feature {self.feature}.{k}\n"
            if self.commit(files, f"w{self.n:02d}: feature {self.feature} part {k}") is None:
                break
            self.check_step()
        self.release_held()
        self.request()

    def request(self) -> None:
        from orch_core.errors import Refused

        prio = 1 if self.rng.random() < 0.15 else 0
        try:
            out = self.call("merge.request", {"branch": self.branch, "priority": prio})
        except Refused as e:
            self.record("merge.request", False, branch=self.branch, why=e.message)
            return
        self.entry = str(out["id"])
        self.record("merge.request", True, branch=self.branch, id=self.entry,
                    tip=out["tip"], priority=prio, state=out["state"])

    def my_entry_state(self) -> str | None:
        from orch_core.merge import queue as q

        if self.entry is None:
            return None
        _tip, state = q.load(self.ctx)
        try:
            return state.get(self.entry).state
        except Exception:
            return None

    def follow_entry(self) -> None:
        """Drop the entry once it landed; cancel it when it needs a fix (start afresh)."""
        from orch_core.errors import Refused
        from orch_core.merge import queue as q

        st = self.my_entry_state()
        if st in (q.LANDED, q.CANCELED, None):
            self.entry = None
        elif st in q.NEEDS_AUTHOR:
            try:
                self.call("merge.cancel", {"id": self.entry})
                self.record("merge.cancel", True, id=self.entry, was=st)
            except Refused as e:
                self.record("merge.cancel", False, id=self.entry, why=e.message)
            self.entry = None

    def review(self) -> None:
        from orch_core.errors import NotFound, Refused
        from orch_core.merge import queue as q

        _tip, state = q.load(self.ctx)
        mine = [e for e in state.ordered() if e.author == self.sid and e.state == q.QUEUED]
        if mine and self.rng.random() < 0.15:
            try:
                self.call("merge.review", {"id": mine[0].id, "approve": True})
                self.record("merge.self_review", True, id=mine[0].id, unexpected=True)
            except Refused as e:
                self.record("merge.self_review", False, id=mine[0].id, refused=e.code)
            return
        theirs = [e for e in state.ordered() if e.author != self.sid and e.state == q.QUEUED]
        if not theirs:
            return
        pick = self.rng.choice(theirs)
        approve = self.rng.random() < 0.92
        try:
            self.call("merge.review", {"id": pick.id, "approve": approve,
                                       "reason": None if approve else "not convinced"})
            self.record("merge.review", True, id=pick.id, approve=approve)
        except (Refused, NotFound) as err:  # another reviewer or a prediction got there first
            self.record("merge.review", False, id=pick.id, why=err.message)

    def land(self) -> None:
        from orch_core.errors import Busy, Refused

        try:
            out = self.call("merge.main.land", {})
        except (Busy, Refused) as err:
            self.record("merge.land", False, refused=err.code)
            return
        if not out.get("id"):
            self.record("merge.land", False, refused="nothing_approved")
            return
        self.record("merge.land", True, id=out["id"], landed=out["landed"],
                    state=out["state"], main_before=out["main_before"],
                    main_after=out["main_after"], reason=out.get("reason"),
                    checks=[c["ok"] for c in out["checks"]], timings=out.get("timings"))

    def intrude(self) -> None:
        """Commit a file under another session's live exclusive lock: the hook must refuse."""
        from orch_core.locks import service as locks
        from orch_core.locks.table import EXCLUSIVE

        now = self.ctx.now()
        theirs = [lk for lk in locks.snapshot(self.ctx).locks
                  if lk.session != self.sid and lk.mode == EXCLUSIVE and lk.live(now)
                  and lk.path.startswith("src/shared/")]
        if not theirs:
            return
        lk = self.rng.choice(theirs)
        path = lk.path + "f00.py" if lk.path.endswith("/") else lk.path
        with open(self.wt / path, "a") as fh:
            fh.write(f"# intrusion by w{self.n:02d}\n")
        self.git("add", path)
        proc = self.git("commit", "-q", "-m", f"w{self.n:02d}: edit {path}", check=False)
        after = {x.id for x in locks.snapshot(self.ctx).locks if x.live(self.ctx.now())}
        if proc.returncode != 0:
            self.restore([path])
            self.record("intrude", False, refused="locked", path=path, lock_id=lk.id,
                        holder=lk.session, hook="orch-hooks: commit refused" in proc.stderr)
            return
        oid = self.git("rev-parse", "HEAD").stdout.strip()
        # Committed: fine only if the lease ended between the look and the commit.
        self.record("commit", True, oid=oid, paths=[path], branch=self.branch)
        self.record("intrude", True, oid=oid, path=path, lock_id=lk.id, holder=lk.session,
                    live_after=lk.id in after)

    def step(self) -> None:
        from orch_core.errors import Busy

        self.follow_entry()
        if self.entry is None:
            self.start_feature()
            return
        r = self.rng.random()
        try:
            if r < 0.35:
                self.review()
            elif r < 0.65:
                self.land()
            elif r < 0.75:
                self.call("lock.heartbeat", {})
                self.record("lock.heartbeat", True)
            elif r < 0.87:
                self.intrude()
            elif r < 0.92:
                # A lease left to expire: others must reap it, never trip over it.
                self.acquire([f"src/agents/w{self.n:02d}/scratch/"], ttl=1)
            else:
                time.sleep(self.rng.uniform(0.005, 0.05))
        except Busy as e:
            self.record("busy", False, why=e.message)

    def finish(self) -> None:
        self.out.close()
        self.ctx.close()


def worker_main(run_json: str, n: int) -> int:
    spec = json.loads(Path(run_json).read_text())
    me = spec["workers"][n]
    results = Path(spec["results"])
    w = Worker(spec, me, results / f"w{n:02d}.jsonl")
    try:
        _ = w.ctx.pg, w.ctx.store, w.ctx.config  # warm up before the start
        w.new_case()
        (results / f"w{n:02d}.ready").write_text("")
        go = results / "go"
        while not go.exists():
            time.sleep(0.01)
        deadline = float(go.read_text()) + float(spec["duration"])
        while time.time() < deadline:
            w.step()
    except Exception as e:  # recorded: the checker counts it as a violation
        import traceback

        w.record("error", False, error=f"{type(e).__name__}: {e}",
                 trace=traceback.format_exc()[-2000:], unexpected=True)
        return 1
    finally:
        w.finish()
    return 0


# -- running ---------------------------------------------------------------------------

def run(base: Path, procs: int, duration: float, seed: int) -> dict[str, Any]:
    spec = setup(base, procs, seed)
    spec["duration"] = duration
    run_json = base / "run.json"
    run_json.write_text(json.dumps(spec, indent=1))
    results = Path(spec["results"])
    children = [subprocess.Popen([sys.executable, str(HERE / "stress.py"), "--worker",
                                  str(run_json), str(i)], cwd=spec["workers"][i]["worktree"])
                for i in range(procs)]
    t_wait = time.monotonic() + 120
    while sum(1 for _ in results.glob("*.ready")) < procs:
        if time.monotonic() > t_wait or any(c.poll() is not None for c in children):
            break
        time.sleep(0.02)
    t0 = time.time()
    # Appear whole: a worker polling for the file must never read it half-written.
    (results / "go.tmp").write_text(repr(t0))
    (results / "go.tmp").replace(results / "go")
    codes = [c.wait(timeout=duration + 300) for c in children]
    spec["wall"] = time.time() - t0
    spec["exit_codes"] = codes
    run_json.write_text(json.dumps(spec, indent=1))
    return spec


def read_results(base: Path) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for path in sorted((base / "results").glob("w*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        yield int(path.stem[1:]), rows


# -- the checker -----------------------------------------------------------------------

def check(base: Path) -> dict[str, Any]:
    """Replay the repository against the workers' records; counts and violations."""
    from orch_core.git import repo as gitrepo
    from testing import audit, audit_events, audit_queue

    spec = json.loads((base / "run.json").read_text())
    repo = gitrepo.discover(Path(spec["repo"]))
    sessions = {int(w["n"]): str(w["session"]) for w in spec["workers"]}
    rows_of = dict(read_results(base))
    allrows = [(n, r) for n, rows in rows_of.items() for r in rows]

    def ops(op: str, ok: bool | None = None) -> list[dict[str, Any]]:
        return [r for _n, r in allrows if r["op"] == op and (ok is None or r["ok"] == ok)]

    t0 = time.perf_counter()
    grants = [audit.Grant.from_json(g) for r in ops("lock.acquire", True) for g in r["grants"]]
    locks_au = audit.verify_lock_history(repo, grants=grants)
    commits = {r["oid"]: sessions[n] for n, r in allrows if r["op"] == "commit" and r["ok"]}
    notes_au = audit_events.verify_notes(repo, commits)
    ref_commits = {ref: [c for c, _p, _t in audit.history(repo, ref)]
                   for ref in audit_events.TIP_REFS}
    observed = [[int(r["dbv"]) for r in rows] for rows in rows_of.values()]
    events_au = audit_events.verify_events(repo.orch_dir / "state.db", observed, ref_commits)
    queue_au = audit_queue.verify_queue_history(repo, "refs/heads/main", spec["start_main"])
    targets = [m.new for m in queue_au.main_moves]
    check_failures = audit_queue.rerun_checks(repo, targets, spec["checks"],
                                              base / "recheck")
    # What the workers saw must agree with the history.
    landed_as = {x.entry.landed_as for x in queue_au.landed}
    worker_problems = [f"w{n:02d}: {r.get('error', '')[:300]}" for n, r in allrows
                       if r.get("unexpected")]
    worker_problems += [f"w{n:02d}: landing {r['id']} reported main at {r['main_after']}, "
                        "which no landed entry records" for n, r in allrows
                        if r["op"] == "merge.land" and r["ok"] and r["landed"]
                        and r["main_after"] not in landed_as]
    worker_problems += [f"worker {i} exited {c}" for i, c in enumerate(spec.get("exit_codes", []))
                        if c != 0]
    through = [f"w{n:02d}: commit {r['oid'][:12]} on {r['path']} went in while lock "
               f"{r['lock_id']} of {r['holder']} was live before and after"
               for n, r in allrows if r["op"] == "intrude" and r["ok"] and r["live_after"]]
    replay = time.perf_counter() - t0
    lands = ops("merge.land", True)
    counts = {
        "processes": spec["procs"], "seconds": round(float(spec.get("wall", 0.0)), 1),
        "operations": len(allrows),
        "commits": len(commits),
        "lock grants": len(grants),
        "lock conflicts refused": sum(1 for r in ops("lock.acquire", False)
                                      if r.get("refused") == "conflict"),
        "commits refused by the hooks (paths locked by others)":
            sum(1 for r in ops("intrude", False) if r.get("hook")),
        "self-reviews refused": len(ops("merge.self_review", False)),
        "merge requests": len(ops("merge.request", True)),
        "reviews": len(ops("merge.review", True)),
        "landings": sum(1 for r in lands if r["landed"]),
        "landings refused by checks": sum(1 for r in lands if r["state"] == "failed"),
        "landings conflicted": sum(1 for r in lands if r["state"] == "conflicted"),
        "merge lock busy": sum(1 for r in ops("merge.land", False)
                               if r.get("refused") == "merge_locked"),
        "lock-ref commits replayed": locks_au.commits,
        "queue-ref commits replayed": queue_au.commits,
        "events": events_au.events,
    }
    violations = {
        "conflicting live leases / missing grants / lock history":
            [v.describe() for v in locks_au.violations]
            + [f"grant {g.lock_id} missing" for g in locks_au.missing_grants]
            + locks_au.problems,
        "commits without their checkpoint note": [f"{c[:12]}: no note" for c in notes_au.missing]
            + notes_au.problems,
        "db_version / events": events_au.problems,
        "main moves not in queue order or not tested": queue_au.problems,
        "main commits failing their checks": check_failures,
        "commits through a live lock": through,
        "worker errors": worker_problems,
    }
    return {"counts": counts, "violations": violations, "replay_seconds": replay,
            "ok": not any(violations.values())}


def print_report(res: dict[str, Any]) -> None:
    c = res["counts"]
    print(f"stress: {c['processes']} processes for {c['seconds']} s")
    for k, v in c.items():
        if k not in ("processes", "seconds"):
            print(f"  {k}: {v}")
    print(f"  checked in {res['replay_seconds']:.1f} s")
    for name, found in res["violations"].items():
        print(f"  violations, {name}: {len(found)}")
        for line in found[:10]:
            print(f"    !! {line}")
    print("verdict: " + ("OK, zero violations" if res["ok"] else "VIOLATIONS FOUND"))


def figures(res: dict[str, Any]) -> list[Figure]:
    c = res["counts"]
    figs = [figure(f"stress: {k} ({c['processes']} processes, {c['seconds']} s)"
                   if k == "operations" else f"stress: {k}", v, "count")
            for k, v in c.items() if k not in ("processes", "seconds")]
    figs += [figure(f"stress violations: {k}", len(v), "count", "= 0", not v)
             for k, v in res["violations"].items()]
    return figs


def main(procs: int = PROCS, duration: float = DURATION, seed: int = SEED,
         keep: Path | None = None) -> dict[str, Any]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        with workdir("orch-stress-home-"):
            run(keep, procs, duration, seed)
            res = check(keep)
    else:
        with workdir("orch-stress-") as base:
            run(base, procs, duration, seed)
            res = check(base)
    print_report(res)
    out = report("stress", figures(res))
    out["ok"] = res["ok"]
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=PROCS, help="worker processes (default 16)")
    ap.add_argument("--duration", type=float, default=DURATION,
                    help="seconds of activity (default 30)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", type=Path, help="run in this (new) directory and keep it")
    ap.add_argument("--check", type=Path, metavar="DIR", help="only check a kept run")
    ap.add_argument("--worker", nargs=2, metavar=("RUN_JSON", "N"), help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.worker:
        sys.exit(worker_main(ns.worker[0], int(ns.worker[1])))
    if ns.check:
        result = check(ns.check)
        print_report(result)
        sys.exit(0 if result["ok"] else 1)
    sys.exit(0 if main(ns.procs, ns.duration, ns.seed, ns.keep)["ok"] else 1)
