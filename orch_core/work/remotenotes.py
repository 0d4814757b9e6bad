"""Checkpoint notes shared through the team's remote (remote mode).

Each clone stamps ``refs/notes/orch`` locally; before its work is pushed the
remote's notes are fetched and merged in with git's ``cat_sort_uniq`` strategy
(every JSON line of both sides, once), and the result is pushed with a lease on
the notes it merged. Nothing is lost when several clones stamp at once: a
rejected lease fetches, merges and pushes again (docs/ARCHITECTURE.md, remote
mode). The work journal is never pushed: it stays per clone.
"""

from __future__ import annotations

import random
import time

from orch_core.errors import Busy
from orch_core.git import refs as gitrefs
from orch_core.git import remote as gitremote
from orch_core.state.context import Context
from orch_core.work import stamp

ATTEMPTS = 8


def sync(ctx: Context, remote: str) -> dict[str, object]:
    """Merge the remote's notes into this clone's and push the union; raises
    RemoteUnreachable, or Busy when the notes kept moving."""
    for _ in range(ATTEMPTS):
        with stamp.notes_lock(ctx):
            theirs = gitremote.fetch_notes(ctx.repo, remote, stamp.NOTES_REF)
            ours = gitrefs.read_ref_file(ctx.repo.common_dir, stamp.NOTES_REF)
            if theirs is not None and theirs != ours and not gitremote.merge_notes(
                    ctx.repo, stamp.NOTES_REF, theirs):
                return {"pushed": False, "warning": "the remote's notes could not be merged"}
            ours = gitrefs.read_ref_file(ctx.repo.common_dir, stamp.NOTES_REF)
        if ours is None or ours == theirs:
            return {"pushed": False, "notes": ours}
        res = gitremote.push(ctx.repo, remote,
                             [gitremote.Update(stamp.NOTES_REF, ours, theirs)])
        if res.refused:
            raise gitremote.refused_error(res)
        if res.ok:
            return {"pushed": True, "notes": ours}
        time.sleep(random.uniform(0.005, 0.05))
    raise Busy(f"{stamp.NOTES_REF} kept moving on {remote}", hint="push again")
