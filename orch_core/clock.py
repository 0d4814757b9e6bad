"""Wall-clock time, with an offset tests can set to move time in child processes.

The offset (``ORCH_CLOCK_OFFSET``) is a test-only control: it is honoured only
when the test switch ``ORCH_TESTING=1`` is set too, and only when it is a plain
decimal number (``-?DIGITS[.DIGITS]``); anything else counts as 0. The shims
parse it the same way (``orch_offset`` in ``hooks/_header.sh``) before handing
it to awk, so Python, the shell and awk never disagree on the time.
"""

from __future__ import annotations

import os
import re
import time

TEST_SWITCH = "ORCH_TESTING"
OFFSET_VAR = "ORCH_CLOCK_OFFSET"
_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,9})?")


def offset(env: dict[str, str] | os._Environ[str] | None = None) -> float:
    """The test clock offset in seconds: 0 unless the test switch is on."""
    env = os.environ if env is None else env
    if env.get(TEST_SWITCH) != "1":
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
