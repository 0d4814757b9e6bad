"""The event feed and the monitor: how soon a lock is seen, and what a monitor costs.

* event latency: a lock acquired in process (the call returned: its event is
  committed) until `orch-hooks events --follow --json` prints its line;
* monitor update latency: the same lock until the monitor's server-sent-event
  stream delivers an overview that holds it;
* monitor memory: resident set size of `orch-hooks monitor` serving 10 live
  stream viewers, and with none (the baseline of the same run).

Budgets (docs/ARCHITECTURE.md, "Performance budgets"): both latencies p50 < 1 s.
"""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ORCH, Figure, figure, make_repo, ms, orch, percentile, report, workdir


class Lines:
    """Lines of a child's stdout, read without blocking past a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, timeout: float = 30.0) -> bytes:
        import os

        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError("no line")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EOFError("the process ended")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line


class Stream:
    """One server-sent-event viewer of the monitor, on a raw socket."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        self.buf = b""

    def overview(self) -> dict[str, Any]:
        while True:
            if b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                data = [ln[6:] for ln in block.split(b"\n") if ln.startswith(b"data: ")]
                if data:
                    got: dict[str, Any] = json.loads(b"\n".join(data))
                    return got
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("stream closed")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main(rounds: int = 20, viewers: int = 10) -> dict[str, Any]:
    from orch_core.api import dispatch as api
    from orch_core.state.context import Context

    with workdir("orch-bench-team-") as base:
        repo = base / "repo"
        repo.mkdir()
        make_repo(repo, 50)
        orch(repo, "install")
        sid = json.loads(orch(repo, "session", "open", "--owner", "bench", "--json"))[
            "session_id"]
        ctx = Context(cwd=repo, env={}, one_shot=False)
        follow = subprocess.Popen([ORCH, "events", "--follow", "--json", "--kind",
                                   "lock.acquire", "--since", "0"], cwd=repo,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        monitor = subprocess.Popen([ORCH, "monitor", "--port", "0"], cwd=repo,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            feed = Lines(follow)
            url = re.search(rb"http://([\d.]+):(\d+)/", Lines(monitor).next())
            assert url is not None
            host, port = url.group(1).decode(), int(url.group(2))
            time.sleep(0.5)
            rss_idle = _rss_kib(monitor.pid)
            stream = Stream(host, port)
            stream.overview()
            ev_lat: list[float] = []
            mon_lat: list[float] = []
            for i in range(rounds):
                path = f"bench/{i}/"
                api.call(ctx, "lock.acquire", {"paths": [path], "session": sid})
                t0 = time.perf_counter()
                seen: dict[str, float] = {}
                # Whichever comes first is read first: the two are timed independently.
                while len(seen) < 2:
                    waiting: list[Any] = [feed.fd, stream.sock]
                    ready = [x for x, buffered in zip(waiting, (b"\n" in feed.buf,
                                                                b"\n\n" in stream.buf),
                                                      strict=True) if buffered]
                    ready = ready or select.select(waiting, [], [], 30)[0]
                    if not ready:
                        raise TimeoutError("neither the feed nor the stream saw the lock")
                    if feed.fd in ready and "feed" not in seen and \
                            json.loads(feed.next())["data"]["paths"] == [path]:
                        seen["feed"] = time.perf_counter() - t0
                    if stream.sock in ready and "stream" not in seen and \
                            any(lk["path"] == path for lk in stream.overview()["locks"]):
                        seen["stream"] = time.perf_counter() - t0
                ev_lat.append(seen["feed"])
                mon_lat.append(seen["stream"])
                api.call(ctx, "lock.release", {"targets": [path], "session": sid})
                time.sleep(0.05 + (i % 7) * 0.03)  # land anywhere in the poll period
            more = [Stream(host, port) for _ in range(viewers - 1)]
            for s in more:
                s.overview()
            api.call(ctx, "lock.acquire", {"paths": ["bench/all/"], "session": sid})
            for s in [stream, *more]:
                while not any(lk["path"] == "bench/all/" for lk in s.overview()["locks"]):
                    pass
            rss_busy = _rss_kib(monitor.pid)
            for s in [stream, *more]:
                s.close()
        finally:
            ctx.close()
            for proc in (follow, monitor):
                proc.terminate()
                proc.communicate(timeout=10)
    ev50, mon50 = percentile(ev_lat, 50), percentile(mon_lat, 50)
    figs: list[Figure] = [
        figure("events --follow sees a lock, p50", ms(ev50), "ms", "< 1000 ms", ev50 < 1.0),
        figure("events --follow sees a lock, max", ms(max(ev_lat)), "ms"),
        figure("monitor stream delivers a lock, p50", ms(mon50), "ms", "< 1000 ms",
               mon50 < 1.0),
        figure("monitor stream delivers a lock, max", ms(max(mon_lat)), "ms"),
        figure("monitor RSS, no viewer", rss_idle / 1024, "MiB"),
        figure(f"monitor RSS, {viewers} stream viewers", rss_busy / 1024, "MiB"),
    ]
    return report("event feed and monitor", figs)


if __name__ == "__main__":
    main()
