"""Lock calls through the long-running JSON-lines server (`orch-hooks serve`).

One server process on a repository where ``n_sessions`` other sessions hold
``n_locks`` live locks. Times, per request line written to the response line
read: an ``rpc.describe`` round trip (the baseline: protocol + JSON cost with
no lock work), a ``lock.acquire`` + ``lock.release`` pair (two CAS commits on
refs/orch/locks, two SQLite transactions) and a ``lock.check``. Budgets
(docs/ARCHITECTURE.md, "Performance budgets"): pair p50 < 5 ms, check p50 < 1 ms.

Runs once per table size (default 100 and 1,000 locks). ``--profile`` adds an
in-process cProfile of the same acquire/release pair at the largest size,
grouped by the step of ``locks.mutate`` it belongs to.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    ORCH,
    Figure,
    figure,
    make_repo,
    ms,
    orch,
    percentile,
    report,
    workdir,
)


class Pipe:
    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([ORCH, "serve"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.win = self.proc.stdin
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.n = 0

    def call(self, method: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        self.n += 1
        line = json.dumps({"id": self.n, "method": method, "params": params}).encode() + b"\n"
        t0 = time.perf_counter()
        self.win.write(line)
        self.win.flush()
        while b"\n" not in self.buf:
            select.select([self.fd], [], [], 30)
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise RuntimeError("server exited")
            self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\n")
        dt = time.perf_counter() - t0
        resp: dict[str, Any] = json.loads(raw)
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']['message']}")
        return dt, resp["result"]

    def close(self) -> None:
        self.win.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _seed(p: Pipe, n_locks: int, n_sessions: int) -> None:
    per = max(1, n_locks // n_sessions)
    for s in range(n_sessions):
        _, out = p.call("session.open", {"owner": f"other-{s}", "bind": False})
        paths = [f"src/other{s:02d}/f{i:04d}.py" for i in range(per)]
        p.call("lock.acquire", {"paths": paths, "session": out["session_id"]})


def _stats(name: str, xs: list[float], base: float, budget_ms: float | None) -> list[Figure]:
    p50, p95 = percentile(xs, 50), percentile(xs, 95)
    figs = [
        figure(f"{name} p50", ms(p50), "ms", f"< {budget_ms:g} ms" if budget_ms else "",
               ok=budget_ms is None or ms(p50) < budget_ms),
        figure(f"{name} p95", ms(p95), "ms"),
    ]
    if base > 0:
        figs.append(figure(f"{name} p50 / rpc.describe p50", round(p50 / base, 2), "x"))
    return figs


def main(lock_counts: tuple[int, ...] = (100, 1000), n_sessions: int = 20,
         rounds: int = 300, profile: bool = False) -> dict[str, Any]:
    """One server run per table size; figures are named ``[N locks] ...``."""
    figures: list[Figure] = []
    prof: dict[str, float] = {}
    for n_locks in lock_counts:
        figs = _run(n_locks, max(1, min(n_sessions, n_locks)), rounds)
        figures += [{**f, "name": f"[{n_locks} locks] {f['name']}"} for f in figs]
    if profile:
        prof = profile_pair(max(lock_counts), n_sessions)
    out = report("JSON-lines server: lock calls", figures)
    if profile:
        out["profile"] = prof
    return out


def _run(n_locks: int, n_sessions: int, rounds: int) -> list[Figure]:
    with workdir("orch-bench-server-") as base:
        repo = base / "repo"
        repo.mkdir()
        make_repo(repo, 200)
        orch(repo, "install")
        p = Pipe(repo)
        try:
            if n_locks:
                _seed(p, n_locks, n_sessions)
            _, me = p.call("session.open", {"owner": "bench", "bind": False})
            sid = me["session_id"]
            for _ in range(20):  # warm-up: imports, pygit2, SQLite pages
                p.call("rpc.describe", {})
                _, got = p.call("lock.acquire", {"paths": ["src/pkg000/"], "session": sid})
                p.call("lock.release", {"targets": [got["locks"][0]["id"]], "session": sid})
                p.call("lock.check", {"paths": ["src/pkg001/mod001.py"], "session": sid})
            describe = [p.call("rpc.describe", {})[0] for _ in range(rounds)]
            pairs: list[float] = []
            for i in range(rounds):
                path = f"src/pkg{i % 5:03d}/"
                t1, got = p.call("lock.acquire", {"paths": [path], "session": sid})
                t2, _ = p.call("lock.release", {"targets": [got["locks"][0]["id"]],
                                                "session": sid})
                pairs.append(t1 + t2)
            checks = [p.call("lock.check", {"paths": ["src/pkg001/mod001.py",
                                                      "src/other01/f0001.py"],
                                            "session": sid})[0] for _ in range(rounds)]
        finally:
            p.close()
        b50 = percentile(describe, 50)
        held = (n_locks // n_sessions) * n_sessions if n_locks else 0
        figures = [figure("rpc.describe round trip p50 (baseline)", ms(b50), "ms"),
                   figure("live locks held by other sessions", held, "locks")]
        figures += _stats("lock.acquire+lock.release pair", pairs, b50, 5.0)
        figures += _stats("lock.check", checks, b50, 1.0)
        return figures


def profile_pair(n_locks: int, n_sessions: int, rounds: int = 200) -> dict[str, float]:
    """Per-step cost (ms per acquire+release pair) of locks.mutate, in process, with
    ``n_locks`` held by others (cProfile inflates the total; compare the parts)."""
    with workdir("orch-bench-server-prof-") as base:
        repo = base / "repo"
        repo.mkdir()
        make_repo(repo, 200)
        orch(repo, "install")
        return _profile(repo, n_locks, n_sessions, rounds)


def _profile(repo: Path, n_locks: int, n_sessions: int, rounds: int) -> dict[str, float]:
    import cProfile
    import pstats

    from orch_core.api import registry as api
    from orch_core.state.context import Context

    ctx = Context(cwd=repo, env={})
    per = max(1, n_locks // max(1, n_sessions))
    for s in range(n_sessions if n_locks else 0):
        other = api.call(ctx, "session.open", {"owner": f"other-{s}", "bind": False})
        api.call(ctx, "lock.acquire", {"paths": [f"src/other{s:02d}/f{i:04d}.py"
                                                 for i in range(per)],
                                       "session": other["session_id"]})
    sid = api.call(ctx, "session.open", {"owner": "prof", "bind": False})["session_id"]

    def pair() -> None:
        got = api.call(ctx, "lock.acquire", {"paths": ["src/pkg009/"], "session": sid})
        api.call(ctx, "lock.release", {"targets": [got["locks"][0]["id"]], "session": sid})

    for _ in range(10):
        pair()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(rounds):
        pair()
    prof.disable()
    total = (time.perf_counter() - t0) / rounds
    stats = pstats.Stats(prof)
    wanted = {
        "writer_lock (flock)": ("gitio.py", "writer_lock"),
        "ref_tip (pygit2)": ("gitio.py", "ref_tip"),
        "write_tree_update (blob+tree+commit)": ("gitio.py", "write_tree_update"),
        "cas_ref (ref transaction)": ("gitio.py", "cas_ref"),
        "SQLite write + event": ("store.py", "write"),
        "hook index (locks.idx, in place)": ("locks.py", "_advance_export"),
        "stamp.refresh (payload file)": ("locks.py", "_refresh_stamps"),
        "sessions.current (who acts)": ("sessions.py", "current"),
        "normalise paths": ("locks.py", "normalise_all"),
    }
    out: dict[str, float] = {"pair total (in process)": round(total * 1000, 3)}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for label, (fname, func) in wanted.items():
        cum = sum(v[3] for k, v in raw.items() if k[0].endswith(fname) and k[2] == func)
        out[label] = round(cum / rounds * 1000, 3)
    ctx.close()
    print(f"\n== in-process cost per acquire+release pair, {n_locks} locks "
          "(ms, cProfile, inflated)")
    for k, v in out.items():
        print(f"  {k:<40} {v:8.3f}")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--locks", type=int, nargs="+", default=[100, 1000],
                    help="live locks held by other sessions; one run per value")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    main(tuple(a.locks), a.sessions, a.rounds, a.profile)
