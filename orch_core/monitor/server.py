"""`orch-hooks monitor`: Starlette app served by Uvicorn on a socket we bind ourselves.

Routes: ``/`` the page, ``/static/*`` its script and style (shipped in the
package, no CDN), ``/api/overview`` the overview as JSON (team/overview.py, the
same as `orch-hooks status --json`), ``/api/stream`` server-sent events: an
``overview`` event with the whole overview at once and after every change.
Bound to 127.0.0.1 unless ``--host`` names another address (then with a
warning: the page has no authentication).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import sys
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from orch_core.errors import Refused, UsageError
from orch_core.monitor.watch import Watcher
from orch_core.state.context import Context

DEFAULT_HOST = "127.0.0.1"
KEEPALIVE = 15.0
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a clear refusal when the port is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"cannot resolve --host {host!r}: {e.strerror}",
                         code="bad_host") from e
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise Refused(f"port {port} on {host} is already in use", code="port_in_use",
                          hint="pick another with --port P (--port 0 takes any free "
                               "port)") from e
        raise Refused(f"cannot listen on {host}:{port}: {e.strerror}",
                      code="bind_failed", hint="pick another --host or --port") from e
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _static(name: str) -> str:
    return resources.files("orch_core.monitor").joinpath("static", name).read_text()


def app(watcher: Watcher, should_exit: Any = lambda: False, loopback: bool = True) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response, StreamingResponse
    from starlette.routing import Route

    page = _static("index.html")
    files = {name: _static(name) for name in STATIC}

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            return Response("not found", status_code=404)
        return Response(files[name], media_type=STATIC[name],
                        headers={"Cache-Control": "no-store"})

    async def overview(request: Request) -> Response:
        text, _ = await asyncio.to_thread(watcher.refresh)
        return Response(text, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    async def stream(request: Request) -> Response:
        queue = watcher.subscribe()

        async def events() -> AsyncIterator[str]:
            try:
                yield f"retry: 1000\nevent: overview\ndata: {watcher.latest}\n\n"
                while not should_exit():
                    try:
                        text = await asyncio.wait_for(queue.get(), KEEPALIVE)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: overview\ndata: {text}\n\n"
            finally:
                watcher.unsubscribe(queue)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    middleware = []
    if loopback:  # a page on localhost answers only to localhost names (DNS rebinding)
        middleware.append(Middleware(TrustedHostMiddleware,
                                     allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"]))
    return Starlette(routes=[Route("/", index), Route("/static/{name}", static),
                             Route("/api/overview", overview), Route("/api/stream", stream)],
                     middleware=middleware)


def serve(ctx: Context, host: str | None, port: int) -> int:
    import uvicorn

    where = host or DEFAULT_HOST
    loopback = is_loopback(where)
    if not loopback:
        sys.stderr.write(f"orch-hooks: warning: serving on {where}, not on loopback: anyone who "
                         "can reach it sees the sessions, locks, queue and mail of this "
                         "repository (the page has no authentication)\n")
    ctx.store.db_version()  # a damaged or missing state is an error before we listen
    sock = bind(where, port)
    watcher = Watcher(ctx)
    watcher.start()
    holder: dict[str, Any] = {}
    application = app(watcher, lambda: bool(holder["server"].should_exit), loopback)
    config = uvicorn.Config(application, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=1, access_log=False)
    server = uvicorn.Server(config)
    holder["server"] = server
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"orch-hooks monitor: http://{shown}:{bound[1]}/  (Ctrl-C stops)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        watcher.stop()
        sock.close()
    return 0
