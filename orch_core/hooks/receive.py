"""The server-side hook of a bare repository: pre-receive and post-receive.

Installed by ``orch-hooks server install`` behind a shell shim
(hooks/server-pre-receive.sh) that starts Python only when a push involves
``refs/orch/*``, the notes, a protected branch, or a path the lock index says
someone may hold. The rules are the clients' own: the lock rule of
``locks/table.py``, the queue of ``merge/queue.py``. One line per refusal
(docs/ARCHITECTURE.md, "The server hook").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from orch_core.git import remote as gitremote
    from orch_core.hooks.receivecheck import post_receive, pre_receive, read_updates

    hook = argv[0] if argv else ""
    repo = gitremote.bare_repo(Path(os.environ.get("GIT_DIR") or ".").resolve())
    updates = read_updates(sys.stdin.read())
    env = dict(os.environ)
    if hook == "pre-receive":
        try:
            refusals = pre_receive(repo, updates, env)
        except Exception as e:  # fail closed, and say so in one line
            refusals = [f"orch-hooks server hook failed ({type(e).__name__}: {e}); "
                        "nothing was accepted; tell the server's admin"]
        for line in refusals:
            sys.stderr.write(f"orch-hooks: {line}\n")
        return 1 if refusals else 0
    if hook == "post-receive":
        post_receive(repo, updates)
        return 0
    sys.stderr.write(f"orch-hooks: unknown server hook {hook!r}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
