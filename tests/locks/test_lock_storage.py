"""How the lock table and the hook files are stored: one blob per session in
refs/orch/locks, and the in-place rewrites of locks.idx and the stamp payload files
that the shell fast paths read (torn and interrupted writes must never be trusted)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orch_core import seqfile
from orch_core.api import dispatch as api
from orch_core.errors import Conflict
from orch_core.git import objects as gitobjects
from orch_core.git import refs as gitrefs
from orch_core.hooks import shims
from orch_core.locks import export as lockexport
from orch_core.locks import service as locks
from orch_core.locks import storage as lockstorage
from orch_core.locks.table import EXCLUSIVE, LEGACY_TABLE, Lock, blob_name, parse_tree, serialise
from orch_core.state.context import Context
from orch_core.work import stamp
from testing import audit
from testing.repos import add_worktree, commit_file, git


def _open(ctx: Context, owner: str) -> str:
    return str(api.call(ctx, "session.open", {"owner": owner, "bind": False})["session_id"])


def _tree(repo: Path, rev: str = locks.REF) -> dict[str, str]:
    out = git(repo, "ls-tree", rev).stdout
    return {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}


def _lock(i: int, path: str, session: str, expires: float = 4e9) -> Lock:
    return Lock(id=f"L-{i}", path=path, mode=EXCLUSIVE, session=session, owner="o",
                task=None, acquired_at=0.0, expires_at=expires, ttl=600.0)


# -- the table: one blob per session -------------------------------------------------

def test_a_change_rewrites_only_the_blob_of_the_session_it_touches(ctx: Context,
                                                                  repo: Path) -> None:
    a, b = _open(ctx, "a"), _open(ctx, "b")
    api.call(ctx, "lock.acquire", {"paths": ["src/api/"], "session": a})
    api.call(ctx, "lock.acquire", {"paths": ["docs/", "README.md"], "session": b})
    before = _tree(repo)
    assert sorted(before) == sorted([blob_name(a), blob_name(b)])
    got = api.call(ctx, "lock.acquire", {"paths": ["src/web/"], "session": a})
    after = _tree(repo)
    assert after[blob_name(b)] == before[blob_name(b)]
    assert after[blob_name(a)] != before[blob_name(a)]
    api.call(ctx, "lock.release", {"targets": ["src/api/", got["locks"][0]["id"]],
                                   "session": a})
    assert sorted(_tree(repo)) == [blob_name(b)]  # a session holding nothing has no blob
    table, warnings = locks.read_table(ctx.repo, git(repo, "rev-parse", locks.REF)
                                       .stdout.strip())
    assert warnings == [] and sorted(lk.path for lk in table) == ["README.md", "docs/"]
    assert audit.verify_lock_history(ctx.repo).ok


def test_first_layout_is_read_and_replaced_on_the_next_write(ctx: Context, repo: Path) -> None:
    a, b = _open(ctx, "a"), _open(ctx, "b")
    old = [_lock(1, "src/api/", a), _lock(2, "docs/", b)]
    commit = gitobjects.write_snapshot(ctx.pg, {LEGACY_TABLE: serialise(old)}, None, "old layout")
    gitrefs.cas_ref(ctx.pg, locks.REF, commit, None, "old layout")
    fresh = Context(cwd=repo, env={})
    try:
        assert sorted(lk["path"] for lk in api.call(fresh, "lock.list", {})["locks"]) == [
            "docs/", "src/api/"]
        with_conflict = api.call(fresh, "lock.check", {"paths": ["src/api/x.py"],
                                                       "session": b})
        assert not with_conflict["ok"]
        api.call(fresh, "lock.acquire", {"paths": ["tests/"], "session": b})
    finally:
        fresh.close()
    tree = _tree(repo)
    assert LEGACY_TABLE not in tree and sorted(tree) == sorted([blob_name(a), blob_name(b)])
    table, _w = locks.read_table(ctx.repo, git(repo, "rev-parse", locks.REF).stdout.strip())
    assert sorted(lk.path for lk in table) == ["docs/", "src/api/", "tests/"]
    report = audit.verify_lock_history(ctx.repo)
    assert report.ok and report.commits == 2, report.summary()


def test_lock_filed_under_another_session_is_reported_and_ignored() -> None:
    mine, theirs = _lock(1, "src/", "s-a"), _lock(2, "docs/", "s-b")
    table, warnings = parse_tree({blob_name("s-a"): serialise([mine, theirs]),
                                  "unrelated.txt": b"junk"})
    assert table == [mine]
    assert len(warnings) == 1 and "L-2" in warnings[0]
    assert blob_name("odd/id:é") == "locks-odd%2Fid%3A%C3%A9.jsonl"


def test_audit_replays_per_session_blobs_and_catches_a_forged_conflict(ctx: Context) -> None:
    pg = ctx.pg
    tip = gitobjects.write_tree_update(pg, None, {blob_name("s-a"): serialise(
        [_lock(1, "src/", "s-a")])}, "a takes src/")
    gitrefs.cas_ref(pg, locks.REF, tip, None, "x")
    new = gitobjects.write_tree_update(pg, tip, {blob_name("s-b"): serialise(
        [_lock(2, "src/x.py", "s-b")])}, "forged: b takes src/x.py")
    gitrefs.cas_ref(pg, locks.REF, new, tip, "x")
    last = gitobjects.write_tree_update(pg, new, {blob_name("s-a"): None}, "a releases src/")
    gitrefs.cas_ref(pg, locks.REF, last, new, "x")
    report = audit.verify_lock_history(ctx.repo, grants=[audit.Grant(
        "L-2", "src/x.py", EXCLUSIVE, "s-b")])
    assert report.commits == 3 and report.missing_grants == []
    assert [(v.a.id, v.b.id) for v in report.violations] == [("L-1", "L-2")]


# -- locks.idx: the pre-commit fast path -----------------------------------------------

def _awk_program() -> str:
    return shims.awk_program("lockcheck")


def _awk(idx: Path, staged: list[str], tip: str = "T", sess: str = "s1",
         ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["awk", "-v", f"sess={sess}", "-v", f"tip={tip}", "-v", "off=0", "-v",
         "cfg=/dev/null", "-v", "packed=/dev/null", "-v", f"idx={idx}", _awk_program(),
         "/dev/null", "/dev/null", str(idx), "-"],
        stdin=subprocess.PIPE, text=True)


def _decide(idx: Path, staged: list[str], tip: str = "T") -> int:
    proc = _awk(idx, staged, tip)
    proc.communicate("\n".join(staged) + "\n", timeout=30)
    return proc.returncode


def _index(tip: str, table: list[Lock], nonce: str = "n1") -> str:
    return lockexport.export_text(tip, [lockexport.export_line(lk, False) for lk in table],
                                  False, False, nonce)


def test_fast_path_trusts_only_a_whole_current_index(tmp_path: Path) -> None:
    idx = tmp_path / "locks.idx"
    held = [_lock(1, "src/api/", "s2"), _lock(2, "docs/a.md", "s2")]
    good = _index("T", held)
    cases = {
        "whole": (good, 0, 1),
        "other tip": (_index("U", held), 3, 3),
        "write under way": ("x" + good[1:], 3, 3),
        "cut short": (good[: good.index("end\t")], 3, 3),
        "cut mid-line": (good[: good.index("docs/") + 3], 3, 3),
        "trailer of another write": (good.replace("end\tT\tn1", "end\tT\tn2"), 3, 3),
        "lines after the trailer": (good + "junk\n", 3, 3),
    }
    for name, (text, free_rc, held_rc) in cases.items():
        idx.write_text(text)
        assert _decide(idx, ["README.md"]) == free_rc, name
        assert _decide(idx, ["src/api/users.py"]) == held_rc, name


def test_index_rewritten_while_awk_reads_is_not_trusted(tmp_path: Path) -> None:
    """The header is read again at the end: a write in between sends the commit to Python
    even when neither version holds the staged path."""
    idx = tmp_path / "locks.idx"
    seqfile.rewrite_in_place(idx, _index("T", [_lock(1, "src/", "s2")], "n1").encode())
    proc = _awk(idx, ["docs/a.md"])
    time.sleep(0.3)  # awk has read the index and waits for the staged paths
    seqfile.rewrite_in_place(idx, _index("T", [_lock(1, "src/", "s2")], "n2").encode())
    proc.communicate("docs/a.md\n", timeout=30)
    assert proc.returncode == 3
    assert _decide(idx, ["docs/a.md"]) == 0


def test_concurrent_in_place_rewrites_never_let_a_held_path_through(tmp_path: Path) -> None:
    """A writer flips the index between two tables that both hold src/held.py (at the
    top in one, at the bottom in the other, lines of different lengths in between):
    a reader that stitched the two together could miss it. No reader may accept."""
    idx = tmp_path / "locks.idx"
    target = _lock(0, "src/held.py", "s2")
    filler_a = [_lock(i, f"a/{i:05d}.py", "s2") for i in range(1, 1500)]
    filler_b = [_lock(i, f"bbbbbbbbbb/{i:05d}/x.py", "s2") for i in range(1, 1500)]
    versions = [[target, *filler_a], [*filler_b, target]]
    seqfile.rewrite_in_place(idx, _index("T", versions[0], "n0").encode())
    stop = threading.Event()
    writes = [0]

    def writer() -> None:
        while not stop.is_set():
            writes[0] += 1
            seqfile.rewrite_in_place(
                idx, _index("T", versions[writes[0] % 2], f"n{writes[0]}").encode())

    thread = threading.Thread(target=writer)
    thread.start()
    codes: list[int] = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline or len(codes) < 50:
            codes.append(_decide(idx, ["src/held.py"]))
    finally:
        stop.set()
        thread.join()
    assert 0 not in codes
    assert set(codes) <= {1, 3} and writes[0] > 10
    assert _decide(idx, ["src/held.py"]) == 1  # settled: decided by the fast path


def test_writer_killed_mid_rewrite_sends_commits_to_python_until_the_next_write(
        repo: Path) -> None:
    wb = add_worktree(repo, "wt-b")
    ctx = Context(cwd=repo, env={})
    try:
        a = _open(ctx, "a")
        api.call(ctx, "lock.acquire", {"paths": ["src/api/"], "session": a})
        idx = ctx.repo.orch_dir / lockexport.EXPORT
        # A SIGKILLed writer holds no flock any more and leaves the marker byte behind.
        fd = os.open(idx, os.O_WRONLY)
        os.pwrite(fd, b"x", 0)
        os.close(fd)
        proc = commit_file(wb, "src/api/users.py", "x\n", "blocked")
        assert proc.returncode == 1 and a in proc.stderr  # Python decided, and refused
        git(wb, "reset", "-q", "--hard")
        assert commit_file(wb, "docs/free.md", "x\n", "free").returncode == 0
        api.call(ctx, "lock.acquire", {"paths": ["docs/x/"], "session": a})
        assert idx.read_bytes().startswith(b"tip\t")
        git(wb, "reset", "-q", "--hard")
        assert commit_file(wb, "docs/free2.md", "x\n", "free again").returncode == 0
    finally:
        ctx.close()


# -- stamp payload files: the post-commit fast path ------------------------------------

def _notes(cwd: Path) -> list[dict[str, Any]]:
    objs, warnings = stamp.parse_note(git(cwd, "notes", "--ref=orch", "show", "HEAD").stdout)
    assert warnings == []
    return objs


def test_stamp_file_is_used_whole_or_not_at_all(repo: Path) -> None:
    wt = add_worktree(repo, "wt-a")
    ctx = Context(cwd=wt, env={})
    try:
        sid = str(api.call(ctx, "session.open", {"owner": "alice", "bind": True})
                  ["session_id"])
        path = stamp.stamp_dir(ctx) / f"{sid}.json"
        marked = {"v": 1, "session": sid, "owner": "from-the-file"}
        assert stamp.write_payload_file(ctx, path, marked)
        assert not stamp.write_payload_file(ctx, path, marked)  # unchanged: not rewritten
        good = path.read_text()
        head, body, tail = good.splitlines()
        assert head.startswith("=") and tail == "end " + head[1:].split(" ")[0]
        # The shell takes a whole file as it is (proof that the fast path runs)...
        assert commit_file(wt, "docs/one.md", "x\n", "one").returncode == 0
        assert _notes(wt)[-1]["owner"] == "from-the-file"
        # ...and never one a writer is in the middle of, cut short, or mismatched:
        # Python writes the note from the state instead.
        for n, bad in enumerate([
            "x" + good[1:],
            f"{head}\n{body}",
            f"{head}\n{body[: len(body) // 2]}",
            f"{head}\n{body}\nend 0000\n",
            "",
        ]):
            path.write_text(bad)
            assert commit_file(wt, f"docs/bad{n}.md", "x\n", f"bad {n}").returncode == 0
            note = _notes(wt)[-1]
            assert note["owner"] == "alice" and note["session"] == sid, (n, note)
    finally:
        ctx.close()


def test_concurrent_stamp_rewrites_give_whole_payloads(tmp_path: Path) -> None:
    """The shim's read (three lines, then the first again) against a writer flipping
    between two payloads of different lengths: every accepted read is one of them."""
    body = (shims.templates_dir() / "post-commit.sh").read_text()
    start = body.index("head= again= tail=")
    reader = body[start:body.index('if [ -n "$head" ]; then')]
    script = ("stamp=$1\n" + reader.replace(" && command -v flock >/dev/null 2>&1", "")
              + 'if [ -n "$head" ]; then printf "%s|%s\\n" "${head#* }" "$payload"; '
              'else echo torn; fi\n')
    ctx_like = {"short": {"v": 1, "owner": "s"},
                "long": {"v": 1, "owner": "l" * 3000, "locks": [f"p{i}" for i in range(300)]}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.json"
        texts = {}
        for name, data in ctx_like.items():
            prefix = json.dumps(data, separators=(",", ":"))[:-1]
            texts[name] = f"main|{prefix}"
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                i += 1
                data = ctx_like["short" if i % 2 else "long"]
                nonce = f"{i:08x}"
                prefix = json.dumps(data, separators=(",", ":"))[:-1]
                seqfile.rewrite_in_place(path, f"={nonce} main\n{prefix}\nend {nonce}\n".encode())

        seqfile.rewrite_in_place(path, b"=0 main\n{\"v\":1\nend 0\n")
        thread = threading.Thread(target=writer)
        thread.start()
        seen: list[str] = []
        try:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline or len(seen) < 30:
                out = subprocess.run(["sh", "-c", script, "sh", str(path)],
                                     capture_output=True, text=True, check=True).stdout
                seen.append(out.strip())
        finally:
            stop.set()
            thread.join()
    allowed = {*texts.values(), 'main|{"v":1', "torn"}
    assert set(seen) <= allowed, set(seen) - allowed
    assert set(seen) & set(texts.values())  # the fast path did read whole payloads


def test_slow_reader_never_puts_an_older_table_back_in_the_cache(repo: Path) -> None:
    """A reader that loaded tip T1 while a writer moved the ref to T2 must not
    relabel the cache T1: writers patch the rows they find labelled with the tip."""
    ctx = Context(cwd=repo, env={})
    a = api.call(ctx, "session.open", {"owner": "a", "bind": False})["session_id"]
    b = api.call(ctx, "session.open", {"owner": "b", "bind": False})["session_id"]
    c = api.call(ctx, "session.open", {"owner": "c", "bind": False})["session_id"]
    api.call(ctx, "lock.acquire", {"paths": ["docs/"], "session": a})
    t1 = gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF)
    old_table, _warnings = locks.read_table(ctx.repo, str(t1))
    api.call(ctx, "lock.acquire", {"paths": ["src/api/"], "session": b})
    t2 = gitrefs.read_ref_file(ctx.repo.common_dir, locks.REF)
    assert t2 != t1
    slow = Context(cwd=repo, env={})
    lockstorage.refresh_cache(slow, t1, old_table)  # the late write of a slow reader
    assert slow.store.meta("locks_tip") == t2
    paths = {r[0] for r in slow.store.conn.execute("SELECT path FROM locks")}
    assert paths == {"docs/", "src/api/"}
    fresh = Context(cwd=repo, env={})
    with pytest.raises(Conflict):
        api.call(fresh, "lock.acquire", {"paths": ["src/api/users.py"], "session": c})
    for x in (ctx, slow, fresh):
        x.close()
