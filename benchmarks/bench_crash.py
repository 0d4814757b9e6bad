"""Crash run: SIGKILL a real process at a random moment, then prove nothing broke.

Four kinds of victim, trials spread evenly over them:

- ``lock``: a child process looping ``locks.acquire``/``locks.release`` (forked
  from a warm parent, so the kill lands inside the operations, not in start-up);
- ``commit``: ``git commit`` in an agent's worktree with every orch hook
  installed (pre-commit lock check, post-commit checkpoint stamping); the
  commit's whole process group is killed, so hooks die with it;
- ``land``: ``orch-hooks merge land`` of an approved branch whose check takes a
  little time (the check runs in its own process group, as the lander starts it);
- ``rebuild``: ``orch-hooks rebuild --force`` from ``refs/orch/work``.

After every trial:

1. ``orch-hooks doctor`` is content, or ``doctor --fix`` makes it content (each
   ``--fix`` is counted with the checks that asked for it);
2. SQLite passes ``PRAGMA integrity_check``;
3. the invariants of the kind hold (below) and the next operation of the same
   kind, uninterrupted, succeeds.

Invariants: no state of ``refs/orch/locks`` ever held two conflicting live
leases (testing.audit); main is its old tip or the tested merge the lander
recorded before moving it, and the queue is never stuck; every commit on a
branch has its checkpoint note once doctor has run (a commit killed between
``git commit`` writing the ref and the post-commit stamp is reported by
``doctor`` and restamped by ``doctor --fix`` from the session's payload, marked
``"restamped"``); a killed rebuild leaves the old database or the new one, never
none.

Git's own lock files (``index.lock``, ``<ref>.lock``) left by a killed process
only count as stale after ``gitrefs.STALE_GIT_LOCK_SECONDS``; instead of sleeping
that long in every such trial, the run ages them (moves their mtime back): the
only thing mocked here is time.

    python benchmarks/bench_crash.py                  # 120 trials
    python benchmarks/bench_crash.py --trials 200 --seed 7 --kinds commit,land
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ORCH, ROOT, Figure, figure, git, median, report, workdir

KINDS = ("lock", "commit", "land", "rebuild")
DEFAULT_TRIALS = 120
DEFAULT_SEED = 20240601
TIME_BUDGET_S = 600.0
LAND_CHECK = "sleep 0.2"
LOCK_PATHS = (
    "src/", "src/api/", "src/api/users.py", "src/api/todos.py", "src/web/", "docs/",
    "docs/guide.md", "README.md", "tests/", "tests/test_api.py",
)

ORCH_TOML = textwrap.dedent(f"""\
    [locks]
    default_ttl = 1800

    [merge]
    protected = ["main"]
    checks = [{json.dumps(LAND_CHECK)}]
    strategy = "merge"
    check_timeout = 60
""")

# A long-lived parent warms the imports once, then per trial forks one child (a
# real process) that loops acquire/release; the parent SIGKILLs it after a random
# delay and reaps it. tests/test_lock_race.py uses the same zygote.
LOCK_ZYGOTE = textwrap.dedent("""
    import os, random, signal, sys, time
    from pathlib import Path
    from orch_core.locks import service as locks
    from orch_core.work import sessions
    from orch_core.state.context import Context
    from orch_core.errors import OrchError
    import pygit2  # noqa: F401  (loaded before forking)
    repo, sid, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    for line in sys.stdin:
        seed = int(line)
        pid = os.fork()
        if pid == 0:
            ctx = Context(cwd=Path(repo), env={})
            sess = sessions.get(ctx, sid)
            rng = random.Random(seed)
            while True:
                try:
                    got = locks.acquire(ctx, sess, rng.sample(paths, rng.choice((1, 2))),
                                        shared=rng.random() < 0.3, ttl=600)
                    locks.release(ctx, sess, [lk["id"] for lk in got["locks"]])
                except OrchError:
                    pass
        time.sleep(random.Random(-seed).uniform(0.02, 0.12))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        print(pid, status, flush=True)
