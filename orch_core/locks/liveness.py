"""Dead sessions and the hook index: a heartbeat's later deadline reaches the index
before the database (docs/ARCHITECTURE.md, "Dead sessions")."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from orch_core.locks import storage
from orch_core.locks.export import EXPORT, write_export
from orch_core.seqfile import held
from orch_core.state.context import Context

Publish = Callable[[Mapping[str, float]], None]


@contextlib.contextmanager
def deadline_change(ctx: Context) -> Iterator[Publish]:
    """Hold the index writers' flock while a session's deadline moves.

    ``publish({session: new deadline})`` rewrites locks.idx with the later
    deadline; the caller then commits it to the database, still under the flock.
    Every index writer reads the deadlines under that flock, so none can put an
    older (earlier) deadline back, and the awk never thinks a live session dead.
    """
    path = ctx.repo.orch_dir / EXPORT
    if not path.exists():  # no index, nothing to keep in step (held() would create one)
        yield lambda later: None
        return
    with held(path):
        def publish(later: Mapping[str, float]) -> None:
            snap = storage.snapshot(ctx)
            if any(lk.session in later for lk in snap.locks):
                write_export(ctx, snap.tip, snap.locks, later)

        yield publish
