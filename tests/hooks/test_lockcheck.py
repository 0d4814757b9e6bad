"""hooks/lockcheck.awk: the pre-commit fast accept, kept in its own commented file.

The installed pre-commit shim carries the program inline (no file beside the
shim, no extra open on the commit path); these tests check that the inlined
program is the file's, and that the comments change nothing.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from orch_core.hooks import shims
from orch_core.locks import export as locks
from orch_core.locks.table import EXCLUSIVE, SHARED, Lock

SOURCE = shims.templates_dir() / "lockcheck.awk"


def _lock(path: str, session: str, mode: str = EXCLUSIVE, expires: float = 1e12) -> Lock:
    return Lock(id="L-1", path=path, mode=mode,
                session=session, owner="o", task=None, acquired_at=0.0, expires_at=expires,
                ttl=60.0)


def _decide(program: list[str], idx: Path, staged: list[str], cfg: Path | None = None,
            tip: str = "T") -> int:
    conf = str(cfg) if cfg else "/dev/null"
    proc = subprocess.run(
        ["awk", "-v", "sess=s1", "-v", f"tip={tip}", "-v", "off=0", "-v", f"cfg={conf}",
         "-v", "packed=/dev/null", "-v", f"idx={idx}", *program, conf, "/dev/null",
         str(idx), "-"],
        input="".join(p + "\n" for p in staged), capture_output=True, text=True, timeout=30)
    return proc.returncode


def test_installed_shim_carries_the_program_and_parses(tmp_path: Path) -> None:
    text = shims.render("pre-commit", ["refs/heads/main"])
    for placeholder in ("@LOCKCHECK_AWK@", "@PROTECTED_CASE@", "@PYTHON@", "@HOOK@"):
        assert placeholder not in text
    assert shims.awk_program("lockcheck") in text
    assert "lockcheck.awk" in text  # the shim names its source
    shim = tmp_path / "pre-commit"
    shim.write_text(text)
    subprocess.run(["sh", "-n", str(shim)], check=True)


def test_inlined_program_has_no_comment_lines() -> None:
    program = shims.awk_program("lockcheck")
    assert program.startswith("BEGIN")
    assert not [ln for ln in program.splitlines() if ln.lstrip().startswith("#") or
                not ln.strip()]
    assert len(program.splitlines()) < len(SOURCE.read_text().splitlines()) // 2


@pytest.mark.parametrize(("table", "staged", "tip", "expected"), [
    ([], ["src/a.py"], "T", 0),
    ([_lock("src/a.py", "s2")], ["src/a.py"], "T", 1),
    ([_lock("src/", "s2")], ["src/deep/a.py"], "T", 1),
    ([_lock("src/", "s2", SHARED)], ["src/a.py"], "T", 1),
    ([_lock("src/", "s1")], ["src/a.py"], "T", 0),
    ([_lock("src/", "s2", expires=5.0)], ["src/a.py"], "T", 0),
    ([_lock("src/a.py", "s2")], ["src/b.py"], "OTHER", 3),
    ([], ['"src/tab\\there.py"'], "T", 3),
])
def test_commented_source_and_inlined_program_decide_alike(
        tmp_path: Path, table: list[Lock], staged: list[str], tip: str, expected: int) -> None:
    idx = tmp_path / "locks.idx"
    idx.write_text(locks.export_text("T", [locks.export_line(lk, False) for lk in table],
                                     False, False, "n1"))
    inlined = _decide([shims.awk_program("lockcheck")], idx, staged, tip=tip)
    from_file = _decide(["-f", str(SOURCE)], idx, staged, tip=tip)
    assert inlined == from_file == expected


def test_the_time_trick_reads_the_clock(tmp_path: Path) -> None:
    """srand() twice gives the time in seconds: a lease ending in a minute still holds."""
    idx = tmp_path / "locks.idx"
    soon = time.time() + 60
    idx.write_text(locks.export_text("T", [locks.export_line(_lock("a", "s2", expires=soon),
                                                             False)], False, False, "n1"))
    assert _decide([shims.awk_program("lockcheck")], idx, ["a"]) == 1
    late = subprocess.run(
        ["awk", "-v", "sess=s1", "-v", "tip=T", "-v", "off=120", "-v", "cfg=/dev/null",
         "-v", "packed=/dev/null", "-v", f"idx={idx}", shims.awk_program("lockcheck"),
         "/dev/null", "/dev/null", str(idx), "-"],
        input="a\n", capture_output=True, text=True, timeout=30)
    assert late.returncode == 0  # two minutes on, the lease has ended


@pytest.mark.parametrize("text", [
    "[locks]\nrequire_lock = true\n",
    "[ locks ]\n  require_lock=true # on\n",
    "locks.require_lock = true\n",
    '[locks]\n"require_lock" = true\n',
    "[locks]\n'require_lock' = true\n",
    "locks = { default_ttl = 60, require_lock = true }\n",
    '[merge]\nchecks = ["make test"]\n[locks]\nrequire_lock = true  # "quoted" comment\n',
])
def test_require_lock_in_any_spelling_goes_to_python(tmp_path: Path, text: str) -> None:
    from orch_core.state import config

    cfg = tmp_path / ".orch.toml"
    cfg.write_text(text)
    assert config.parse(text, cfg).get("locks", "require_lock") is True
    idx = tmp_path / "locks.idx"
    idx.write_text(locks.export_text("T", [], False, False, "n1"))
    for program in ([shims.awk_program("lockcheck")], ["-f", str(SOURCE)]):
        assert _decide(program, idx, ["src/a.py"], cfg) == 3


@pytest.mark.parametrize("text", [
    "",
    "[locks]\nrequire_lock = false        # true: every staged path must be covered\n",
    "# require_lock = true\n[locks]\ndefault_ttl = 1800\n",
    '[merge]\nprotected = ["main"]\nchecks = ["make test"]\n'
    'rules = [{ pattern = "^(<<<<<<<|>>>>>>>)", message = "conflict marker" }]\n',
])
def test_policies_without_require_lock_keep_the_fast_accept(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / ".orch.toml"
    cfg.write_text(text)
    idx = tmp_path / "locks.idx"
    idx.write_text(locks.export_text("T", [], False, False, "n1"))
    assert _decide([shims.awk_program("lockcheck")], idx, ["src/a.py"], cfg) == 0
