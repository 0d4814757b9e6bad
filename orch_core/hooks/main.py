"""Python side of the hook shims: run as ``python -m orch_core.hooks.main HOOK ARGS``.

Only the standard library and light orch_core modules are imported here; the
commit path must not pay for pygit2 or click. Each hook returns an exit code;
post-checkout and post-commit never fail the git command.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from orch_core import clock
from orch_core.errors import OrchError, log_bug
from orch_core.hooks.common import say

# hook -> (module, function): a hook imports only its own module.
HOOKS: dict[str, tuple[str, str]] = {
    "pre-commit": ("orch_core.hooks.commit", "pre_commit"),
    "post-commit": ("orch_core.hooks.commit", "post_commit"),
    "post-rewrite": ("orch_core.hooks.commit", "post_rewrite"),
    "pre-rebase": ("orch_core.hooks.commit", "pre_rebase"),
    "post-checkout": ("orch_core.hooks.checkout", "post_checkout"),
    "pre-push": ("orch_core.hooks.push", "pre_push"),
    "reference-transaction": ("orch_core.hooks.push", "reference_transaction"),
    "sync": ("orch_core.hooks.push", "sync"),
}


NEVER_FAIL = {"post-commit", "post-checkout", "post-rewrite", "sync"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in HOOKS:
        say(f"usage: python -m orch_core.hooks.main {{{','.join(HOOKS)}}} [ARGS]")
        return 2
    hook, rest = argv[0], argv[1:]
    try:
        import importlib

        module, name = HOOKS[hook]
        run: Callable[[list[str]], int] = getattr(importlib.import_module(module), name)
        return run(rest)
    except OrchError as e:
        say(f"orch-hooks ({hook}): {e.message}")
        if e.hint:
            say(f"  hint: {e.hint}")
        return 0 if hook in NEVER_FAIL else 1
    except Exception as e:  # a bug must not block a checkout or lose a commit silently
        _log_bug(hook, e)
        return 0 if hook in NEVER_FAIL else 3


def _log_bug(hook: str, e: BaseException) -> None:
    path = log_bug(f"{clock.iso(clock.now())} hook {hook}", e)
    say(f"orch-hooks ({hook}): internal error ({type(e).__name__}: {e}); details in {path}")


if __name__ == "__main__":
    sys.exit(main())
