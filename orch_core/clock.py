"""Wall-clock time, with an offset tests can set to move time in child processes."""

from __future__ import annotations

import os
import time


def now() -> float:
    """Seconds since the epoch; ``ORCH_CLOCK_OFFSET`` shifts it (tests only)."""
    offset = os.environ.get("ORCH_CLOCK_OFFSET")
    base = time.time()
    if offset:
        try:
            return base + float(offset)
        except ValueError:
            return base
    return base


def iso(ts: float | None) -> str:
    """UTC ISO-8601 to the second, or an empty string."""
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
