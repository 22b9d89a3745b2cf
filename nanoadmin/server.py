"""Run an app on its configured address until SIGTERM, SIGINT or /ctrl/stop; drain, then return."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from nanoadmin.keys import IDENTITY_KEY, RUNTIME_KEY
from nanoadmin.protocol import AppRunner

logger = logging.getLogger("nanoadmin")
SHUTDOWN_TIMEOUT = 10.0
# aiohttp's default is 128: a burst of new connections (a test suite opening 200 at once) past
# it has SYNs dropped, and a client then waits a second or three for the kernel to retry.
LISTEN_BACKLOG = 1024


class AccessLogger(AbstractAccessLogger):
    """One line a request: never a header, so never a credential; the auth scheme instead."""

    @property
    def enabled(self) -> bool:
        # aiohttp asks once a connection; when INFO is off (--log-level warning) it then skips
        # log() and the clock reads around each request, as its own AccessLogger does.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        identity = request.get(IDENTITY_KEY)
        self.logger.info(
            '%s "%s %s" %d %d %.1fms auth=%s',
            request.remote,
            request.method,
            request.raw_path,
            response.status,
            response.body_length,
            time * 1000,
            identity.scheme if identity is not None else "-",
        )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where uvloop is installed, else asyncio's own.

    uvloop does the socket and scheduling work under each request in C: bench/run.py measures
    it (and runs its bare-aiohttp baseline on the same loop).
    """
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def event_loop_name() -> str:
    """Which loop :func:`run` uses: "uvloop" or "asyncio"."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run(app: web.Application) -> None:
    """Serve ``app`` on a new event loop (see :func:`new_event_loop`) until it stops."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(app))


async def serve(app: web.Application) -> None:
    """Serve until asked to stop; in-flight requests finish before this returns."""
    runtime = app[RUNTIME_KEY]
    http = runtime.settings.http_server
    runner = AppRunner(
        app,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("nanoadmin.access"),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        handle_signals=False,
    )
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, http.bind_host, http.port, reuse_address=True, backlog=LISTEN_BACKLOG
        )
        await site.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runtime.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, runtime.reload_logged)
        logger.info(
            "serving NanoMQ's /api/v4 on http://%s:%d (auth: %s)",
            http.bind_host,
            http.port,
            runtime.strategy.name,
        )
        await runtime.stop_event.wait()
        logger.info("stopping: finishing %d in-flight requests", runtime.in_flight.count)
        # Stop accepting first; aiohttp's own shutdown would drop bodies still arriving.
        await site.stop()
        if not await runtime.in_flight.wait_idle(SHUTDOWN_TIMEOUT):
            logger.warning("stopping with %d requests unfinished", runtime.in_flight.count)
    finally:
        await runner.cleanup()
