"""Clones racing for locks through a real `git daemon`, and an independent checker.

``setup`` makes a bare repository served by ``git daemon`` on 127.0.0.1, seeds it
with remote mode committed in ``.orch.toml``, clones it N times (orch installed in
each) and opens S sessions per clone. Two races use it:

- ``race``: every session is a process of its own (a long-running Context, as an
  agent's server would hold) that, for a fixed time, acquires random overlapping
  paths and prefixes (exclusive and shared), holds them a moment, and releases
  them, recording every grant it was told about;
- ``one_path``: K sessions of different clones wait for a start signal, all
  acquire the same path at once; exactly one may win each trial.

``check`` replays the remote's ``refs/orch/locks`` history with
``testing.audit.verify_lock_history`` (the lock rule applied pairwise, not the
writers' code) and looks up every grant in it.

    python benchmarks/remote_race.py --clones 10 --sessions 3 --duration 30
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent

POOL = ("src/", "src/api/", "src/api/users.py", "src/api/todos.py", "src/web/",
        "src/web/app.js", "docs/", "docs/guide.md", "README.md", "tests/",
        "tests/test_api.py", "shared/a.txt", "shared/b.txt", "shared/")
RACE_PATH = "race/one.txt"


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _orch(cwd: Path, *args: str) -> Any:
    from testing.repos import ORCH

    proc = subprocess.run([ORCH, *args, "--json"], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"orch-hooks {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def setup(base: Path, url: str, bare: Path, clones: int, sessions: int) -> dict[str, Any]:
    """Seed the served ``bare`` repository and make the clones; returns the run spec."""
    seed = base / "seed"
    seed.mkdir(parents=True)
    (seed / "README.md").write_text("remote race\n")
    (seed / ".orch.toml").write_text('[merge]\nprotected = ["main"]\n\n[remote]\nname = "origin"\n')
    _git(seed, "init", "-q", "-b", "main")
    _git(seed, "add", "-A")
    _git(seed, "commit", "-q", "-m", "initial import, remote mode through origin")
    _git(seed, "remote", "add", "origin", url)
    _git(seed, "push", "-q", "origin", "main")
    workers: list[dict[str, Any]] = []
    for c in range(clones):
        where = base / f"clone{c:02d}"
        _git(base, "clone", "-q", url, str(where))
        _orch(where, "install")
        for s in range(sessions):
            sid = _orch(where, "session", "open", "--owner", f"c{c}s{s}")["session_id"]
            workers.append({"clone": str(where), "session": sid, "n": len(workers)})
    results = base / "results"
    results.mkdir()
    return {"bare": str(bare), "url": url, "workers": workers, "results": str(results)}


# -- workers ---------------------------------------------------------------------------

def _ctx(clone: str) -> Any:
    from orch_core.state.context import Context
    from orch_core.work import stamp  # noqa: F401  (registers the payload refresh)

    return Context(cwd=Path(clone), env={})


def _call(ctx: Any, name: str, params: dict[str, Any]) -> Any:
    from orch_core.api import dispatch as api

    return api.call(ctx, name, params)


def race_worker(spec: dict[str, Any], n: int, duration: float) -> int:
    from orch_core.errors import OrchError

    me = spec["workers"][n]
    rng = random.Random(n * 7919 + 1)
    ctx = _ctx(me["clone"])
    out = open(Path(spec["results"]) / f"race-{n:02d}.jsonl", "a")  # noqa: SIM115
    _ = ctx.pg, ctx.store, ctx.config  # warm up before the start
    (Path(spec["results"]) / f"ready-race-{n:02d}").write_text("")
    go = Path(spec["results"]) / "go"
    while not go.exists():
        time.sleep(0.01)
    deadline = float(go.read_text()) + duration
    while time.time() < deadline:
        paths = rng.sample(POOL, rng.choice((1, 1, 2, 3)))
        shared = rng.random() < 0.25
        t0 = time.monotonic()
        try:
            got = _call(ctx, "lock.acquire", {"paths": paths, "shared": shared, "ttl": 60,
                                              "session": me["session"]})
        except OrchError as e:
            out.write(json.dumps({"op": "acquire", "ok": False, "code": e.code,
                                  "ms": (time.monotonic() - t0) * 1000}) + "\n")
            if e.code not in ("lock_conflict", "busy"):
                out.write(json.dumps({"op": "error", "unexpected": True,
                                      "error": f"{e.code}: {e.message}"}) + "\n")
            time.sleep(rng.uniform(0.0, 0.05))
            continue
        out.write(json.dumps({"op": "acquire", "ok": True, "ms": (time.monotonic() - t0) * 1000,
                              "grants": [{"lock_id": lk["id"], "path": lk["path"],
                                          "mode": lk["mode"], "session": lk["session"]}
                                         for lk in got["locks"]]}) + "\n")
        out.flush()
        time.sleep(rng.uniform(0.0, 0.1))
        t0 = time.monotonic()
        try:
            _call(ctx, "lock.release", {"targets": [lk["id"] for lk in got["locks"]],
                                        "session": me["session"]})
            out.write(json.dumps({"op": "release", "ok": True,
                                  "ms": (time.monotonic() - t0) * 1000}) + "\n")
        except OrchError as e:
            out.write(json.dumps({"op": "error", "unexpected": True,
                                  "error": f"release {e.code}: {e.message}"}) + "\n")
        out.flush()
    out.close()
    ctx.close()
    return 0


def one_path_worker(spec: dict[str, Any], n: int, trials: int) -> int:
    from orch_core.errors import OrchError

    me = spec["workers"][n]
    ctx = _ctx(me["clone"])
    res = Path(spec["results"])
    (res / f"ready-{n:02d}").write_text("")
    for t in range(trials):
        go = res / f"go-{t}"
        while not go.exists():
            time.sleep(0.002)
        try:
            got = _call(ctx, "lock.acquire", {"paths": [RACE_PATH], "ttl": 60,
                                              "session": me["session"]})
            text = "won " + got["locks"][0]["id"]
        except OrchError as e:
            text = "lost" if e.code == "lock_conflict" else f"error {e.code}: {e.message}"
        tmp = res / f".r-{t}-{n:02d}"
        tmp.write_text(text)
        tmp.replace(res / f"r-{t}-{n:02d}")
    ctx.close()
    return 0


def _spawn(spec_path: Path, mode: str, n: int, arg: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE / "remote_race.py"), "--worker", mode,
                             str(spec_path), str(n), str(arg)])


# -- runs ------------------------------------------------------------------------------

def race(spec: dict[str, Any], duration: float) -> dict[str, Any]:
    spec_path = Path(spec["results"]) / "spec.json"
    spec_path.write_text(json.dumps(spec))
    kids = [_spawn(spec_path, "race", n, duration) for n in range(len(spec["workers"]))]
    res = Path(spec["results"])
    deadline = time.monotonic() + 120
    while len(list(res.glob("ready-race-*"))) < len(kids) and time.monotonic() < deadline:
        if any(k.poll() is not None for k in kids):
            break
        time.sleep(0.02)
    go = Path(spec["results"]) / "go"
    (go.parent / "go.tmp").write_text(repr(time.time()))
    (go.parent / "go.tmp").replace(go)
    codes = [k.wait(timeout=duration + 300) for k in kids]
    return {"exit_codes": codes}


def one_path(spec: dict[str, Any], clients: int, trials: int) -> dict[str, Any]:
    """``clients`` sessions of different clones race for one path, ``trials`` times."""
    from orch_core.errors import OrchError

    picks = sorted(range(len(spec["workers"])), key=lambda i: (i % 3, i))[:clients]
    res = Path(spec["results"])
    spec_path = res / "spec-one.json"
    sub = dict(spec, workers=[spec["workers"][i] for i in picks])
    spec_path.write_text(json.dumps(sub))
    kids = [_spawn(spec_path, "one", n, trials) for n in range(clients)]
    while len(list(res.glob("ready-*"))) < clients:
        if any(k.poll() is not None for k in kids):
            break
        time.sleep(0.02)
    admin = _ctx(sub["workers"][0]["clone"])
    winners: list[int] = []
    errors: list[str] = []
    for t in range(trials):
        (res / f"go-{t}").write_text("")
        deadline = time.monotonic() + 120
        while len(list(res.glob(f"r-{t}-*"))) < clients and time.monotonic() < deadline:
            time.sleep(0.005)
        answers = [p.read_text() for p in sorted(res.glob(f"r-{t}-*"))]
        won = [a.split()[1] for a in answers if a.startswith("won ")]
        errors += [a for a in answers if a.startswith("error")]
        winners.append(len(won))
        for lock_id in won:
            for _ in range(20):
                try:
                    _call(admin, "lock.release", {"targets": [lock_id], "force": True})
                    break
                except OrchError:
                    time.sleep(0.05)
    for k in kids:
        k.wait(timeout=120)
    admin.close()
    return {"trials": trials, "clients": clients, "winners": winners, "errors": errors}


def check(spec: dict[str, Any]) -> dict[str, Any]:
    """Replay the remote's lock history; every grant a worker reported must be in it."""
    from orch_core.git.remote import bare_repo
    from testing.audit import Grant, verify_lock_history

    grants: list[Grant] = []
    ops: dict[str, list[float]] = {"acquire": [], "release": []}
    counts = {"granted": 0, "refused": 0, "unexpected": 0}
    unexpected: list[str] = []
    for f in sorted(Path(spec["results"]).glob("race-*.jsonl")):
        for line in f.read_text().splitlines():
            row = json.loads(line)
            if row["op"] == "error":
                counts["unexpected"] += 1
                unexpected.append(row["error"])
                continue
            if row["ok"]:
                ops[row["op"]].append(row["ms"])
            if row["op"] == "acquire":
                counts["granted" if row["ok"] else "refused"] += 1
                grants += [Grant(g["lock_id"], g["path"], g["mode"], g["session"])
                           for g in row.get("grants", [])]
    audit = verify_lock_history(bare_repo(Path(spec["bare"])), grants=grants)
    return {"audit": audit.summary(), "ok": audit.ok and not unexpected,
            "violations": len(audit.violations), "missing_grants": len(audit.missing_grants),
            "problems": audit.problems[:5], "unexpected": unexpected[:5], "counts": counts,
            "ms": ops}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "SPEC", "N", "ARG"))
    ap.add_argument("--clones", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    if args.worker:
        mode, spec_path, n, arg = args.worker
        spec = json.loads(Path(spec_path).read_text())
        if mode == "race":
            return race_worker(spec, int(n), float(arg))
        return one_path_worker(spec, int(n), int(float(arg)))
    import tempfile

    from benchmarks.common import sealed_env
    from testing.gitdaemon import daemon, make_bare

    with tempfile.TemporaryDirectory(prefix="remote-race-") as tmp:
        base = Path(tmp)
        with sealed_env(base / "home"):
            (base / "served").mkdir()
            bare = make_bare(base / "served" / "team.git")
            with daemon(base / "served") as d:
                spec = setup(base, d.url(bare), bare, args.clones, args.sessions)
                race(spec, args.duration)
                print(json.dumps(check(spec)["audit"], indent=1))
                print(json.dumps(one_path(spec, 16, args.trials)["winners"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
