"""Forwarder for hook shims written by an older `orch-hooks install` (`-m orch_core.hookmain`).

Current shims run `orch_core.hooks.main`; `orch-hooks install` rewrites old ones.
"""

import sys

from orch_core.hooks.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
