"""The one user-facing exception family and its exit codes."""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class OrchError(Exception):
    """An expected failure: printed as a message, never as a traceback.

    ``code`` is a stable machine-readable name, ``hint`` says what to do next and
    ``retryable`` tells an agent whether the same call may succeed later.
    """

    exit_code = EXIT_REFUSED
    code = "failed"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        code: str | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "retryable": self.retryable,
        }
        if self.details:
            out["details"] = self.details
        return out


class UsageError(OrchError, ValueError):
    """The request itself is malformed: bad path, unknown option value, bad params."""

    exit_code = EXIT_USAGE
    code = "usage"


class NotFound(OrchError, LookupError):
    """An id that names nothing: session, task, lock, queue entry."""

    code = "not_found"


class Refused(OrchError):
    """A well-formed request that the rules refuse: a conflict, a gate, a policy."""

    code = "refused"


class Conflict(Refused):
    """A lock conflict; ``details['conflicts']`` lists the holders."""

    code = "lock_conflict"


class Busy(OrchError):
    """Contention that outlasted the retries; safe to retry."""

    code = "busy"
    retryable = True


class GitFailed(OrchError):
    """git itself failed in a way the user must look at."""

    code = "git_failed"


def log_bug(header: str, exc: BaseException) -> str:
    """Append the traceback of a bug to the user's crash log; say where it went."""
    import os
    import traceback
    from pathlib import Path

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "orch-hooks"
    try:
        base.mkdir(parents=True, exist_ok=True)
        path = base / "crash.log"
        with open(path, "a") as fh:
            fh.write(f"--- {header}\n")
            traceback.print_exception(exc, file=fh)
        return str(path)
    except OSError:
        return "(no crash log: cache dir not writable)"
