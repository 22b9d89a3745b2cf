"""The listener: serve an app until SIGTERM, SIGINT or /ctrl/stop, then drain and return.

Also what aiohttp's HTTP layer needs to answer malformed requests in JSON and log them in one
line, and the count of requests in flight that a stop waits for.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import re
import resource
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_writer import StreamWriter
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from nanoadmin.appkeys import IDENTITY_KEY, IN_FLIGHT_KEY, RUNTIME_KEY
from nanoadmin.errors import UNKNOWN_MISTAKE, coded_body
from nanoadmin.http.limits import (
    HEAD_READ_TIMEOUT,
    LINGER_TIMEOUT,
    LISTEN_BACKLOG,
    MAX_HEAD_BYTES,
    RESERVED_FILES,
    SHUTDOWN_TIMEOUT,
    TRIM_AFTER_CONNECTIONS,
    WANTED_OPEN_FILES,
)
from nanoadmin.http.responses import dumps

logger = logging.getLogger("nanoadmin")
# Shown at any log level (nanoadmin.logs keeps it at INFO).
BANNER = logging.getLogger("nanoadmin.banner")
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
        self.idle_connections = asyncio.Event()

    def wake(self) -> None:
        if self.count == 0:
            self.idle_connections.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no request is in flight, False when ``timeout`` passed first."""
        self.draining = True
        deadline = time.monotonic() + timeout
        while self.count:
            self.idle_connections.clear()
            try:
                await asyncio.wait_for(self.idle_connections.wait(), deadline - time.monotonic())
            except TimeoutError:
                return self.count == 0
        return True


