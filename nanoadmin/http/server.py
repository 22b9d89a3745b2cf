"""The listener: serve an app until SIGTERM, SIGINT or /ctrl/stop, then drain and return.

Also what aiohttp's HTTP layer needs to answer malformed requests in JSON and log them in one
line, and the count of requests in flight that a stop waits for.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_protocol import RequestHandler

from nanoadmin.appkeys import IDENTITY_KEY, IN_FLIGHT_KEY, RUNTIME_KEY
from nanoadmin.errors import UNKNOWN_MISTAKE, coded_body
from nanoadmin.http.limits import LISTEN_BACKLOG, SHUTDOWN_TIMEOUT
from nanoadmin.http.responses import dumps

logger = logging.getLogger("nanoadmin")
http_logger = logging.getLogger("nanoadmin.http")
_QUOTED = re.compile(r"""b?['"]""")


class InFlight:
    """Requests admitted and not yet answered, so that a stop can wait for them.

    Admission changes ``count`` by plain arithmetic (a method call each way would cost more than
    the rest of admission) and calls :meth:`wake` after each answer while a stop is ``draining``.
    """

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()

    def wake(self) -> None:
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no request is in flight, False when ``timeout`` passed first."""
        self.draining = True
        deadline = time.monotonic() + timeout
        while self.count:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), deadline - time.monotonic())
            except TimeoutError:
                return self.count == 0
        return True


class JsonErrorRequestHandler(RequestHandler):
    """Bad request lines, header bytes or sizes: a JSON body (D7) and one log line, no traceback."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        # The offending bytes, which may hold a credential, come quoted (a repr) after the
        # reason, or on the lines below it: keep what stands before either.
        text = (message or str(exc or "") or "error").strip()
        first_line = text.splitlines()[0] if text else ""
        reason = _QUOTED.split(first_line, maxsplit=1)[0].rstrip(" :.") or "error"
        if status >= 500:
            http_logger.error("internal error for %s: %s", request.remote, reason)
            reason = "internal error"
        else:
            http_logger.warning("malformed HTTP request from %s: %s", request.remote, reason)
        response = web.Response(
            status=status,
            body=dumps(coded_body(UNKNOWN_MISTAKE, reason)),
            content_type="application/json",
        )
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """web.AppRunner whose connections use JsonErrorRequestHandler."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        return JsonErrorServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **kwargs,
        )


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


def run(app: web.Application) -> None:
    """Serve ``app`` on a new event loop (see :func:`new_event_loop`) until it stops."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(app))


async def serve(app: web.Application) -> None:
    """Serve until asked to stop; in-flight requests finish before this returns."""
    runtime, in_flight = app[RUNTIME_KEY], app[IN_FLIGHT_KEY]
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
        logger.info("stopping: finishing %d in-flight requests", in_flight.count)
        # Stop accepting first; aiohttp's own shutdown would drop bodies still arriving.
        await site.stop()
        if not await in_flight.wait_idle(SHUTDOWN_TIMEOUT):
            logger.warning("stopping with %d requests unfinished", in_flight.count)
    finally:
        await runner.cleanup()
