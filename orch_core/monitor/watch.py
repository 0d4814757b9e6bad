"""One watcher per monitor: rebuilds the overview when the state changes and hands
it to every subscribed viewer.

A change is a new SQLite ``data_version`` (every state change commits an event),
a moved ``refs/orch/*`` tip (mail, locks, queue written by another clone's
fetch), or REFRESH_SECONDS passing (heartbeats expire without an event). The
watcher polls those every POLL seconds in its own thread; viewers never touch
the database, so ten viewers cost one overview per change.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from orch_core.git import refs as gitrefs
from orch_core.state.context import Context
from orch_core.team import events, overview

POLL = 0.1
REFS = ("refs/orch/locks", "refs/orch/queue", "refs/orch/mail")


class Watcher:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.latest = "{}"
        self.key: tuple[Any, ...] = ()
        self.built_at = 0.0
        self.subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()
        self.sub_lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def _key(self) -> tuple[Any, ...]:
        common = self.ctx.repo.common_dir
        return (events.data_version(self.ctx), self.ctx.store.db_version(),
                *(gitrefs.read_ref_file(common, r) for r in REFS))

    def refresh(self, force: bool = False) -> tuple[str, bool]:
        """The overview as JSON, rebuilt if anything changed; (json, changed)."""
        with self.lock:
            key = self._key()
            stale = time.monotonic() - self.built_at >= overview.REFRESH_SECONDS
            if key == self.key and not force and not stale:
                return self.latest, False
            # Recorded first: a build that fails is tried again on the next change (or
            # after REFRESH_SECONDS), not on every poll.
            self.key, self.built_at = key, time.monotonic()
            text = json.dumps(overview.build(self.ctx), sort_keys=True, default=str)
            changed = text != self.latest
            self.latest = text
            return text, changed

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                text, changed = self.refresh()
            except Exception as e:  # a damaged state: show it once, keep watching
                text = json.dumps({"error": f"{type(e).__name__}: {e}"})
                changed, self.latest = text != self.latest, text
            if changed:
                self._publish(text)
            self.stopping.wait(POLL)

    def _publish(self, text: str) -> None:
        with self.sub_lock:
            subs = list(self.subscribers)
        for loop, q in subs:
            loop.call_soon_threadsafe(q.put_nowait, text)

    def subscribe(self) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue()
        with self.sub_lock:
            self.subscribers.add((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue[str]) -> None:
        with self.sub_lock:
            self.subscribers = {s for s in self.subscribers if s[1] is not q}

    def start(self) -> None:
        self.refresh(force=True)
        self.thread = threading.Thread(target=self._loop, name="orch-monitor-watch",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=2)