def _raw_answer(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP answer with a JSON body, for when there is no request object to answer."""
    body = dumps(coded_body(UNKNOWN_MISTAKE, message))
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_HEAD_TOO_LARGE = _raw_answer(
    431, "Request Header Fields Too Large", f"request head larger than {MAX_HEAD_BYTES} bytes"
)
_HEAD_TOO_SLOW = _raw_answer(
    408, "Request Timeout", f"request head not received within {HEAD_READ_TIMEOUT:g} s"
)
_TOO_MANY_CONNECTIONS = _raw_answer(
    503, "Service Unavailable", "too many connections are busy; try again"
)


def release_free_memory() -> None:
    """glibc's malloc_trim: hand freed heap memory back to the system; a no-op elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ConnectionGuard:
    """The open connections of one listener by what each is doing, the deadline of a head, and
    what happens at the cap.

    States: silent (open, nothing sent yet), sending (a head begun, not finished), busy (a
    request in progress: in no dict), idle (answered, waiting for a next request, or for the
    rest of a body nobody will read). Each state is a dict in the order connections entered it,
    so that the oldest is first: at the cap a new connection sheds the longest-idle one, else
    the head that began first, else the oldest silent one; when every connection is busy, the
    new one is refused. Once a second, silent and sending connections older than
    HEAD_READ_TIMEOUT are answered 408 and closed (the oldest first, so the sweep stops at the
    first young one): no timer a request."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.open = 0
        self.shed = 0
        self.refused = 0
        self.idle_connections: dict[GuardedRequestHandler, None] = {}
        self._sending: dict[GuardedRequestHandler, None] = {}
        self._silent: dict[GuardedRequestHandler, None] = {}
        self._peak = 0
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return self.open

    def admit(self, handler: GuardedRequestHandler) -> bool:
        if self.open >= self.max_connections:
            victim = self._victim()
            if victim is None:
                self.refused += 1
                return False
            self.shed += 1
            victim.shed()
        self.open += 1
        self._peak = max(self._peak, self.open)
        self.move(handler, self._silent)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(1.0, self._sweep)
        return True

    def move(
        self, handler: GuardedRequestHandler, state: dict[GuardedRequestHandler, None] | None
    ) -> None:
        """``handler`` leaves its state for ``state`` (None: busy, or gone)."""
        if handler.state is not None:
            del handler.state[handler]
        if state is not None:
            state[handler] = None
        handler.state = state

    def sending(self, handler: GuardedRequestHandler) -> None:
        """The first bytes of a head have come, the head has not."""
        self.move(handler, self._sending)

    def forget(self, handler: GuardedRequestHandler, *, admitted: bool) -> None:
        self.move(handler, None)
        if not admitted:
            return
        self.open -= 1
        if self._peak >= TRIM_AFTER_CONNECTIONS and self.open <= self._peak // 4:
            # Most of a crowd of connections has gone: give the memory their buffers took back
            # to the system (the C allocator keeps freed memory for reuse otherwise).
            self._peak = self.open
            release_free_memory()

    def close_idle(self) -> None:
        """Close every connection with no request in progress (a stop need not wait for them)."""
        for handler in list(self.idle_connections) + list(self._silent) + list(self._sending):
            handler.force_close()

    def _victim(self) -> GuardedRequestHandler | None:
        for state in (self.idle_connections, self._sending, self._silent):
            if state:
                victim = next(iter(state))
                self.move(victim, None)
                return victim
        return None

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        late = loop.time() - HEAD_READ_TIMEOUT
        for state in (self._silent, self._sending):
            expired = []
            for handler in state:
                if handler.since > late:
                    break
                expired.append(handler)
            for handler in expired:
                self.move(handler, None)
                handler.head_too_slow()
        self._sweeper = loop.call_later(1.0, self._sweep) if self.open else None


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler held to the bounds in ``limits``: the bytes and the time of
    a request head, and the listener's connection cap; and answering malformed requests with
    a JSON body (D7) and one log line, no traceback."""

    __slots__ = ("_guard", "_admitted", "_head_bytes", "_body", "_discarding", "since", "state")

    def __init__(self, manager: web.Server, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._admitted = False
        # Bytes of a head that has not completed yet.
        self._head_bytes = 0
        # The body of the last request read, while it is still arriving.
        self._body: StreamReader | None = None
        # Answered and closing: what still arrives is thrown away.
        self._discarding = False
        # The guard's dict of the state the connection is in (None: busy), since when (loop time).
        self.state: dict[GuardedRequestHandler, None] | None = None
        self.since = 0.0

    # -- the connection cap -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.since = self._loop.time()
        self._admitted = self._guard.admit(self)
        if not self._admitted:
            http_logger.warning("refused a connection: all %d are busy", len(self._guard))
            self._answer_and_close(_TOO_MANY_CONNECTIONS)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._guard.forget(self, admitted=self._admitted)
        body = self._body
        if body is not None and not body.is_eof():
            # aiohttp would go on waiting for the rest of an unread body (UNREAD_BODY_TIMEOUT)
            # after its client has gone; there is no more of it to come.
            body.feed_eof()
        super().connection_lost(exc)

    def shed(self) -> None:
        """Closed to make room for a new connection."""
        http_logger.debug("closing a connection to make room for a new one")
        self.force_close()

    # -- the request head -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._discarding or self._force_close or self._close:
            return
        body = self._body
        if body is not None and not body.is_eof():
            super().data_received(data)  # a body, after its head: held to max_body by aiohttp
            return
        requests = self._request_count
        super().data_received(data)
        if self._request_count != requests:  # the usual case: a whole head in one read
            self._head_bytes = 0
            state = self.state
            if state is not None:  # busy now (the guard's move, inline: it is every request)
                del state[self]
                self.state = None
            payload = self._messages[-1][1] if self._messages else None
            self._body = payload if isinstance(payload, StreamReader) else None
            return
        # No head completed: what arrived is buffered, unparsed, until one does.
        if self._head_bytes == 0:
            self.since = self._loop.time()
            self._guard.sending(self)
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            http_logger.warning("request head over %d bytes; connection closed", MAX_HEAD_BYTES)
            self._answer_and_close(_HEAD_TOO_LARGE)

    def log_access(
        self, request: web.BaseRequest, response: web.StreamResponse, time_: float | None
    ) -> None:
        # aiohttp calls this once an answer is written, whether or not it logs it. Both steps
        # inline (the guard's idle() and aiohttp's own log_access): this runs every request.
        if self.state is None and not self._messages and not self._head_bytes:
            idle = self._guard.idle_connections
            idle[self] = None
            self.state = idle
        if self._logging_enabled and self.access_logger is not None and time_ is not None:
            self.access_logger.log(request, response, self._loop.time() - time_)

    def head_too_slow(self) -> None:
        http_logger.warning(
            "request head not received in %gs; connection closed", HEAD_READ_TIMEOUT
        )
        self._answer_and_close(_HEAD_TOO_SLOW)

    def _answer_and_close(self, answer: bytes) -> None:
        """Send ``answer`` and close, after reading (and throwing away) what the client still
        sends for a moment: closing with unread bytes would reset the connection, and the
        client would lose the answer."""
        transport = self.transport
        # force_close() without closing the transport yet.
        self._force_close = self._discarding = True
        if self._waiter is not None:
            self._waiter.cancel()
        if transport is None:
            return
        transport.write(answer)
        transport.resume_reading()
        self._loop.call_later(LINGER_TIMEOUT, transport.close)

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


class GuardedServer(web.Server):
    def __init__(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, guard=self.guard, loop=self._loop, **self._kwargs)


async def _drop_server_header(headers: CIMultiDict[str]) -> None:
    headers.popall(hdrs.SERVER, None)


RequestFactory = Callable[..., web.BaseRequest]


def _without_server_header(make_request: RequestFactory) -> RequestFactory:
    """``make_request``, whose requests' answers carry no ``Server`` header: NanoMQ sends none
    (nanomq/nanomq web_server.c rest_job_cb), and aiohttp's would name it and its version.

    aiohttp adds the header to every answer it prepares, errors of its own included, just
    before writing the head; the writer's ``on_headers_sent`` hook (what aiohttp's client uses
    to trace headers) sees the head last, so it is dropped there."""

    def request_factory(
        message: Any, payload: Any, protocol: Any, writer: StreamWriter, task: Any
    ) -> web.BaseRequest:
        writer._on_headers_sent = _drop_server_header
        return make_request(message, payload, protocol, writer, task)

    return request_factory


class AppRunner(web.AppRunner):
    """web.AppRunner whose connections are GuardedRequestHandlers and whose answers carry no
    ``Server`` header."""

    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = ConnectionGuard(max_connections)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        app_handler = server.request_handler

        # No route can match a target without a leading slash (OPTIONS *, CONNECT host:port),
        # and aiohttp would answer it in plain text. A plain function: the usual request
        # costs one call, not a coroutine frame.
        def request_handler(request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
            target = request.raw_path
            if target[:1] == "/" or "://" in target[:8]:  # origin or absolute form
                return app_handler(request)
            return _no_route(request)

        return GuardedServer(
            request_handler,
            request_factory=_without_server_header(server.request_factory),
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            guard=self.guard,
            **kwargs,
        )


async def _no_route(request: web.BaseRequest) -> web.StreamResponse:
    body = coded_body(UNKNOWN_MISTAKE, f"no such path: {request.raw_path[:80]!r}")
    return web.Response(status=404, body=dumps(body), content_type="application/json")


def open_files_limit() -> int:
    """Raise the soft limit on open files towards the hard one (WANTED_OPEN_FILES at most);
    the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return WANTED_OPEN_FILES if soft == resource.RLIM_INFINITY else soft


class AccessLogger(AbstractAccessLogger):
    """One line a request: never a header, so never a credential; the auth scheme instead."""

    @property
    def enabled(self) -> bool:
        # aiohttp asks once a connection; when INFO is off (--log-level warning) it then skips
        # log() and the clock reads around each request, as its own AccessLogger does.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        identity = request.get(IDENTITY_KEY)
        scheme = identity.scheme if identity is not None else "-"
        fields = {
            "remote": request.remote,
            "method": request.method,
            "target": request.raw_path,
            "status": response.status,
            "bytes": response.body_length,
            "duration_ms": round(time * 1000, 1),
            "auth": scheme,
        }
        self.logger.info(
            '%s "%s %s" %d %d %.1fms auth=%s',
            request.remote,
            request.method,
            request.raw_path,
            response.status,
            response.body_length,
            time * 1000,
            scheme,
            extra={"access": fields},
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


async def serve(
    app: web.Application,
    *,
    sock: socket.socket | None = None,
    signals: bool = True,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve until asked to stop; in-flight requests finish before this returns. ``sock``: a
    bound socket to serve on instead of the configured address; ``signals``: whether SIGTERM,
    SIGINT and SIGHUP are handled (only a main thread can); ``ready``: called once serving."""
    runtime, in_flight = app[RUNTIME_KEY], app[IN_FLIGHT_KEY]
    http = runtime.settings.http_server
    wanted = runtime.settings.nanoadmin.max_connections
    max_connections = min(wanted, open_files_limit() - RESERVED_FILES)
    if max_connections < wanted:
        logger.warning("open files limit allows %d connections, not %d", max_connections, wanted)
    runner = AppRunner(
        app,
        max_connections=max_connections,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("nanoadmin.access"),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        handle_signals=False,
    )
    await runner.setup()
    try:
        site: web.BaseSite
        if sock is None:
            site = web.TCPSite(
                runner, http.bind_host, http.port, reuse_address=True, backlog=LISTEN_BACKLOG
            )
            host, port = http.bind_host, http.port
        else:
            site = web.SockSite(runner, sock)
            host, port = sock.getsockname()[:2]
        await site.start()
        if signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, runtime.stop_event.set)
            loop.add_signal_handler(signal.SIGHUP, runtime.reload_logged)
        BANNER.info(
            "serving NanoMQ's /api/v4 on http://%s:%d (auth: %s)",
            host,
            port,
            runtime.strategy.name,
        )
        if ready is not None:
            ready()
        await runtime.stop_event.wait()
        BANNER.info("stopping: finishing %d in-flight requests", in_flight.count)
        # Stop accepting first; aiohttp's own shutdown would drop bodies still arriving.
        await site.stop()
        if not await in_flight.wait_idle(SHUTDOWN_TIMEOUT):
            logger.warning("stopping with %d requests unfinished", in_flight.count)
        runner.guard.close_idle()
    finally:
        await runner.cleanup()