""")


@dataclass
class Trial:
    kind: str
    n: int
    delay: float = 0.0
    outcome: str = ""
    fixes: list[str] = field(default_factory=list)
    stale_files: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


# -- small helpers ---------------------------------------------------------------------

def sh(cwd: Path, *args: str, env: dict[str, str] | None = None,
       check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:5])} failed ({proc.returncode}): "
                           f"{proc.stdout.strip()} {proc.stderr.strip()}")
    return proc


def orch_json(cwd: Path, *args: str, session: str | None = None,
              check: bool = True) -> dict[str, Any]:
    env = dict(os.environ)
    if session:
        env["ORCH_SESSION"] = session
    proc = sh(cwd, ORCH, *args, "--json", env=env, check=check)
    try:
        out: dict[str, Any] = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        out = {"unparsed": proc.stdout}
    out["_exit"] = proc.returncode
    out["_stderr"] = proc.stderr
    return out


def rev(repo: Path, name: str) -> str | None:
    proc = sh(repo, "git", "rev-parse", "-q", "--verify", name + "^{commit}", check=False)
    return proc.stdout.strip() or None


def has_note(repo: Path, commit: str) -> bool:
    proc = sh(repo, "git", "notes", "--ref=orch", "show", commit, check=False)
    return proc.returncode == 0 and proc.stdout.strip() != ""


def kill_group_after(proc: subprocess.Popen[bytes], delay: float) -> str:
    """SIGKILL ``proc``'s process group after ``delay`` s; 'killed' or 'finished first'."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    finished = proc.poll() is not None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return "finished first" if finished else "killed"


def common_dir(repo: Path) -> Path:
    return repo / ".git"


def age_stale_git_locks(repo: Path) -> list[str]:
    """Git lock files a dead writer left, backdated past the stale age (see module doc)."""
    from orch_core.git import refs as gitrefs

    cdir = common_dir(repo)
    found: list[str] = []
    back = time.time() - gitrefs.STALE_GIT_LOCK_SECONDS - 1.0
    for p in cdir.rglob("*.lock"):
        if "objects" in p.relative_to(cdir).parts[:1]:
            continue
        try:
            os.utime(p, (back, back))
        except FileNotFoundError:
            continue
        found.append(str(p.relative_to(cdir)))
    return sorted(found)


def integrity(repo: Path) -> str:
    db = common_dir(repo) / "orch" / "state.db"
    if not db.exists():
        return "state.db missing"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=15)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as e:
        return f"does not open: {e}"


def doctor_content(repo: Path, t: Trial) -> None:
    """`doctor`; if unhappy, `doctor --fix` (counted, with the checks it was for); re-check."""
    rep = orch_json(repo, "doctor", check=False)
    if rep.get("healthy") and rep["_exit"] == 0:
        return
    bad = [f"{f['check']}" for f in rep.get("findings", []) if not f["ok"]]
    t.fixes = sorted(set(bad)) or [f"doctor exit {rep['_exit']}: {rep['_stderr'].strip()}"]
    fixed = orch_json(repo, "doctor", "--fix", check=False)
    left = [f"{f['check']}: {f['detail']}" for f in fixed.get("findings", [])
            if not (f["ok"] or f["fixed"])]
    again = orch_json(repo, "doctor", check=False)
    still = [f"{f['check']}: {f['detail']}" for f in again.get("findings", []) if not f["ok"]]
    if left or still or not again.get("healthy"):
        t.violations.append(f"doctor not content after --fix: {left or still or again}")


def write_toml(repo: Path) -> None:
    (repo / ".orch.toml").write_text(ORCH_TOML)


