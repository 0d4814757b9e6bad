"""Property tests: path normalisation, the conflict index against a brute-force
oracle, the awk fast path against Python, `.orch.toml` parsing and note parsing."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch_core.errors import UsageError
from orch_core.hooks import shims
from orch_core.locks import export as lockexport
from orch_core.locks.table import EXCLUSIVE, SHARED, Lock, LockIndex, conflicts, covers
from orch_core.paths import normalise
from orch_core.state import config
from orch_core.work import stamp

SEGMENT = st.sampled_from(["a", "b", "c", "src", "api", "x.py", "A", "..", ".", ""])
RAW_PATH = st.lists(SEGMENT, min_size=0, max_size=5).map("/".join) | st.text(max_size=20)
LOCK_PATH = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4).flatmap(
    lambda parts: st.sampled_from(["/".join(parts), "/".join(parts) + "/"]))
SESSION = st.sampled_from(["s1", "s2", "s3"])
MODE = st.sampled_from([EXCLUSIVE, SHARED])


@settings(max_examples=600)
@given(RAW_PATH)
def test_normalise_is_safe_and_idempotent(raw: str) -> None:
    try:
        out = normalise(raw)
    except UsageError:
        return
    parts = out.rstrip("/").split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert not out.startswith("/") and "\x00" not in out
    assert normalise(out) == out


def _lock(i: int, path: str, mode: str, session: str, expires: float = 100.0) -> Lock:
    return Lock(id=f"L-{i}", path=path, mode=mode, session=session, owner=session,
                task=None, acquired_at=0.0, expires_at=expires, ttl=100.0)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(LOCK_PATH, MODE, SESSION, st.sampled_from([5.0, 100.0])), max_size=25),
    st.lists(st.tuples(LOCK_PATH, MODE, SESSION), min_size=1, max_size=10),
    st.booleans(),
)
def test_index_matches_brute_force_oracle(
        held: list[tuple[str, str, str, float]], asks: list[tuple[str, str, str]],
        ignore_case: bool) -> None:
    now = 50.0
    table = [_lock(i, p, m, s, e) for i, (p, m, s, e) in enumerate(held)]
    index = LockIndex(table, ignore_case)
    for path, mode, session in asks:
        want = {lk.id for lk in table
                if lk.live(now) and conflicts(path, mode, session, lk, ignore_case)}
        got = {lk.id for lk in index.blockers(path, mode, session, now)}
        assert got == want


@given(LOCK_PATH, LOCK_PATH)
def test_covers_is_symmetric(a: str, b: str) -> None:
    assert covers(a, b) == covers(b, a)


AWK_PATHS = st.lists(st.sampled_from(["a", "b", "c", "d.py"]), min_size=1, max_size=4).map(
    "/".join)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(LOCK_PATH, MODE, SESSION, st.sampled_from([5.0, 1e12])), max_size=12),
    st.lists(AWK_PATHS, min_size=1, max_size=8),
)
def test_awk_fast_path_never_accepts_what_python_refuses(
        held: list[tuple[str, str, str, float]], staged: list[str]) -> None:
    """The shell/awk pre-commit filter may only accept when Python would too."""

    program = shims.awk_program("lockcheck")
    table = [_lock(i, p, m, s, e) for i, (p, m, s, e) in enumerate(held)]
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "locks.idx"
        idx.write_text(lockexport.export_text(
            "T", [lockexport.export_line(lk, False) for lk in table], False, False, "n0"))
        proc = subprocess.run(
            ["awk", "-v", "sess=s1", "-v", "tip=T", "-v", "off=0", "-v", "cfg=/dev/null",
             "-v", "packed=/dev/null", "-v", f"idx={idx}", program, "/dev/null", "/dev/null",
             str(idx), "-"],
            input="\n".join(staged) + "\n", capture_output=True, text=True)
    python_refuses = bool(LockIndex(table).check(staged, "s1", time.time()))
    if proc.returncode == 0:
        assert not python_refuses
    else:
        assert proc.returncode in (1, 3)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(LOCK_PATH, MODE, SESSION, st.sampled_from([5.0, 1e12])), max_size=12),
    st.dictionaries(SESSION, st.sampled_from([5.0, time.time() - 2, time.time() + 0.4,
                                              1e12]), max_size=3),
    st.lists(AWK_PATHS, min_size=1, max_size=8),
)
def test_awk_with_holders_deadlines_never_accepts_what_python_refuses(
        held: list[tuple[str, str, str, float]], deadlines: dict[str, float],
        staged: list[str]) -> None:
    """Dead holders (docs/ARCHITECTURE.md, "Dead sessions"): the index's EXPIRY is the
    earlier of lease end and deadline; the awk may still only accept what Python does."""
    program = shims.awk_program("lockcheck")
    table = [_lock(i, p, m, s, e) for i, (p, m, s, e) in enumerate(held)]
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "locks.idx"
        idx.write_text(lockexport.export_text(
            "T", [lockexport.export_line(lk, False, deadlines.get(lk.session))
                  for lk in table], False, False, "n0"))
        proc = subprocess.run(
            ["awk", "-v", "sess=s1", "-v", "tip=T", "-v", "off=0", "-v", "cfg=/dev/null",
             "-v", "packed=/dev/null", "-v", f"idx={idx}", program, "/dev/null", "/dev/null",
             str(idx), "-"],
            input="\n".join(staged) + "\n", capture_output=True, text=True)
    python_refuses = bool(LockIndex(table, False, deadlines).check(staged, "s1", time.time()))
    if proc.returncode == 0:
        assert not python_refuses
    else:
        assert proc.returncode in (1, 3)
    # And it learns a death without Python: with every holder dead or its lease over
    # (a whole second ago), it accepts.
    gone = time.time() - 1
    if all(lk.session == "s1" or lk.expires_at < gone or deadlines.get(lk.session, 1e13) < gone
           for lk in table):
        assert proc.returncode == 0


TOML_VALUES = st.one_of(st.integers(), st.booleans(), st.text(max_size=5),
                        st.lists(st.text(max_size=3), max_size=2), st.floats(allow_nan=False))


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["locks", "merge", "bogus", "sessions"]),
                       st.dictionaries(st.sampled_from(["default_ttl", "protected", "checks",
                                                        "strategy", "ttl", "nope"]),
                                       TOML_VALUES, max_size=3), max_size=3))
def test_config_either_parses_or_names_file_and_key(data: dict[str, dict[str, object]]) -> None:
    import tomli_w

    text = tomli_w.dumps(data)
    path = Path("/repo/.orch.toml")
    try:
        cfg = config.parse(text, path)
    except UsageError as e:
        assert str(path) in e.message
        assert e.code == "bad_config"
        return
    for section, body in data.items():
        for key, value in body.items():
            assert cfg.get(section, key) == value


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_config_garbage_never_crashes(text: str) -> None:
    try:
        config.parse(text, Path("/repo/.orch.toml"))
    except UsageError as e:
        assert e.message.startswith("/repo/.orch.toml")


@settings(max_examples=300)
@given(st.lists(st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps),
    st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)), max_size=6))
def test_note_parsing_skips_corrupt_lines(lines: list[str]) -> None:
    objs, warnings = stamp.parse_note("\n".join(lines))
    good = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            good += isinstance(json.loads(line), dict)
        except json.JSONDecodeError:
            pass
    assert len(objs) == good
    assert len(objs) + len(warnings) == sum(1 for ln in lines if ln.strip())
