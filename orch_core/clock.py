"""Wall-clock time, with an offset tests can set to move time in child processes.

The offset (``ORCH_CLOCK_OFFSET``) is a test-only control: it is honoured only
when the test switch ``ORCH_TESTING=1`` is set too, and only when it is a plain
decimal number (``-?DIGITS[.DIGITS]``); anything else counts as 0. The shims
parse it the same way (``orch_offset`` in ``hooks/_header.sh``) before handing
it to awk, so Python, the shell and awk never disagree on the time.

The test switch itself counts only in a source checkout with its test suite
(``tests/conftest.py`` and ``pyproject.toml`` beside the ``orch_core``
package): in a normal install an environment variable must not turn off the
locks of others (docs/ARCHITECTURE.md, "Test-only controls"). The shims of a
normal install are written without the offset at all (hooks/shims.py).
"""

from __future__ import annotations

import functools
import os
import re
import time
from pathlib import Path

TEST_SWITCH = "ORCH_TESTING"
OFFSET_VAR = "ORCH_CLOCK_OFFSET"
_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,9})?")


@functools.cache
def source_checkout() -> bool:
    """Is this orch_core a source checkout with its test suite beside it?"""
    root = Path(__file__).resolve().parent.parent
    return (root / "tests" / "conftest.py").is_file() and (root / "pyproject.toml").is_file()


def testing(env: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Do test-only controls count: the test switch on, in a source checkout."""
    env = os.environ if env is None else env
    return env.get(TEST_SWITCH) == "1" and source_checkout()


def offset(env: dict[str, str] | os._Environ[str] | None = None) -> float:
    """The test clock offset in seconds: 0 unless test-only controls count."""
    env = os.environ if env is None else env
    if not testing(env):
        return 0.0
    raw = env.get(OFFSET_VAR, "")
    return float(raw) if _NUMBER.fullmatch(raw) else 0.0


def now() -> float:
    """Seconds since the epoch, shifted by :func:`offset` (tests only)."""
    return time.time() + offset()


def iso(ts: float | None) -> str:
    """UTC ISO-8601 to the second, or an empty string."""
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