def new_repo(path: Path) -> Path:
    """sample_repo with the crash run's merge policy, committed, hooks installed."""
    shutil.copytree(ROOT / "sample_repo", path, ignore=shutil.ignore_patterns(".git"))
    write_toml(path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial import")
    sh(path, ORCH, "install")
    return path


def open_session(cwd: Path, owner: str, *extra: str) -> str:
    return str(orch_json(cwd, "session", "open", "--owner", owner, *extra)["session_id"])


# -- lock: acquire/release killed --------------------------------------------------------

class LockKind:
    name = "lock"

    def __init__(self, base: Path) -> None:
        self.repo = new_repo(base / "lock-repo")
        self.victim = open_session(self.repo, "victim", "--no-bind")
        self.other = open_session(self.repo, "bystander", "--no-bind")
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", LOCK_ZYGOTE, str(self.repo), self.victim, *LOCK_PATHS],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def trial(self, t: Trial, rng: random.Random) -> None:
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(f"{rng.randrange(1 << 30)}\n")
        self.zygote.stdin.flush()
        _pid, status = self.zygote.stdout.readline().split()
        st = int(status)
        t.outcome = "killed" if os.WIFSIGNALED(st) and os.WTERMSIG(st) == 9 else f"status {st}"
        if t.outcome != "killed":
            t.violations.append(f"child was not SIGKILLed ({st})")
        t.stale_files = age_stale_git_locks(self.repo)
        doctor_content(self.repo, t)
        if (got := integrity(self.repo)) != "ok":
            t.violations.append(f"integrity_check: {got}")
        # Next operation: the killed session takes all its paths again (so it held
        # nothing stuck against itself), a bystander takes and drops one, then the
        # victim's leases are dropped for the next trial.
        mine = orch_json(self.repo, "lock", "acquire", *LOCK_PATHS, "--ttl", "600",
                         session=self.victim, check=False)
        if mine["_exit"] != 0 or len(mine.get("locks", [])) != len(LOCK_PATHS):
            t.violations.append(f"next acquire failed: {mine.get('_stderr') or mine}")
        theirs = orch_json(self.repo, "lock", "acquire", f"elsewhere/{t.n}.py",
                           session=self.other, check=False)
        if theirs["_exit"] != 0:
            t.violations.append(f"bystander acquire failed: {theirs['_stderr']}")
        else:
            orch_json(self.repo, "lock", "release", f"elsewhere/{t.n}.py", session=self.other)
        rel = orch_json(self.repo, "lock", "release", *LOCK_PATHS, session=self.victim,
                        check=False)
        if rel["_exit"] != 0:
            t.violations.append(f"release after kill failed: {rel['_stderr']}")

    def finish(self) -> list[str]:
        from orch_core.git import repo as gitrepo
        from testing import audit

        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.close()
        self.zygote.wait(timeout=30)
        self.zygote.stdout.close()
        au = audit.verify_lock_history(gitrepo.discover(self.repo))
        return [] if au.ok else [f"lock history: {au.summary()}"]


# -- commit: git commit with stamping killed ---------------------------------------------

class CommitKind:
    name = "commit"

    def __init__(self, base: Path) -> None:
        self.repo = new_repo(base / "commit-repo")
        self.wt = base / "commit-agent"
        git(self.repo, "worktree", "add", "-q", "-b", "agent", str(self.wt))
        self.sid = open_session(self.wt, "agent", "--bind")
        orch_json(self.wt, "lock", "acquire", "src/crash/", session=self.sid)
        other = open_session(self.repo, "neighbour", "--no-bind")
        orch_json(self.repo, "lock", "acquire", "docs/", "src/web/", session=other)
        self.count = 0
        self._commit(kill=None)  # warm-up
        # Kills land uniformly over the typical commit's duration: before, inside
        # and after the ref update, in pre-commit and in post-commit.
        self.window = max(1.1 * median([self._commit(kill=None)[1] for _ in range(5)]), 0.02)

    def _commit(self, kill: float | None) -> tuple[str, float]:
        self.count += 1
        rel = f"src/crash/file{self.count % 7}.txt"
        p = self.wt / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"change {self.count}\n")
        add = sh(self.wt, "git", "add", rel, check=False)
        if add.returncode != 0:
            return f"git add failed: {add.stderr.strip()}", 0.0
        t0 = time.monotonic()
        proc = subprocess.Popen(["git", "commit", "-q", "-m", f"crash change {self.count}"],
                                cwd=self.wt, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        if kill is None:
            _out, err = proc.communicate()
            took = time.monotonic() - t0
            if proc.returncode != 0:
                return f"git commit failed: {err.decode(errors='replace').strip()}", took
            return "ok", took
        outcome = kill_group_after(proc, kill)
        assert proc.stderr is not None
        proc.stderr.close()
        return outcome, time.monotonic() - t0

    def unstamped(self) -> list[str]:
        out = sh(self.repo, "git", "rev-list", "agent", "--not", "main").stdout.split()
        return [c for c in out if not has_note(self.repo, c)]

    def trial(self, t: Trial, rng: random.Random) -> None:
        before = rev(self.repo, "agent")
        t.delay = rng.uniform(0.0, self.window)
        killed, _took = self._commit(kill=t.delay)
        after = rev(self.repo, "agent")
        if after == before:
            t.outcome = f"{killed}: no commit"
        elif has_note(self.repo, after or ""):
            t.outcome = f"{killed}: commit stamped"
        else:
            t.outcome = f"{killed}: commit without its note"
        t.stale_files = age_stale_git_locks(self.repo)
        doctor_content(self.repo, t)
        if (got := integrity(self.repo)) != "ok":
            t.violations.append(f"integrity_check: {got}")
        if missing := self.unstamped():
            t.violations.append(f"commits on agent without a checkpoint note after doctor: "
                                f"{[c[:12] for c in missing]}")
        res, _ = self._commit(kill=None)
        head = rev(self.repo, "agent")
        if res != "ok":
            t.violations.append(f"next commit: {res}")
        elif head == after or not has_note(self.repo, head or ""):
            t.violations.append("next commit made no stamped commit")

    def finish(self) -> list[str]:
        missing = self.unstamped()
        return [f"unstamped commits at the end: {len(missing)}"] if missing else []


# -- land: the lander killed -------------------------------------------------------------

class LandKind:
    name = "land"

    def __init__(self, base: Path) -> None:
        self.repo = new_repo(base / "land-repo")
        self.wt = base / "land-agent"
        git(self.repo, "worktree", "add", "-q", "-b", "feat-0", str(self.wt))
        self.author = open_session(self.wt, "author", "--bind")
        self.reviewer = open_session(self.repo, "reviewer", "--no-bind")
        self.n = 0
        self.landed = 0
        self.recovered = 0
        self._queue()
        t0 = time.monotonic()
        out = self._land()
        if not out.get("landed"):
            raise RuntimeError(f"calibration landing failed: {out}")
        self.window = 1.1 * (time.monotonic() - t0)

    def _queue(self) -> str:
        """A new branch from main with one stamped commit, queued and approved."""
        self.n += 1
        branch = f"feat-{self.n}"
        git(self.wt, "checkout", "-q", "-B", branch, "main")
        p = self.wt / "docs" / f"crash-{self.n}.md"
        p.write_text(f"crash landing {self.n}\n")
        git(self.wt, "add", str(p.relative_to(self.wt)))
        git(self.wt, "commit", "-q", "-m", f"{branch}: doc")
        entry = orch_json(self.wt, "merge", "request", branch, session=self.author)
        orch_json(self.repo, "merge", "review", entry["id"], "--approve",
                  session=self.reviewer)
        return branch

    def _land(self) -> dict[str, Any]:
        return orch_json(self.repo, "merge", "land", check=False)

    def queue_state(self) -> Any:
        from orch_core.git import objects as gitobjects
        from orch_core.git import repo as gitrepo
        from orch_core.merge import queue as q

        tip = rev(self.repo, q.REF)
        return q.parse(gitobjects.cat_blob(gitrepo.discover(self.repo), f"{tip}:{q.FILE}"))

    def trial(self, t: Trial, rng: random.Random) -> None:
        from orch_core.merge import queue as q

        branch = self._queue()
        feat = rev(self.repo, branch)
        old = rev(self.repo, "main")
        t.delay = rng.uniform(0.0, self.window)
        env = {k: v for k, v in os.environ.items() if k != "ORCH_SESSION"}
        proc = subprocess.Popen([ORCH, "merge", "land", "--json"], cwd=self.repo, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        killed = kill_group_after(proc, t.delay)
        main_now = rev(self.repo, "main")
        st = self.queue_state()
        entry = next(e for e in st.entries if e.branch == branch)
        tested = {r for r in (st.lease.target if st.lease else None, entry.landing_result,
                              entry.landed_as) if r}
        if main_now == old:
            where = "main at old tip"
        elif main_now in tested:
            where = "main at the tested merge"
        else:
            where = "main elsewhere"
            t.violations.append(f"main moved to {main_now} which is neither the old tip "
                                f"{old} nor a tested merge {sorted(tested)}")
        t.outcome = f"{killed}: {where}, entry {entry.state}"
        t.stale_files = age_stale_git_locks(self.repo)
        doctor_content(self.repo, t)
        if (got := integrity(self.repo)) != "ok":
            t.violations.append(f"integrity_check: {got}")
        # A kill inside the lander's fast-forward of the main worktree leaves it part
        # way (files and index moved, the ref not): the next landing must put it back.
        if sh(self.repo, "git", "status", "--porcelain").stdout.strip():
            t.outcome += ", main worktree mid-fast-forward"
        # Next operation: land again (finishing or retrying the entry if it is not landed).
        if entry.state != q.LANDED:
            out = self._land()
            self.recovered += bool(out.get("recovered"))
            if out["_exit"] != 0:
                t.violations.append(f"next landing failed: {out.get('reason') or out}")
        st = self.queue_state()
        entry = st.get(entry.id)
        main_now = rev(self.repo, "main")
        if st.lease is not None:
            t.violations.append(f"merge lock still held after the next landing: {st.lease}")
        if entry.state != q.LANDED or entry.landed_as != main_now:
            t.violations.append(f"entry {entry.id} {entry.state}, landed_as "
                                f"{entry.landed_as}, main {main_now}")
        else:
            self.landed += 1
            parents = sh(self.repo, "git", "rev-list", "--parents", "-n1",
                         "main").stdout.split()[1:]
            if parents != [old, feat]:
                t.violations.append(f"main {main_now} has parents {parents}, not "
                                    f"[old main, {branch}]")

        if dirty := sh(self.repo, "git", "status", "--porcelain").stdout.strip():
            t.violations.append(f"main worktree dirty after the next landing: {dirty[:200]}")

    def finish(self) -> list[str]:
        out = sh(self.repo, "git", "worktree", "list", "--porcelain").stdout
        landing = [ln for ln in out.splitlines()
                   if ln.startswith("worktree ") and "/orch/landing/" in ln]
        return [f"landing worktrees left: {landing}"] if len(landing) > 1 else []


# -- rebuild killed ----------------------------------------------------------------------

class RebuildKind:
    name = "rebuild"

    def __init__(self, base: Path) -> None:
        self.repo = new_repo(base / "rebuild-repo")
        for i in range(4):
            sid = open_session(self.repo, f"worker-{i}", "--no-bind")
            orch_json(self.repo, "task", "create", "--level", "epic", "--title",
                      f"epic {i}", session=sid)
        orch_json(self.repo, "sync")
        self.sessions = self._session_ids()
        t0 = time.monotonic()
        out = orch_json(self.repo, "rebuild", "--force")
        self.window = 1.1 * (time.monotonic() - t0)
        self.restored = out["restored"]

    def _session_ids(self) -> list[str]:
        out = orch_json(self.repo, "session", "list", "--all", check=False)
        return sorted(s["id"] for s in out.get("sessions", []))

    def trial(self, t: Trial, rng: random.Random) -> None:
        t.delay = rng.uniform(0.0, self.window)
        proc = subprocess.Popen([ORCH, "rebuild", "--force", "--json"], cwd=self.repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        killed = kill_group_after(proc, t.delay)
        db = common_dir(self.repo) / "orch" / "state.db"
        t.outcome = f"{killed}: state.db {'present' if db.exists() else 'MISSING'}"
        if not db.exists():
            t.violations.append("state.db missing after a killed rebuild")
        if (got := integrity(self.repo)) != "ok":
            t.violations.append(f"integrity_check right after the kill: {got}")
        t.stale_files = age_stale_git_locks(self.repo)
        doctor_content(self.repo, t)
        if (ids := self._session_ids()) != self.sessions:
            t.violations.append(f"sessions after the kill: {len(ids)}, expected "
                                f"{len(self.sessions)}")
        out = orch_json(self.repo, "rebuild", "--force", check=False)
        if out["_exit"] != 0 or out.get("restored") != self.restored:
            t.violations.append(f"next rebuild: {out.get('_stderr') or out.get('restored')}")
        if (got := integrity(self.repo)) != "ok":
            t.violations.append(f"integrity_check after the next rebuild: {got}")

    def finish(self) -> list[str]:
        left = sorted(p.name for p in (common_dir(self.repo) / "orch").glob("state.db.rebuild-*"))
        return [f"rebuild temporaries left behind: {left}"] if left else []


KIND_CLASSES: dict[str, Callable[[Path], Any]] = {
    "lock": LockKind, "commit": CommitKind, "land": LandKind, "rebuild": RebuildKind,
}


# -- the run -----------------------------------------------------------------------------

def run(trials: int = DEFAULT_TRIALS, seed: int = DEFAULT_SEED,
        kinds: tuple[str, ...] = KINDS, time_budget: float = TIME_BUDGET_S,
        verbose: bool = True) -> dict[str, Any]:
    """Run the trials round-robin over ``kinds``; returns counts, fixes and violations."""
    rng = random.Random(seed)
    t_start = time.monotonic()
    done: list[Trial] = []
    final: list[str] = []
    with workdir("orch-crash-") as base:
        victims = {k: KIND_CLASSES[k](base) for k in kinds}
        setup = time.monotonic() - t_start
        try:
            for n in range(trials):
                if time.monotonic() - t_start > time_budget:
                    final.append(f"time budget of {time_budget:.0f} s ran out after {n} "
                                 f"of {trials} trials")
                    break
                kind = kinds[n % len(kinds)]
                t = Trial(kind, n)
                t0 = time.monotonic()
                try:
                    victims[kind].trial(t, rng)
                except Exception as e:  # a trial that cannot finish is a violation
                    t.violations.append(f"trial crashed: {type(e).__name__}: {e}")
                t.seconds = time.monotonic() - t0
                done.append(t)
                if verbose:
                    print(f"{n:4d} {kind:8s} {t.delay * 1000:6.0f} ms  {t.outcome}"
                          + (f"  stale: {t.stale_files}" if t.stale_files else "")
                          + (f"  --fix for: {t.fixes}" if t.fixes else "")
                          + (f"  VIOLATION: {t.violations}" if t.violations else ""),
                          flush=True)
        finally:
            for k, v in victims.items():
                try:
                    final.extend(f"{k}: {p}" for p in v.finish())
                except Exception as e:
                    final.append(f"{k}: final check crashed: {type(e).__name__}: {e}")
        land = victims.get("land")
    return summarise(done, final, setup, time.monotonic() - t_start,
                     land.recovered if isinstance(land, LandKind) else 0)


def summarise(done: list[Trial], final: list[str], setup: float, total: float,
              recovered: int) -> dict[str, Any]:
    per_kind: dict[str, dict[str, Any]] = {}
    for t in done:
        k = per_kind.setdefault(t.kind, {"trials": 0, "outcomes": Counter(), "fixes": Counter(),
                                         "fix_trials": 0, "stale_files": Counter(),
                                         "violations": 0})
        k["trials"] += 1
        k["outcomes"][t.outcome] += 1
        k["fix_trials"] += bool(t.fixes)
        k["fixes"].update(t.fixes)
        k["stale_files"].update(_stale_kind(s) for s in t.stale_files)
        k["violations"] += len(t.violations)
    violations = [f"trial {t.n} ({t.kind}): {v}" for t in done for v in t.violations] + final
    return {"trials": len(done), "per_kind": per_kind, "violations": violations,
            "fix_trials": sum(bool(t.fixes) for t in done), "setup_s": setup,
            "total_s": total, "land_recovered": recovered}


def _stale_kind(path: str) -> str:
    parts = path.split("/")
    if parts[0] == "worktrees":
        return f"worktree {parts[-1]}" if "landing" not in path else f"landing {parts[-1]}"
    if parts[0] == "refs":
        return "/".join(parts[:3]) + ".lock" if len(parts) > 3 else path
    return path


def print_report(res: dict[str, Any]) -> None:
    print(f"\n== crash run: {res['trials']} trials in {res['total_s']:.0f} s "
          f"(set-up {res['setup_s']:.0f} s)")
    for kind, k in res["per_kind"].items():
        print(f"\n{kind}: {k['trials']} trials, doctor --fix needed in {k['fix_trials']}, "
              f"violations {k['violations']}")
        for what, n in sorted(k["outcomes"].items()):
            print(f"    {n:4d}  {what}")
        for what, n in sorted(k["fixes"].items()):
            print(f"    --fix for {what}: {n}")
        for what, n in sorted(k["stale_files"].items()):
            print(f"    git lock file left: {what}: {n}")
    if res["land_recovered"]:
        print(f"\nlandings finished by the next lander (main had moved): "
              f"{res['land_recovered']}")
    verdict = "PASS: zero violations" if not res["violations"] else (
        f"FAIL: {len(res['violations'])} violation(s)")
    print(f"\nverdict: {verdict}")
    for v in res["violations"][:50]:
        print(f"  - {v}")


def figures(res: dict[str, Any], wanted: int) -> list[Figure]:
    out = [figure("crash trials (SIGKILL at a random moment)", res["trials"], "trials",
                  f">= {min(wanted, 100)}", res["trials"] >= min(wanted, 100))]
    for kind, k in res["per_kind"].items():
        out.append(figure(f"crash {kind}: trials / doctor --fix needed", k["trials"],
                          f"/ {k['fix_trials']} fixed", ""))
    out.append(figure("crash invariant violations", len(res["violations"]), "", "0",
                      not res["violations"]))
    return out


def main(trials: int = DEFAULT_TRIALS, seed: int = DEFAULT_SEED,
         kinds: tuple[str, ...] = KINDS, verbose: bool = False) -> dict[str, Any]:
    res = run(trials, seed, kinds, verbose=verbose)
    print_report(res)
    out = report("crash run", figures(res, trials))
    out["result"] = {k: v for k, v in res.items() if k != "per_kind"}
    out["result"]["kind_trials"] = {k: v["trials"] for k, v in res["per_kind"].items()}
    out["result"]["kind_fixes"] = {k: dict(v["fixes"]) for k, v in res["per_kind"].items()}
    return out


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="SIGKILL orch-hooks at random moments.")
    ap.add_argument("--trials", type=int, default=DEFAULT_TRIALS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help=f"comma-separated subset of {','.join(KINDS)}")
    ap.add_argument("--quiet", action="store_true", help="no line per trial")
    ns = ap.parse_args(argv)
    kinds = tuple(k for k in ns.kinds.split(",") if k)
    if unknown := [k for k in kinds if k not in KINDS]:
        ap.error(f"unknown kind(s): {unknown}")
    out = main(ns.trials, ns.seed, kinds, verbose=not ns.quiet)
    return 0 if all(f["ok"] for f in out["figures"]) else 1


if __name__ == "__main__":
    sys.exit(cli())
